#include "tests/fakeapi/kubelet_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/authz.h"
#include "tests/fakeapi/kubelet_conn.h"
#include "tests/fakeapi/query_params.h"
#include "tests/fakeapi/resource_store.h"
#include "tests/fakeapi/resources.h"

namespace cubelet::fakeapi {

using nlohmann::json;

namespace {

constexpr char kJson[] = "application/json";
constexpr char kClientCertCn[] = "kube-apiserver-kubelet-client";
constexpr char kClientCertOrg[] = "system:masters";
constexpr size_t kMaxErrorBody = 50000;  // upstream reads at most this of an error answer

using Params = std::vector<std::pair<std::string, std::string>>;

Params parseParams(const std::string& query) { return queryParams(query); }

// The first value of `key` (as the API server's query decoding takes it).
std::optional<std::string> first(const Params& p, const std::string& key) {
  for (const auto& [k, v] : p) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::vector<std::string> all(const Params& p, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : p) {
    if (k == key) out.push_back(v);
  }
  return out;
}

// Convert_Slice_string_To_bool: absent, "0" and "false" (any case) are false.
bool queryBool(const Params& p, const std::string& key) {
  auto v = first(p, key);
  return v && *v != "0" && !absl::EqualsIgnoreCase(*v, "false");
}

// Go's url.QueryEscape.
std::string queryEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += absl::StrCat("%", absl::Hex(c, absl::kZeroPad2));
      std::transform(out.end() - 2, out.end(), out.end() - 2,
                     [](char ch) { return absl::ascii_toupper(ch); });
    }
  }
  return out;
}

// Go's url.Values.Encode: keys sorted, each key's values in order.
std::string encode(Params p) {
  std::stable_sort(p.begin(), p.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (const auto& [k, v] : p) parts.push_back(queryEscape(k) + "=" + queryEscape(v));
  return absl::StrJoin(parts, "&");
}

void sendStatus(HttpResponder& resp, const absl::Status& s) {
  resp.send(httpCode(s), kJson, statusObject(s).dump());
}

// A plain error (not an API status): upstream's ErrorToAPIStatus makes it a 500 with
// reason Unknown and the error text as the message.
absl::Status unknownError(const std::string& message) { return apiError(500, "", message); }

// The names of every container of a pod as podutil.VisitContainers orders them (init,
// regular, ephemeral).
std::vector<std::string> containerNames(const json& pod, bool regularOnly) {
  std::vector<std::string> names;
  const json spec = pod.value("spec", json::object());
  for (const char* field : {"initContainers", "containers", "ephemeralContainers"}) {
    if (regularOnly && std::string(field) != "containers") continue;
    const json list = spec.value(field, json::array());
    if (!list.is_array()) continue;
    for (const auto& c : list) {
      if (c.is_object()) names.push_back(c.value("name", ""));
    }
  }
  return names;
}

// validateContainer of pkg/registry/core/pod/strategy.go.
absl::StatusOr<std::string> validateContainer(const std::string& container, const json& pod,
                                              const std::string& podName) {
  if (container.empty()) {
    std::vector<std::string> regular = containerNames(pod, true);
    if (regular.size() == 1) return regular[0];
    if (regular.empty()) {
      return badRequest("a container name must be specified for pod " + podName);
    }
    return badRequest(absl::StrCat("a container name must be specified for pod ", podName,
                                   ", choose one of: [",
                                   absl::StrJoin(containerNames(pod, false), " "), "]"));
  }
  std::vector<std::string> names = containerNames(pod, false);
  if (std::find(names.begin(), names.end(), container) == names.end()) {
    return badRequest("container " + container + " is not valid for pod " + podName);
  }
  return container;
}

// path.Join("/", p) keeping a trailing slash (JoinPreservingTrailingSlash).
std::string cleanPath(const std::string& p) {
  std::vector<std::string> out;
  for (absl::string_view seg : absl::StrSplit(p, '/', absl::SkipEmpty())) {
    if (seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.emplace_back(seg);
  }
  std::string joined = "/" + absl::StrJoin(out, "/");
  if (absl::EndsWith(p, "/") && joined != "/") joined += "/";
  return joined;
}

// apiserver's forbiddenMessage.
absl::Status forbidden(const RequestAttributes& a, const std::string& reason) {
  std::string res = a.resource + "/" + a.subresource;
  std::string msg = "User \"" + a.user.name + "\" cannot " + a.verb + " resource \"" + res +
                    "\" in API group \"\"" +
                    (a.namespace_.empty() ? " at the cluster scope"
                                          : " in the namespace \"" + a.namespace_ + "\"") +
                    (reason.empty() ? "" : ": " + reason);
  return apiError(403, "Forbidden", a.resource + " \"" + a.name + "\" is forbidden: " + msg, a.name,
                  "", a.resource);
}

std::string verbFor(const std::string& method) {
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "get";  // GET, HEAD, OPTIONS
}

// The request target for a pod subresource, or an error Status.
struct PodRoute {
  std::string ns, pod, subresource;
};

std::optional<PodRoute> podRoute(const std::string& path) {
  std::vector<std::string> s = absl::StrSplit(path, '/');
  // "", api, v1, namespaces, ns, pods, name, sub
  if (s.size() != 8 || !s[0].empty() || s[1] != "api" || s[2] != "v1" || s[3] != "namespaces" ||
      s[5] != "pods" || s[4].empty() || s[6].empty()) {
    return std::nullopt;
  }
  if (s[7] != "log" && s[7] != "exec" && s[7] != "attach" && s[7] != "portforward") {
    return std::nullopt;
  }
  return PodRoute{s[4], s[6], s[7]};
}

// nodes/{name}/proxy[/rest]: the name and the rest ("" when none).
std::optional<std::pair<std::string, std::string>> nodeRoute(const std::string& path) {
  constexpr absl::string_view kPrefix = "/api/v1/nodes/";
  if (!absl::StartsWith(path, kPrefix)) return std::nullopt;
  absl::string_view rest = absl::string_view(path).substr(kPrefix.size());
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos || slash == 0) return std::nullopt;
  absl::string_view after = rest.substr(slash + 1);
  if (after != "proxy" && !absl::StartsWith(after, "proxy/")) return std::nullopt;
  return std::make_pair(std::string(rest.substr(0, slash)),
                        std::string(after.substr(absl::string_view("proxy").size())));
}

}  // namespace

KubeletProxy::KubeletProxy(ResourceStore& store, const TokenAuthenticator& tokens,
                           KubeletProxyOptions opts)
    : store_(store), tokens_(tokens), opts_(std::move(opts)) {}

KubeletProxy::~KubeletProxy() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

absl::StatusOr<std::unique_ptr<KubeletProxy>> KubeletProxy::create(Pki& pki, ResourceStore& store,
                                                                   const TokenAuthenticator& tokens,
                                                                   KubeletProxyOptions opts) {
  std::unique_ptr<KubeletProxy> p(new KubeletProxy(store, tokens, std::move(opts)));
  ASSIGN_OR_RETURN(p->clientCert_, pki.issueClientCert(kClientCertCn, {kClientCertOrg},
                                                       std::chrono::hours(24 * 365)));
  std::string error;
  p->ctx_ = makeClientContext(p->clientCert_, "", &error);
  if (p->ctx_ == nullptr) return absl::InternalError("kubelet proxy TLS setup: " + error);
  return p;
}

absl::Status KubeletProxy::setKubeletCertificateAuthority(const std::string& caPem) {
  std::string error;
  SSL_CTX* ctx = makeClientContext(clientCert_, caPem, &error);
  if (ctx == nullptr) return absl::InvalidArgumentError("kubelet proxy TLS setup: " + error);
  std::lock_guard lock(mu_);
  SSL_CTX_free(ctx_);
  ctx_ = ctx;
  return absl::OkStatus();
}

SSL_CTX* KubeletProxy::context() const {
  std::lock_guard lock(mu_);
  SSL_CTX_up_ref(ctx_);
  return ctx_;
}

void KubeletProxy::setNodeAddressOverride(const std::string& node, const std::string& host,
                                          int port) {
  std::lock_guard lock(mu_);
  overrides_[node] = NodeAddress{host, port};
}

void KubeletProxy::clearNodeAddressOverride(const std::string& node) {
  std::lock_guard lock(mu_);
  overrides_.erase(node);
}

std::vector<ProxiedRequest> KubeletProxy::requests() const {
  std::lock_guard lock(mu_);
  return records_;
}

void KubeletProxy::clearRequests() {
  std::lock_guard lock(mu_);
  records_.clear();
}

void KubeletProxy::record(ProxiedRequest r) {
  std::lock_guard lock(mu_);
  records_.push_back(std::move(r));
}

bool KubeletProxy::handles(const std::string& path) {
  return podRoute(path).has_value() || nodeRoute(path).has_value();
}

// pkg/kubelet/client GetConnectionInfo: the node's preferred address and kubelet port.
absl::StatusOr<KubeletProxy::NodeAddress> KubeletProxy::nodeBackend(const std::string& node) const {
  {
    std::lock_guard lock(mu_);
    auto it = overrides_.find(node);
    if (it != overrides_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(json obj, store_.get(*findResource("", "v1", "nodes"), "", node));
  const json status = obj.value("status", json::object());
  const json addresses = status.value("addresses", json::array());
  NodeAddress b;
  for (const std::string& type : opts_.preferredAddressTypes) {
    for (const auto& a : addresses) {
      if (a.is_object() && a.value("type", "") == type) {
        b.host = a.value("address", "");
        break;
      }
    }
    if (!b.host.empty()) break;
    if (type == "Hostname") {  // upstream falls back to the kubernetes.io/hostname label
      b.host = obj.value("metadata", json::object())
                   .value("labels", json::object())
                   .value("kubernetes.io/hostname", "");
      if (!b.host.empty()) break;
    }
  }
  if (b.host.empty()) {
    std::vector<std::string> known;
    for (const auto& a : addresses) {
      if (a.is_object()) known.push_back(a.value("type", "") + " " + a.value("address", ""));
    }
    return unknownError("no preferred addresses found; known addresses: [" +
                        (known.empty() ? "" : "{" + absl::StrJoin(known, "} {") + "}") + "]");
  }
  const json port = status.value("daemonEndpoints", json::object())
                        .value("kubeletEndpoint", json::object())
                        .value("Port", json());
  b.port =
      port.is_number_integer() && port.get<int>() > 0 ? port.get<int>() : opts_.defaultKubeletPort;
  return b;
}

void KubeletProxy::handle(const HttpRequest& req, HttpResponder& resp) {
  ProxiedRequest rec{req.method, req.path, req.query, "", "", "", 0};
  auto fail = [&](const absl::Status& s) {
    rec.code = httpCode(s);
    sendStatus(resp, s);
    record(rec);
  };
  // Authentication as ApiHandler does it.
  std::optional<UserInfo> user;
  if (req.peerVerified) user = userFromPeerCertificate(req.peerCert);
  const std::string authz = req.header("authorization");
  if (!user && absl::StartsWithIgnoreCase(authz, "bearer ")) {
    user = tokens_.authenticate(std::string(absl::StripAsciiWhitespace(authz.substr(7))));
  }
  if (!user) return fail(apiError(401, "Unauthorized", "Unauthorized"));
  rec.user = user->name;

  const Params q = parseParams(req.query);
  RequestAttributes attrs{*user, verbFor(req.method), "", "", "", "", "", "", ""};
  std::string target;  // path?query toward the kubelet
  std::string podNode;
  bool upgrade = false;
  auto pod = podRoute(req.path);
  if (pod) {
    attrs.resource = "pods";
    attrs.subresource = pod->subresource;
    attrs.namespace_ = pod->ns;
    attrs.name = pod->pod;
    const bool isLog = pod->subresource == "log";
    // log is GET only; exec, attach and portforward are GET or POST (ConnectMethods).
    if ((isLog && req.method != "GET") || (!isLog && req.method != "GET" && req.method != "POST")) {
      return fail(methodNotAllowed(req.method));
    }
    Decision d = authorize(attrs, store_);
    if (!d.allowed) return fail(forbidden(attrs, d.reason));
    if (!isLog && !isUpgradeRequest(req)) return fail(badRequest("Upgrade request required"));
    auto obj = store_.get(*findResource("", "v1", "pods"), pod->ns, pod->pod);
    if (!obj.ok()) return fail(obj.status());
    podNode = obj->value("spec", json::object()).value("nodeName", "");
    Params out;
    std::string path;
    if (pod->subresource == "portforward") {
      std::vector<std::string> ports;
      for (const std::string& v : all(q, "ports")) {
        for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipEmpty())) {
          int port = 0;
          if (!absl::SimpleAtoi(p, &port) || port < 1 || port > 65535) {
            return fail(badRequest(absl::StrCat("query parameter \"ports\": invalid port \"", p,
                                                "\": must be 1-65535")));
          }
          ports.push_back(std::to_string(port));
        }
      }
      if (podNode.empty()) {
        return fail(badRequest("pod " + pod->pod + " does not have a host assigned"));
      }
      if (!ports.empty()) out.emplace_back("port", absl::StrJoin(ports, ","));
      path = "/portForward/" + pod->ns + "/" + pod->pod;
    } else {
      auto container = validateContainer(first(q, "container").value_or(""), *obj, pod->pod);
      if (!container.ok()) return fail(container.status());
      if (isLog) {
        // PodLogOptions: validated as ValidatePodLogOptions, re-encoded as LogLocation.
        auto intParam = [&](const char* name, int64_t min,
                            const char* why) -> absl::StatusOr<std::optional<int64_t>> {
          auto v = first(q, name);
          if (!v) return std::optional<int64_t>();
          int64_t n = 0;
          if (!absl::SimpleAtoi(*v, &n)) {
            return badRequest(absl::StrCat("query parameter \"", name, "\": strconv.ParseInt: ",
                                           "parsing \"", *v, "\": invalid syntax"));
          }
          if (n < min) {
            return apiError(422, "Invalid",
                            absl::StrCat("PodLogOptions \"", pod->pod, "\" is invalid: ", name,
                                         ": Invalid value: ", n, ": ", why),
                            pod->pod, "", "PodLogOptions");
          }
          return std::optional<int64_t>(n);
        };
        auto tail = intParam("tailLines", 0, "must be greater than or equal to 0");
        auto limit = intParam("limitBytes", 1, "must be greater than 0");
        auto since = intParam("sinceSeconds", 1, "must be greater than 0");
        for (const auto* s : {&tail, &limit, &since}) {
          if (!s->ok()) return fail(s->status());
        }
        if (since->has_value() && first(q, "sinceTime")) {
          return fail(apiError(422, "Invalid",
                               "PodLogOptions \"" + pod->pod +
                                   "\" is invalid: : Forbidden: at most one of `sinceTime` or "
                                   "`sinceSeconds` may be specified",
                               pod->pod, "", "PodLogOptions"));
        }
        if (podNode.empty()) {
          // LogLocation returns no location: the API server answers 204 No Content.
          rec.code = 204;
          resp.send(204, "text/plain", "");
          record(rec);
          return;
        }
        if (queryBool(q, "follow")) out.emplace_back("follow", "true");
        if (queryBool(q, "previous")) out.emplace_back("previous", "true");
        if (queryBool(q, "timestamps")) out.emplace_back("timestamps", "true");
        if (since->has_value()) out.emplace_back("sinceSeconds", std::to_string(**since));
        if (auto t = first(q, "sinceTime")) out.emplace_back("sinceTime", *t);
        if (tail->has_value()) out.emplace_back("tailLines", std::to_string(**tail));
        if (limit->has_value()) out.emplace_back("limitBytes", std::to_string(**limit));
        path = "/containerLogs/" + pod->ns + "/" + pod->pod + "/" + *container;
      } else {
        if (podNode.empty()) {
          return fail(badRequest("pod " + pod->pod + " does not have a host assigned"));
        }
        // streamParams: PodExecOptions/PodAttachOptions toward the kubelet.
        if (queryBool(q, "stdin")) out.emplace_back("input", "1");
        if (queryBool(q, "stdout")) out.emplace_back("output", "1");
        if (queryBool(q, "stderr")) out.emplace_back("error", "1");
        if (queryBool(q, "tty")) out.emplace_back("tty", "1");
        if (pod->subresource == "exec") {
          for (const std::string& c : all(q, "command")) out.emplace_back("command", c);
        }
        path = "/" + pod->subresource + "/" + pod->ns + "/" + pod->pod + "/" + *container;
      }
    }
    std::string query = encode(out);
    target = query.empty() ? path : path + "?" + query;
    upgrade = !isLog;
  } else {
    auto node = nodeRoute(req.path);
    if (!node) return fail(pathNotFound());
    attrs.resource = "nodes";
    attrs.subresource = "proxy";
    attrs.name = node->first;
    static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
    if (std::find(std::begin(kMethods), std::end(kMethods), req.method) == std::end(kMethods)) {
      return fail(methodNotAllowed(req.method));
    }
    Decision d = authorize(attrs, store_);
    if (!d.allowed) return fail(forbidden(attrs, d.reason));
    if (absl::StrContains(node->first, ':')) {
      return fail(badRequest("nodes/" + node->first +
                             "/proxy: scheme:name:port node ids are not supported by the fake"));
    }
    podNode = node->first;
    target = cleanPath(node->second);
    if (!req.query.empty()) target += "?" + req.query;
    upgrade = isUpgradeRequest(req);
  }
  rec.target = target;

  auto backend = nodeBackend(podNode);
  if (!backend.ok()) return fail(backend.status());
  rec.backend = hostPort(backend->host, backend->port);
  const std::string url = "https://" + rec.backend + target;
  SSL_CTX* ctx = context();
  auto conn = KubeletConn::dial(ctx, backend->host, backend->port);
  SSL_CTX_free(ctx);
  const bool isLog = pod && pod->subresource == "log";
  if (!conn.ok()) {
    std::string msg(conn.status().message());
    return fail(unknownError(isLog ? "Get \"" + url + "\": " + msg : msg));
  }
  KubeletConn& b = **conn;

  // The request toward the kubelet.
  std::string head = absl::StrCat(isLog ? "GET" : req.method, " ", target,
                                  " HTTP/1.1\r\nHost: ", rec.backend, "\r\n");
  if (isLog) {
    absl::StrAppend(&head, "User-Agent: fakeapi\r\nAccept-Encoding: identity\r\n");
  } else {
    for (const auto& [name, value] : req.headerList) {
      if (absl::EqualsIgnoreCase(name, "host") || absl::EqualsIgnoreCase(name, "authorization") ||
          absl::EqualsIgnoreCase(name, "content-length") ||
          absl::EqualsIgnoreCase(name, "expect") ||
          absl::EqualsIgnoreCase(name, "transfer-encoding") || (!upgrade && hopByHop(name))) {
        continue;
      }
      absl::StrAppend(&head, name, ": ", value, "\r\n");
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      absl::StrAppend(&head, "Content-Length: ", req.body.size(), "\r\n");
    }
  }
  if (!upgrade) absl::StrAppend(&head, "Connection: close\r\n");
  absl::StrAppend(&head, "\r\n");
  if (!isLog) head += req.body;
  if (!b.writeAll(head)) {
    return fail(unknownError(sslError("write to kubelet " + rec.backend)));
  }
  auto rh = readResponseHead(b);
  if (!rh.ok()) {
    std::string msg(rh.status().message());
    return fail(unknownError(isLog ? "Get \"" + url + "\": " + msg
                                   : "error reading response from " + rec.backend + ": " + msg));
  }
  auto cancelled = [&resp] { return resp.closed(); };

  if (upgrade) {
    if (rh->code == 101) {
      // The 101 as it came, then the connection is the client's and the kubelet's.
      std::string toClient = b.buf().empty() ? "" : std::move(b.buf());
      std::string rawHead = rh->statusLine + "\r\n";
      for (const auto& [k, v] : rh->headers) absl::StrAppend(&rawHead, k, ": ", v, "\r\n");
      rawHead += "\r\n";
      HijackedConnection client = resp.hijack();
      rec.code = 101;
      record(rec);
      pump(client.ssl, client.fd, b.ssl(), b.fd(), std::move(client.buffered), rawHead + toClient);
      return;
    }
    // Not upgraded: forward the kubelet's answer (status, headers, body) and close.
    std::string body;
    readBody(
        b, *rh, req.method == "HEAD",
        [&](const std::string& piece) {
          body += piece;
          return body.size() < kKubeletMaxHeadBytes;
        },
        cancelled);
    std::string out = rh->statusLine + "\r\n";
    for (const auto& [k, v] : rh->headers) {
      if (absl::EqualsIgnoreCase(k, "content-length") || hopByHop(k)) continue;
      absl::StrAppend(&out, k, ": ", v, "\r\n");
    }
    absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
    HijackedConnection client = resp.hijack();
    rec.code = rh->code;
    record(rec);
    ::fcntl(client.fd, F_SETFL, ::fcntl(client.fd, F_GETFL) & ~O_NONBLOCK);
    size_t off = 0;
    while (off < out.size()) {
      int n = SSL_write(client.ssl, out.data() + off, static_cast<int>(out.size() - off));
      if (n <= 0) break;
      off += n;
    }
    SSL_shutdown(client.ssl);  // close_notify: the server skips it for a hijacked connection
    ERR_clear_error();
    return;
  }

  if (isLog && (rh->code < 200 || rh->code > 206)) {
    // GenericHttpResponseChecker: the kubelet's error text in an API status.
    std::string text;
    readBody(
        b, *rh, false,
        [&](const std::string& piece) {
          text += piece;
          if (text.size() > kMaxErrorBody) text.resize(kMaxErrorBody);
          return text.size() < kMaxErrorBody;
        },
        cancelled);
    absl::Status s;
    if (rh->code == 500) {
      s = apiError(500, "InternalError", "Internal error occurred: " + text);
    } else if (rh->code == 400) {
      s = badRequest(text);
    } else {
      std::string message = absl::StrCat("the server responded with the status code ", rh->code,
                                         " but did not return more information");
      std::string reason = "";
      switch (rh->code) {
        case 404:
          reason = "NotFound";
          message = "the server could not find the requested resource";
          break;
        case 401:
          reason = "Unauthorized";
          message = "the server has asked for the client to provide credentials";
          break;
        case 403:
          reason = "Forbidden";
          message = text;
          break;
        default:
          if (rh->code >= 500) {
            reason = "InternalError";
            message = "an error on the server (\"" + text +
                      "\") has prevented the request from succeeding";
          }
      }
      s = apiError(rh->code, reason, message + " ( pods/log " + pod->pod + ")", pod->pod, "",
                   "pods/log");
    }
    return fail(s);
  }

  // A plain response, streamed back as it arrives (logs with follow=true).
  const int code = isLog ? 200 : rh->code;
  std::string contentType = isLog ? "text/plain" : rh->header("content-type");
  if (contentType.empty()) contentType = "application/octet-stream";
  rec.code = code;
  record(rec);
  if (req.method == "HEAD" || code == 204 || code == 304) {
    resp.send(code, contentType, "");
    return;
  }
  if (!resp.startStream(code, contentType)) return;
  const bool complete = readBody(
      b, *rh, false, [&](const std::string& piece) { return resp.writeChunk(piece); }, cancelled);
  if (complete && !resp.closed()) resp.endStream();
}

}  // namespace cubelet::fakeapi

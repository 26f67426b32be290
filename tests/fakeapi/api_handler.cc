#include "tests/fakeapi/api_handler.h"
#include "tests/fakeapi/query_params.h"

#include <openssl/x509.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/authz.h"
#include "tests/fakeapi/discovery.h"
#include "tests/fakeapi/patch.h"

namespace cubelet::fakeapi {

using nlohmann::json;

namespace {

constexpr char kJson[] = "application/json";
// Upstream picks a random watch timeout in [minRequestTimeout, 2*minRequestTimeout]
// (30-60 min by default) when the client sets none.
constexpr int64_t kDefaultWatchTimeoutSeconds = 1800;

std::string verbFor(const std::string& method, const ApiPath& p, bool watch) {
  if (method == "GET") return watch ? "watch" : (p.isCollection() ? "list" : "get");
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return p.isCollection() ? "deletecollection" : "delete";
  return "";
}

// apiserver's forbiddenMessage (endpoints/handlers/responsewriters/errors.go).
std::string forbiddenMessage(const RequestAttributes& a) {
  std::string res = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  std::string msg = "User \"" + a.user.name + "\" cannot " + a.verb + " resource \"" + res +
                    "\" in API group \"" + a.apiGroup + "\"";
  return msg + (a.namespace_.empty() ? " at the cluster scope"
                                     : " in the namespace \"" + a.namespace_ + "\"");
}

absl::Status forbidden(const ResourceInfo& r, const std::string& name, const std::string& why) {
  std::string msg =
      r.qualifiedName() + (name.empty() ? "" : " \"" + name + "\"") + " is forbidden: " + why;
  return apiError(403, "Forbidden", msg, name, r.group, r.resource);
}

bool truthy(const std::string& v) { return v == "1" || v == "true"; }

// Strips kind/apiVersion from list items, as typed lists serialize.
json listBody(const ResourceInfo& r, const ListResult& l, bool stripTypes) {
  json items = json::array();
  for (const auto& it : l.items) {
    json o = it;
    if (stripTypes) {
      o.erase("kind");
      o.erase("apiVersion");
    }
    items.push_back(std::move(o));
  }
  json meta = {{"resourceVersion", std::to_string(l.resourceVersion)}};
  if (!l.continueToken.empty()) {
    meta["continue"] = l.continueToken;
    meta["remainingItemCount"] = l.remaining;
  }
  return {
      {"kind", r.listKind()}, {"apiVersion", r.apiVersion()}, {"metadata", meta}, {"items", items}};
}

}  // namespace

std::map<std::string, std::string> parseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : queryParams(query)) out[k] = std::move(v);
  return out;
}

void ApiHandler::record(const HttpRequest& req, const UserInfo* user, int code, bool denied) {
  RequestRecord r = recordOf(req, user, code, denied);
  std::lock_guard lock(mu_);
  records_.push_back(std::move(r));
}

std::vector<RequestRecord> ApiHandler::requests() const {
  std::lock_guard lock(mu_);
  return records_;
}

void ApiHandler::clearRequests() {
  std::lock_guard lock(mu_);
  records_.clear();
}

void ApiHandler::handle(const HttpRequest& req, HttpResponder& resp) {
  auto sendStatus = [&](const absl::Status& s, const UserInfo* user, bool denied = false) {
    record(req, user, httpCode(s), denied);
    resp.send(httpCode(s), kJson, statusObject(s).dump());
  };
  // Authentication: a verified client certificate, else a bearer token (the x509 and
  // token authenticators of kube-apiserver; anonymous requests are refused).
  std::optional<UserInfo> user;
  if (req.peerVerified) user = userFromPeerCertificate(req.peerCert);
  const std::string authz = req.header("authorization");
  if (!user && absl::StartsWithIgnoreCase(authz, "bearer ")) {
    user = tokens_.authenticate(std::string(absl::StripAsciiWhitespace(authz.substr(7))));
  }
  if (!user) {
    sendStatus(apiError(401, "Unauthorized", "Unauthorized"), nullptr);
    return;
  }
  std::string address;
  {
    std::lock_guard lock(mu_);
    address = address_;
  }
  if (auto d = discoveryAnswer(req.path, address)) {
    if (req.method != "GET") {
      sendStatus(methodNotAllowed(req.method), &*user);
      return;
    }
    record(req, &*user, 200, false);
    resp.send(200, d->contentType, d->body);
    return;
  }
  auto path = parseApiPath(req.path);
  if (!path.ok()) {
    sendStatus(path.status(), &*user);
    return;
  }
  const ApiPath& p = *path;
  const ResourceInfo& r = *p.info;
  auto q = parseQuery(req.query);
  const bool watch = req.method == "GET" && truthy(q["watch"]);
  const std::string verb = verbFor(req.method, p, watch);
  // serviceaccounts/<name>/token is a create-only subresource (TokenRequest).
  const bool tokenRequest = p.subresource == "token";
  if (verb.empty() || verb == "deletecollection" ||
      (verb == "create" && !p.name.empty() && !tokenRequest) ||
      (verb == "create" && r.namespaced && p.ns.empty()) ||
      ((verb == "update" || verb == "patch") && p.isCollection()) ||
      (tokenRequest && (verb != "create" || tokenIssuer_ == nullptr)) ||
      (!p.subresource.empty() && !tokenRequest && verb != "get" && verb != "update" &&
       verb != "patch") ||
      (p.subresource == "approval" && verb == "patch")) {
    sendStatus(methodNotAllowed(req.method), &*user);
    return;
  }
  RequestAttributes attrs{*user,
                          verb,
                          r.group,
                          r.resource,
                          p.subresource,
                          p.ns,
                          p.name,
                          q["fieldSelector"],
                          q["labelSelector"]};
  Decision d = authorize(attrs, store_);
  if (!d.allowed) {
    std::string why = forbiddenMessage(attrs) + (d.reason.empty() ? "" : ": " + d.reason);
    sendStatus(forbidden(r, p.name, why), &*user, /*denied=*/true);
    return;
  }
  WriteContext ctx;
  ctx.env.user = user->name;
  ctx.env.groups = user->groups;
  bool admissionDenied = false;
  if (nodeIdentity(*user)) {
    ctx.admit = [attrs, &r, &admissionDenied](const json* oldObj,
                                              const json* newObj) -> absl::Status {
      absl::Status s = admitNodeWrite(attrs, oldObj, newObj);
      if (s.ok()) return s;
      admissionDenied = true;
      std::string name = attrs.name;
      if (name.empty() && newObj)
        name = newObj->value("metadata", json::object()).value("name", "");
      if (s.code() == absl::StatusCode::kNotFound) return notFound(r, name);
      return forbidden(r, name, std::string(s.message()));
    };
  }

  // Selectors are parsed for every list and watch (errors are 400s).
  Selection sel;
  sel.ns = p.ns;
  if (verb == "list" || verb == "watch") {
    auto fs = FieldSelector::parse(q["fieldSelector"], r);
    auto ls = LabelSelector::parse(q["labelSelector"]);
    if (!fs.ok() || !ls.ok()) {
      sendStatus(!fs.ok() ? fs.status() : ls.status(), &*user);
      return;
    }
    sel.fields = *fs;
    sel.labels = *ls;
  }
  auto parseBody = [&]() -> absl::StatusOr<json> {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return badRequest("the body of the request was not a valid JSON object");
    }
    return body;
  };
  auto reply = [&](const absl::StatusOr<json>& res, int okCode) {
    if (!res.ok()) {
      sendStatus(res.status(), &*user, admissionDenied);
      return;
    }
    record(req, &*user, okCode, false);
    resp.send(okCode, kJson, res->dump());
  };

  if (tokenRequest) {
    auto body = parseBody();
    if (!body.ok()) return reply(body, 201);
    TokenIssuer::Admit admit;
    if (nodeIdentity(*user)) {
      // NodeRestriction gets the pod named by spec.boundObjectRef as the old object.
      admit = [attrs, &r, &admissionDenied](const json* pod, const json* tr) -> absl::Status {
        absl::Status s = admitNodeWrite(attrs, pod, tr);
        if (s.ok()) return s;
        admissionDenied = true;
        if (s.code() == absl::StatusCode::kNotFound) {
          const json ref = tr->value("spec", json::object()).value("boundObjectRef", json());
          return notFound(*findResource("", "v1", "pods"),
                          ref.is_object() ? ref.value("name", "") : "");
        }
        return forbidden(r, attrs.name, std::string(s.message()));
      };
    }
    reply(tokenIssuer_->create(store_, p.ns, p.name, *body, admit, user->name), 201);
    return;
  }

  if (verb == "watch") {
    int64_t timeout = kDefaultWatchTimeoutSeconds;
    if (!q["timeoutSeconds"].empty() && !absl::SimpleAtoi(q["timeoutSeconds"], &timeout)) {
      sendStatus(badRequest("invalid timeoutSeconds: " + q["timeoutSeconds"]), &*user);
      return;
    }
    auto w = store_.watch(r, sel, q["resourceVersion"]);
    if (!w.ok()) {
      sendStatus(w.status(), &*user);
      return;
    }
    record(req, &*user, 200, false);
    serveWatch(*w, timeout, truthy(q["allowWatchBookmarks"]), resp);
    return;
  }
  if (verb == "list") {
    int64_t limit = 0;
    if (!q["limit"].empty() && !absl::SimpleAtoi(q["limit"], &limit)) {
      sendStatus(badRequest("invalid limit: " + q["limit"]), &*user);
      return;
    }
    auto l = store_.list(r, sel, limit, q["continue"]);
    if (!l.ok()) {
      sendStatus(l.status(), &*user);
      return;
    }
    reply(listBody(r, *l, true), 200);
    return;
  }
  if (verb == "get") {
    reply(store_.get(r, p.ns, p.name), 200);
    return;
  }
  if (verb == "create") {
    auto body = parseBody();
    if (!body.ok()) return reply(body, 201);
    reply(store_.create(r, p.ns, *std::move(body), ctx), 201);
    return;
  }
  if (verb == "update") {
    auto body = parseBody();
    if (!body.ok()) return reply(body, 200);
    reply(store_.update(r, p.ns, p.name, p.subresource, *std::move(body), ctx), 200);
    return;
  }
  if (verb == "patch") {
    const std::string ct = req.header("content-type");
    reply(store_.patch(
              r, p.ns, p.name, p.subresource,
              [&](const json& cur) { return applyPatch(cur, ct, req.body); }, ctx),
          200);
    return;
  }
  // delete: DeleteOptions from the body, then the query.
  DeleteOptions opts;
  if (!absl::StripAsciiWhitespace(req.body).empty()) {
    auto body = parseBody();
    if (!body.ok()) return reply(body, 200);
    if (body->contains("gracePeriodSeconds") && (*body)["gracePeriodSeconds"].is_number_integer()) {
      opts.gracePeriodSeconds = (*body)["gracePeriodSeconds"].get<int64_t>();
    }
    json pre = body->value("preconditions", json::object());
    if (pre.is_object()) {
      if (pre.contains("uid") && pre["uid"].is_string()) opts.uid = pre["uid"].get<std::string>();
      if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string()) {
        opts.resourceVersion = pre["resourceVersion"].get<std::string>();
      }
    }
  }
  if (q.count("gracePeriodSeconds")) {
    int64_t g = 0;
    if (!absl::SimpleAtoi(q["gracePeriodSeconds"], &g)) {
      sendStatus(badRequest("invalid gracePeriodSeconds: " + q["gracePeriodSeconds"]), &*user);
      return;
    }
    opts.gracePeriodSeconds = g;
  }
  auto res = store_.remove(r, p.ns, p.name, opts, ctx);
  if (!res.ok()) return reply(res.status(), 200);
  reply(res->body, 200);
}

void ApiHandler::serveWatch(const WatcherPtr& w, int64_t timeoutSeconds, bool bookmarks,
                            HttpResponder& resp) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(timeoutSeconds);
  auto nextBookmark = Clock::now() + bookmarkInterval_;
  // Wake at least this often to notice a client that went away.
  constexpr auto kPoll = std::chrono::milliseconds(200);
  bool ok = resp.startStream(200, kJson);
  while (ok) {
    auto wake = std::min(deadline, Clock::now() + kPoll);
    if (bookmarks) wake = std::min(wake, nextBookmark);
    std::string line;
    Watcher::Next n = w->next(&line, wake);
    if (n == Watcher::Next::kEvent) {
      ok = resp.writeChunk(line + "\n");
      continue;
    }
    if (n == Watcher::Next::kClosed || Clock::now() >= deadline || resp.closed()) break;
    if (bookmarks && Clock::now() >= nextBookmark) {
      store_.bookmark(w);
      nextBookmark = Clock::now() + bookmarkInterval_;
    }
  }
  store_.unwatch(w);
  if (ok && !resp.closed()) resp.endStream();
}

}  // namespace cubelet::fakeapi

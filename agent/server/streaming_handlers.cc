#include "agent/server/streaming_handlers.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/log.h"

namespace agent::server {
namespace {

namespace v1 = runtime::v1;

HttpResponse textResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void answer(const ExchangePtr& ex, int status, std::string body) {
  if (!ex->closed()) ex->respond(textResponse(status, std::move(body)));
}

// go-restful's answers for a path no route matches and a method the route lacks.
void notFoundPage(const ExchangePtr& ex) { answer(ex, 404, "404 page not found"); }
void methodNotAllowed(const ExchangePtr& ex) { answer(ex, 405, "405: Method Not Allowed"); }

// The path segments after the endpoint's prefix ("/exec/"), or nullopt when the
// count is not one of `counts` or a segment is empty.
std::optional<std::vector<std::string>> segments(const std::string& path, absl::string_view prefix,
                                                 std::initializer_list<size_t> counts) {
  if (!absl::StartsWith(path, prefix)) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(path.substr(prefix.size()), '/');
  // The kubelet's routes also match with one trailing slash.
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  bool countOk = false;
  for (size_t c : counts) countOk = countOk || parts.size() == c;
  if (!countOk) return std::nullopt;
  for (const auto& p : parts) {
    if (p.empty()) return std::nullopt;
  }
  return parts;
}

// As the kubelet's streaming.WriteError: the CRI code picks the HTTP status.
void writeCriError(const ExchangePtr& ex, const absl::Status& status) {
  if (ex->closed()) return;
  HttpResponse r;
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      r.status = 404;
      break;
    case absl::StatusCode::kResourceExhausted: {
      r.status = 429;
      absl::string_view msg = status.message();
      size_t at = msg.find("[Retry-After:");
      if (at != absl::string_view::npos) {
        absl::string_view rest = msg.substr(at + 13);
        rest = rest.substr(0, rest.find(']'));
        int secs = 0;
        if (absl::SimpleAtoi(rest, &secs)) r.headers["Retry-After"] = std::to_string(secs);
      }
      break;
    }
    default:
      r.status = 500;
  }
  r.body = std::string(status.message());
  ex->respond(std::move(r));
}

// A resolver's failure: NotFound is 404, anything else 500.
void writeResolveError(const ExchangePtr& ex, const absl::Status& status) {
  answer(ex, status.code() == absl::StatusCode::kNotFound ? 404 : 500,
         std::string(status.message()));
}

bool isWebSocketRequest(const HttpRequest& req) {
  auto up = req.headers.find("upgrade");
  return up != req.headers.end() && absl::EqualsIgnoreCase(up->second, "websocket") &&
         isUpgradeRequest(req);
}

struct StreamOptions {
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
};

// remotecommand.NewOptions: only "1" is true; no stderr with a tty.
absl::StatusOr<StreamOptions> streamOptions(const HttpRequest& req) {
  auto flag = [&](const char* name) {
    auto it = req.query.find(name);
    return it != req.query.end() && it->second == "1";
  };
  StreamOptions o;
  o.tty = flag("tty");
  o.stdin = flag("input");
  o.stdout = flag("output");
  o.stderr = flag("error") && !o.tty;
  if (!o.stdin && !o.stdout && !o.stderr) {
    return absl::InvalidArgumentError("you must specify at least 1 of stdin, stdout, stderr");
  }
  return o;
}

// portforward.NewV4Options: ports only for WebSocket clients.
absl::StatusOr<std::vector<int32_t>> portForwardPorts(const HttpRequest& req) {
  std::vector<int32_t> ports;
  if (!isWebSocketRequest(req)) return ports;
  bool any = false;
  for (const auto& [key, value] : req.queryAll) {
    if (key != "port") continue;
    any = true;
    if (value.empty()) {
      return absl::InvalidArgumentError("query parameter \"port\" cannot be empty");
    }
    for (absl::string_view p : absl::StrSplit(value, ',')) {
      uint64_t port = 0;
      bool digits = !p.empty() && std::all_of(p.begin(), p.end(), absl::ascii_isdigit);
      if (!digits || !absl::SimpleAtoi(p, &port) || port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("unable to parse \"", value, "\" as a port: strconv.ParseUint: parsing \"",
                         p, "\": ", digits ? "value out of range" : "invalid syntax"));
      }
      if (port < 1) {
        return absl::InvalidArgumentError(absl::StrCat("port \"", value, "\" must be > 0"));
      }
      ports.push_back(static_cast<int32_t>(port));
    }
  }
  if (!any) return absl::InvalidArgumentError("query parameter \"port\" is required");
  return ports;
}

// Runs `call` (a CRI request returning the streaming URL) on the pool, then
// proxies the exchange to that URL.
void callAndProxy(const StreamingContext& ctx, ExchangePtr ex,
                  std::function<absl::StatusOr<std::string>()> call) {
  if (!isUpgradeRequest(ex->request())) {
    answer(ex, 500, "Upgrade request required\n");
    return;
  }
  core::EventLoop* loop = ctx.loop;
  StreamProxyOptions proxyOptions = ctx.proxy;
  core::runOnPool(*ctx.pool, *ctx.loop, std::move(call),
                  [ex, loop, proxyOptions](absl::StatusOr<std::string> url) {
                    if (ex->closed()) return;
                    if (!url.ok()) {
                      VLOG(2) << "streaming " << ex->request().path << ": " << url.status();
                      writeCriError(ex, url.status());
                      return;
                    }
                    proxyUpgrade(*loop, ex, *url, proxyOptions);
                  });
}

bool getOrPost(const ExchangePtr& ex) {
  const std::string& m = ex->request().method;
  if (m == "GET" || m == "POST") return true;
  methodNotAllowed(ex);
  return false;
}

// /exec and /attach: {ns}/{pod}/{container} or {ns}/{pod}/{uid}/{container}.
struct ContainerPath {
  std::string ns, pod, uid, container;
};

std::optional<ContainerPath> containerPath(const HttpRequest& req, absl::string_view prefix) {
  auto parts = segments(req.path, prefix, {3, 4});
  if (!parts) return std::nullopt;
  ContainerPath p;
  p.ns = (*parts)[0];
  p.pod = (*parts)[1];
  if (parts->size() == 4) p.uid = (*parts)[2];
  p.container = parts->back();
  return p;
}

AsyncHandler makeRemoteCommandHandler(StreamingContext ctx, bool exec) {
  return [ctx = std::move(ctx), exec](ExchangePtr ex) {
    const HttpRequest& req = ex->request();
    auto path = containerPath(req, exec ? "/exec/" : "/attach/");
    if (!path) return notFoundPage(ex);
    if (!getOrPost(ex)) return;
    auto opts = streamOptions(req);
    if (!opts.ok()) return answer(ex, 400, std::string(opts.status().message()));
    auto target = ctx.resolveContainer(path->ns, path->pod, path->uid, path->container);
    if (!target.ok()) return writeResolveError(ex, target.status());
    cri::RuntimeService* runtime = ctx.runtime;
    if (exec) {
      v1::ExecRequest r;
      r.set_container_id(target->containerId);
      for (const auto& [key, value] : req.queryAll) {
        if (key == "command") r.add_cmd(value);
      }
      r.set_tty(opts->tty);
      r.set_stdin(opts->stdin);
      r.set_stdout(opts->stdout);
      r.set_stderr(opts->stderr);
      callAndProxy(ctx, ex, [runtime, r = std::move(r)] { return runtime->exec(r); });
    } else {
      v1::AttachRequest r;
      r.set_container_id(target->containerId);
      r.set_tty(opts->tty);
      r.set_stdin(opts->stdin);
      r.set_stdout(opts->stdout);
      r.set_stderr(opts->stderr);
      callAndProxy(ctx, ex, [runtime, r = std::move(r)] { return runtime->attach(r); });
    }
  };
}

}  // namespace

AsyncHandler makeExecHandler(StreamingContext ctx) {
  return makeRemoteCommandHandler(std::move(ctx), true);
}

AsyncHandler makeAttachHandler(StreamingContext ctx) {
  return makeRemoteCommandHandler(std::move(ctx), false);
}

AsyncHandler makePortForwardHandler(StreamingContext ctx) {
  return [ctx = std::move(ctx)](ExchangePtr ex) {
    const HttpRequest& req = ex->request();
    auto parts = segments(req.path, "/portForward/", {2, 3});
    if (!parts) return notFoundPage(ex);
    if (!getOrPost(ex)) return;
    auto ports = portForwardPorts(req);
    if (!ports.ok()) return answer(ex, 400, std::string(ports.status().message()));
    std::string uid = parts->size() == 3 ? (*parts)[2] : "";
    auto sandbox = ctx.resolveSandbox((*parts)[0], (*parts)[1], uid);
    if (!sandbox.ok()) return writeResolveError(ex, sandbox.status());
    v1::PortForwardRequest r;
    r.set_pod_sandbox_id(*sandbox);
    for (int32_t p : *ports) r.add_port(p);
    cri::RuntimeService* runtime = ctx.runtime;
    callAndProxy(ctx, ex, [runtime, r = std::move(r)] { return runtime->portForward(r); });
  };
}

AsyncHandler makeRunHandler(StreamingContext ctx) {
  return [ctx = std::move(ctx)](ExchangePtr ex) {
    const HttpRequest& req = ex->request();
    auto path = containerPath(req, "/run/");
    if (!path) return notFoundPage(ex);
    if (req.method != "POST") return methodNotAllowed(ex);
    auto target = ctx.resolveContainer(path->ns, path->pod, path->uid, path->container);
    if (!target.ok()) return writeResolveError(ex, target.status());
    // For legacy reasons /run takes one `cmd`, split on single spaces.
    auto it = req.query.find("cmd");
    std::vector<std::string> cmd =
        absl::StrSplit(it == req.query.end() ? absl::string_view() : it->second, ' ');
    cri::RuntimeService* runtime = ctx.runtime;
    std::string id = target->containerId;
    core::runOnPool(
        *ctx.pool, *ctx.loop, [runtime, id, cmd] { return runtime->execSync(id, cmd, 0); },
        [ex, cmd](absl::StatusOr<v1::ExecSyncResponse> result) {
          if (ex->closed()) return;
          if (!result.ok()) return answer(ex, 500, std::string(result.status().message()));
          if (result->exit_code() != 0) {
            return answer(ex, 500,
                          absl::StrCat("command '", absl::StrJoin(cmd, " "), "' exited with ",
                                       result->exit_code(), ": ", result->stderr()));
          }
          HttpResponse r;
          r.body = result->stdout() + result->stderr();
          if (!r.body.empty()) r.contentType = "application/json";
          ex->respond(std::move(r));
        });
  };
}

}  // namespace agent::server

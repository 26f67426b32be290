// The kubelet API's container streaming endpoints, as AsyncHandlers for
// HttpServer::handleAsync:
//   /exec/{ns}/{pod}/{container}, /exec/{ns}/{pod}/{uid}/{container}      GET, POST
//   /attach/{ns}/{pod}/{container}, /attach/{ns}/{pod}/{uid}/{container}  GET, POST
//   /portForward/{ns}/{pod}, /portForward/{ns}/{pod}/{uid}                GET, POST
//   /run/{ns}/{pod}/{container}, /run/{ns}/{pod}/{uid}/{container}        POST
// As the kubelet (pkg/kubelet/server/server.go): exec and attach take `command`
// (repeated, in order), `input`, `output`, `error` and `tty` ("1" is true,
// anything else false; stderr is dropped with a tty; at least one stream is
// required, else 400 "you must specify at least 1 of stdin, stdout, stderr");
// port-forward takes `port` (repeated or comma-separated, 1-65535) on WebSocket
// requests only (SPDY clients name ports per stream). The pod/container is
// resolved on the loop, the CRI Exec/Attach/PortForward call runs on the worker
// pool, and the client's upgrade request is proxied to the runtime's streaming URL
// (stream_proxy.h). A request that is not an upgrade gets 500 "Upgrade request
// required" (the kubelet's proxy responder answers every error 500). CRI errors:
// NotFound 404, ResourceExhausted 429, anything else 500, the message as body.
// /run splits `cmd` on spaces, runs it with ExecSync and answers 200 with stdout
// then stderr (application/json, as the kubelet labels it); a non-zero exit is 500
// "command '<cmd>' exited with <code>: <stderr>".
//
// Threading: the handlers and resolvers run on the loop thread.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/server/http_exchange.h"
#include "agent/server/stream_proxy.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "cri/runtime_service.h"

namespace agent::server {

struct ResolvedContainer {
  std::string containerId;
  std::string podSandboxId;
};

// Finds a running container of a pod the agent runs. `uid` is empty when the path
// has none; when set, a pod with another UID does not match. NotFound (404) with a
// message such as `pod does not exist` or `container not found ("web")`; any other
// error is 500.
using ContainerResolver = std::function<absl::StatusOr<ResolvedContainer>(
    const std::string& ns, const std::string& pod, const std::string& uid,
    const std::string& container)>;
// The pod's sandbox id, for port-forward. Same rules.
using SandboxResolver = std::function<absl::StatusOr<std::string>(
    const std::string& ns, const std::string& pod, const std::string& uid)>;

struct StreamingContext {
  core::EventLoop* loop = nullptr;
  core::WorkerPool* pool = nullptr;
  cri::RuntimeService* runtime = nullptr;  // must outlive every request
  ContainerResolver resolveContainer;
  SandboxResolver resolveSandbox;
  StreamProxyOptions proxy;
};

// Register with handleAsync("/exec/", ...), ("/attach/", ...),
// ("/portForward/", ...), ("/run/", ...).
AsyncHandler makeExecHandler(StreamingContext ctx);
AsyncHandler makeAttachHandler(StreamingContext ctx);
AsyncHandler makePortForwardHandler(StreamingContext ctx);
AsyncHandler makeRunHandler(StreamingContext ctx);

}  // namespace agent::server

// The probe mechanisms, run on the event loop without blocking it and without a
// thread per check: HTTP(S) GET, TCP connect, gRPC health check; exec goes to an
// ExecRunner. Each classifies its result as the kubelet's prober does, with the
// kubelet's wording in the output.
#pragma once

#include "probes/probe_types.h"

namespace probes {

// "kube-probe/<major>.<minor>", the User-Agent the kubelet's probes send.
inline constexpr char kProbeUserAgent[] = "kube-probe/1.30";

// GET scheme://host:port/path with the spec's headers (User-Agent and Accept
// default to kProbeUserAgent and "*/*" unless given). 200-399 → kSuccess; a
// redirect to another host is not followed (kWarning "Probe terminated
// redirects"); redirects on the same host are followed (at most 10); other codes →
// kFailure "HTTP probe failed with statuscode: N"; a connection error or the
// timeout passing → kFailure with the error.
PendingCheckPtr httpGet(core::EventLoop& loop, const HttpGetSpec& spec, core::Duration timeout,
                        CheckDone done);

// Connects to host:port within the timeout: kSuccess, else kFailure with the error.
PendingCheckPtr tcpConnect(core::EventLoop& loop, const TcpSpec& spec, core::Duration timeout,
                           CheckDone done);

// grpc.health.v1.Health/Check with the optional service name within the
// timeout. SERVING → kSuccess; anything else, an unimplemented service or a
// connection failure → kFailure with the kubelet's wording.
PendingCheckPtr grpcHealthCheck(core::EventLoop& loop, const GrpcSpec& spec, core::Duration timeout,
                                CheckDone done);

// The real Checker: dispatches an Action to the functions above or the ExecRunner.
// A sleep action (hooks only) waits its seconds on a timer (bounded by the
// timeout) and succeeds. An action with `error` set ends kError with it.
class ActionChecker : public Checker {
 public:
  ActionChecker(core::EventLoop& loop, ExecRunner& exec) : loop_(loop), exec_(exec) {}
  PendingCheckPtr run(const Action& action, const std::string& containerId, core::Duration timeout,
                      CheckDone done) override;

 private:
  core::EventLoop& loop_;
  ExecRunner& exec_;
};

}  // namespace probes

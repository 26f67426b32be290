#include "agent/health/handler_action.h"

#include <algorithm>

#include "absl/strings/numbers.h"

namespace agent::health {
namespace {

// The kubelet's probe.ResolveContainerPort.
bool resolvePort(const api::IntOrString& port, const api::Container& c, int32_t* out,
                 std::string* error) {
  int32_t value = port.intValue;
  if (port.isString) {
    auto it = std::find_if(c.ports.begin(), c.ports.end(),
                           [&](const api::ContainerPort& p) { return p.name == port.strValue; });
    if (it != c.ports.end()) {
      value = it->containerPort;
    } else if (!absl::SimpleAtoi(port.strValue, &value)) {
      // A number given as a string is taken as one, as the kubelet does.
      *error = "port " + port.strValue + " not found";
      return false;
    }
  }
  if (value <= 0 || value >= 65536) {
    *error = "invalid port number: " + std::to_string(value);
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

probes::Action handlerAction(const api::Handler& h, const api::Container& c,
                             const std::string& podIP) {
  probes::Action a;
  if (h.exec) {
    a.exec = probes::ExecSpec{h.exec->command};
  } else if (h.httpGet) {
    probes::HttpGetSpec s;
    s.scheme = h.httpGet->scheme.empty() ? "HTTP" : h.httpGet->scheme;
    s.host = h.httpGet->host.empty() ? podIP : h.httpGet->host;
    s.path = h.httpGet->path;
    for (const auto& hdr : h.httpGet->httpHeaders) s.headers.emplace_back(hdr.name, hdr.value);
    if (!resolvePort(h.httpGet->port, c, &s.port, &a.error)) return a;
    a.httpGet = std::move(s);
  } else if (h.tcpSocket) {
    probes::TcpSpec s;
    s.host = h.tcpSocket->host.empty() ? podIP : h.tcpSocket->host;
    if (!resolvePort(h.tcpSocket->port, c, &s.port, &a.error)) return a;
    a.tcpSocket = std::move(s);
  } else if (h.grpc) {
    probes::GrpcSpec s;
    s.host = podIP;
    s.service = h.grpc->service;
    if (!resolvePort(api::IntOrString{false, h.grpc->port, ""}, c, &s.port, &a.error)) return a;
    a.grpc = std::move(s);
  } else if (h.sleep) {
    a.sleep = probes::SleepSpec{h.sleep->seconds};
  } else {
    a.error = "missing probe handler";
  }
  bool noHost = (a.httpGet && a.httpGet->host.empty()) ||
                (a.tcpSocket && a.tcpSocket->host.empty()) || (a.grpc && a.grpc->host.empty());
  if (noHost) {
    a = probes::Action{};
    a.error = "the pod has no IP yet";
  }
  return a;
}

probes::ProbeSpec probeSpec(const api::Probe& p, const api::Container& c,
                            const std::string& podIP) {
  probes::ProbeSpec s;
  s.action = handlerAction(p.handler, c, podIP);
  s.initialDelaySeconds = std::max(0, p.initialDelaySeconds);
  // Zero means unset: the API server's defaults. Validation refuses negatives;
  // a static pod is not validated by an API server, so they get the defaults too.
  s.timeoutSeconds = p.timeoutSeconds > 0 ? p.timeoutSeconds : 1;
  s.periodSeconds = p.periodSeconds > 0 ? p.periodSeconds : 10;
  s.successThreshold = p.successThreshold > 0 ? p.successThreshold : 1;
  s.failureThreshold = p.failureThreshold > 0 ? p.failureThreshold : 3;
  return s;
}

}  // namespace agent::health

#include "agent/health/pod_probes.h"

#include "agent/health/handler_action.h"

namespace agent::health {

bool hasProbes(const api::Pod& pod) {
  for (const auto& c : pod.spec.containers) {
    if (c.livenessProbe || c.readinessProbe || c.startupProbe) return true;
  }
  return false;
}

probes::PodProbes podProbes(const api::Pod& pod, const runtime::PodRuntimeStatus& status,
                            const std::string& hostIP) {
  probes::PodProbes out;
  out.uid = pod.metadata.uid;
  out.namespace_ = pod.metadata.namespace_;
  out.name = pod.metadata.name;
  std::string podIP = hostIP;
  if (!pod.spec.hostNetwork) {
    const auto* sandbox = status.latestSandbox();
    podIP = sandbox ? sandbox->ip : "";
  }
  for (const auto& c : pod.spec.containers) {
    if (!c.livenessProbe && !c.readinessProbe && !c.startupProbe) continue;
    probes::ContainerProbes cp;
    cp.name = c.name;
    if (c.livenessProbe) cp.liveness = probeSpec(*c.livenessProbe, c, podIP);
    if (c.readinessProbe) cp.readiness = probeSpec(*c.readinessProbe, c, podIP);
    if (c.startupProbe) cp.startup = probeSpec(*c.startupProbe, c, podIP);
    if (const auto* inst = status.findContainer(c.name)) {
      cp.containerId = inst->id;
      cp.running = inst->state == runtime::ContainerState::kRunning;
      cp.startedAt = core::WallTime(std::chrono::duration_cast<core::WallTime::duration>(
          std::chrono::nanoseconds(inst->startedAtNs)));
    }
    out.containers.push_back(std::move(cp));
  }
  return out;
}

}  // namespace agent::health

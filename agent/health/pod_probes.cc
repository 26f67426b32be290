#include "agent/health/pod_probes.h"

#include "agent/health/handler_action.h"
#include "agent/runtime/sidecars.h"

namespace agent::health {

namespace {

bool probed(const api::Container& c) {
  return c.livenessProbe || c.readinessProbe || c.startupProbe;
}

// The containers the prober watches: app containers and sidecars (init containers
// with restartPolicy Always), whose probes run as an app container's do.
template <typename F>
void forEachProbed(const api::Pod& pod, F&& fn) {
  for (const auto& c : pod.spec.initContainers) {
    if (runtime::isSidecar(c) && probed(c)) fn(c);
  }
  for (const auto& c : pod.spec.containers) {
    if (probed(c)) fn(c);
  }
}

}  // namespace

bool hasProbes(const api::Pod& pod) {
  bool any = false;
  forEachProbed(pod, [&](const api::Container&) { any = true; });
  return any;
}

bool containerHasProbes(const api::Pod& pod, const std::string& name) {
  bool any = false;
  forEachProbed(pod, [&](const api::Container& c) { any = any || c.name == name; });
  return any;
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
  forEachProbed(pod, [&](const api::Container& c) {
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
  });
  return out;
}

}  // namespace agent::health

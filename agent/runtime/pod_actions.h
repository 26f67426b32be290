// computePodActions: the pure decision of what to do to one pod, given its spec
// and what the runtime says about it (the kubelet's kuberuntime computePodActions,
// same rules). Doing it is SyncExecutor's job.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/runtime/pod_resize.h"
#include "agent/runtime/runtime_state.h"

namespace agent::runtime {

struct ContainerToKill {
  std::string id;
  std::string name;
  std::string message;  // why (for the Killing event)
  // A failed probe's terminationGracePeriodSeconds, which wins over the pod's.
  std::optional<int64_t> gracePeriodSeconds{};
};

struct PodActions {
  bool killPod = false;        // stop every container and the sandbox
  bool createSandbox = false;  // (re)create the sandbox, then start containers
  std::string sandboxId;       // the current sandbox when it is kept
  uint32_t attempt = 0;        // the sandbox attempt to create
  // Indexes into spec.initContainers of the init containers to start, in spec order:
  // the next one of the init sequence and sidecars to (re)start (the kubelet's
  // InitContainersToStart).
  std::vector<size_t> initContainersToStart;
  // Indexes into spec.containers of the app containers to start.
  std::vector<size_t> containersToStart;
  // Indexes into spec.ephemeralContainers of those to start: each once, when it has no
  // status yet, into a kept sandbox (the kubelet's EphemeralContainersToStart).
  std::vector<size_t> ephemeralContainersToStart;
  std::vector<ContainerToKill> containersToKill;
  // Running containers whose CPU or memory is changed in place (UpdateContainerResources).
  PodResizeActions resize;

  bool empty() const {
    return !killPod && !createSandbox && initContainersToStart.empty() &&
           containersToStart.empty() && ephemeralContainersToStart.empty() &&
           containersToKill.empty() && resize.empty();
  }
};

// Stable identifier of a container spec: a change means "restart the container". It
// leaves out resources and resizePolicy (see api::Container::specHash): a resize is
// applied in place.
std::string containerHash(const api::Container& c);

// A running container that must be killed although it runs: its liveness or
// startup probe failed (the kubelet's liveness and startup results managers).
struct ProbeFailure {
  std::string probe;  // "liveness" or "startup", as in "Container c failed liveness probe"
  std::optional<int64_t> gracePeriodSeconds{};  // the probe's terminationGracePeriodSeconds
};
using ProbeVerdict = std::function<std::optional<ProbeFailure>(
    const api::Pod& pod, const api::Container& spec, const ContainerRuntimeStatus& status)>;

// Whether a running container's startup probe has succeeded (the kubelet's startup
// results): asked only for sidecars that have one; the next init container waits
// for it.
using StartupCheck = std::function<bool(const api::Pod& pod, const api::Container& spec,
                                        const ContainerRuntimeStatus& status)>;

// `verdict` and `started` may be empty: no probes (a sidecar's startup probe then
// never succeeds).
PodActions computePodActions(const api::Pod& pod, const PodRuntimeStatus& status,
                             const ProbeVerdict& verdict = {}, const StartupCheck& started = {});

// The kubelet's ShouldContainerBeRestarted.
bool shouldContainerBeRestarted(const api::Container& c, const api::Pod& pod,
                                const PodRuntimeStatus& status);

struct InitProgress {
  const ContainerRuntimeStatus* lastFailed = nullptr;  // status of the failed init container
  std::optional<size_t> next;                          // init container to run next
  bool done = false;                                   // all init containers succeeded
};
InitProgress findNextInitContainerToRun(const api::Pod& pod, const PodRuntimeStatus& status);

bool isInitContainerFailed(const ContainerRuntimeStatus& s);

}  // namespace agent::runtime

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
  // Index into spec.initContainers of the init container to start next, if any.
  std::optional<size_t> nextInitContainer;
  // Indexes into spec.containers of the app containers to start.
  std::vector<size_t> containersToStart;
  std::vector<ContainerToKill> containersToKill;
  // Running containers whose CPU or memory is changed in place (UpdateContainerResources).
  PodResizeActions resize;

  bool empty() const {
    return !killPod && !createSandbox && !nextInitContainer && containersToStart.empty() &&
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

// `verdict` may be empty: no probes.
PodActions computePodActions(const api::Pod& pod, const PodRuntimeStatus& status,
                             const ProbeVerdict& verdict = {});

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

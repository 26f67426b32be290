// Computing a pod's API status from its spec and what the runtime says: phase,
// conditions, init and app container statuses with the kubelet's reasons.
// Pure; the status manager decides when to send it.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/api/pod_status.h"
#include "agent/runtime/runtime_state.h"
#include "core/event_loop.h"

namespace agent::status {

struct ContainerHealth {
  bool started = true;
  bool ready = true;
};

struct StatusInput {
  const api::Pod* pod = nullptr;
  const runtime::PodRuntimeStatus* runtime = nullptr;
  const std::map<std::string, runtime::WaitingReason>* waiting = nullptr;
  std::string sandboxError;
  // Why the last in-place resize failed (the PodResizeInProgress condition's Error);
  // empty when it did not.
  std::string resizeError;
  // Why a requested resize is not allocated yet (pods/resize_allocation.h): the
  // PodResizePending condition's reason (Infeasible, Deferred) and message; empty
  // when none waits.
  std::string resizePendingReason;
  std::string resizePendingMessage;
  // The InPlacePodVerticalScalingAllocatedStatus gate: report allocatedResources.
  bool allocatedStatus = false;
  std::string hostIP;
  core::WallTime startTime;
  core::WallTime now;
  const api::PodStatus* previous = nullptr;  // keeps lastTransitionTime stable
  // The probes' view of a running container instance: whether its startup probe
  // passed (`started`) and whether it is ready. Unset: running means both.
  std::function<ContainerHealth(const std::string& name, const std::string& containerId)> health;
  // The conditions other writers set (readiness gates), as the API holds them.
  const api::PodStatus* apiStatus = nullptr;
};

api::PodStatus computePodStatus(const StatusInput& in);

// The kubelet's sortPodIPs: the first of the runtime's IPs in the node's family
// (hostIP's; IPv4 when unknown), then the first of the other family, if any.
std::vector<std::string> sortPodIPs(const std::vector<std::string>& ips, const std::string& hostIP);

// Guaranteed, Burstable or BestEffort, by the API's rules.
std::string podQosClass(const api::Pod& pod);

// The kubelet's getPhase over computed container statuses.
std::string podPhase(const api::Pod& pod, const std::vector<api::ContainerStatus>& init,
                     const std::vector<api::ContainerStatus>& app);

std::string rfc3339(core::WallTime t);
std::string rfc3339FromNs(int64_t ns);

}  // namespace agent::status

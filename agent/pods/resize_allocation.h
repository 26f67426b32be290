// In-place resize admission (the kubelet's allocation manager, handlePodResourcesResize
// and canResizePod): a running pod's new CPU and memory are "allocated" only once they
// fit the node. Until then the pod keeps running with what it was last allocated, and
// its status says why with the PodResizePending condition: reason Infeasible when the
// pod alone asks for more than the node's allocatable, Deferred when the other pods
// leave no room (retried on every pod update). Pure: the agent keeps the allocations.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/pods/admission.h"

namespace agent::pods {

// The cpu and memory requests and limits of a pod's app containers, by container name.
using PodAllocation = std::map<std::string, api::ResourceRequirements>;

// The condition reasons (v1.PodReasonInfeasible, v1.PodReasonDeferred).
inline constexpr char kResizeInfeasible[] = "Infeasible";
inline constexpr char kResizeDeferred[] = "Deferred";

struct ResizePending {
  std::string reason;   // kResizeInfeasible or kResizeDeferred
  std::string message;  // "Node didn't have enough capacity: cpu, requested: 5000, capacity: 2000"
  bool operator==(const ResizePending&) const = default;
};

// What the pod's spec asks for now.
PodAllocation allocationOf(const api::Pod& pod);

// Whether the spec's cpu or memory differs from `allocated` for a container in both.
bool resizeRequested(const api::Pod& pod, const PodAllocation& allocated);

// canResizePod: whether the pod as its spec now says fits beside `others` (the other
// admitted pods, as allocated). Infeasible compares the pod's cpu (millicores) and
// memory (bytes) requests with the node's allocatable; Deferred carries the admission
// failure's message.
std::optional<ResizePending> checkResize(const api::Pod& pod,
                                         const std::vector<const api::Pod*>& others,
                                         const NodeAllocatable& node);

// The pod with the cpu and memory of `allocated` in place of its spec's, for the
// containers named there: what the runtime runs while a resize is pending.
api::Pod withAllocation(const api::Pod& pod, const PodAllocation& allocated);

}  // namespace agent::pods

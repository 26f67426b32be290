// Pod admission, as the kubelet's predicate admit handler does it before a pod
// from the API may run: the pod must fit the node's allocatable resources beside
// the pods already admitted, the node's pod count (maxPods) and its nodeSelector.
// A rejected pod never runs; it is reported Failed with the reason given here.
// Pure: the agent keeps the admitted set.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/api/quantity.h"

namespace agent::pods {

struct NodeAllocatable {
  std::map<std::string, api::Quantity> resources;  // cpu, memory, ephemeral-storage, ...
  int64_t maxPods = 110;
  std::map<std::string, std::string> labels;  // the Node's labels, for nodeSelector
};

struct Rejection {
  std::string reason;   // "OutOfcpu", "OutOfmemory", "OutOfpods", "NodeAffinity", ...
  std::string message;  // "Node didn't have enough resource: cpu, requested: ..., ..."
};

// `active` are the admitted pods still running or about to (not terminal), not
// including `pod`.
std::optional<Rejection> admitPod(const api::Pod& pod, const std::vector<const api::Pod*>& active,
                                  const NodeAllocatable& node);

// The pod's effective request of `resource` in milli-units: the larger of the sum
// over app containers (plus sidecar init containers) and the largest regular init
// container (the scheduler's rule).
int64_t podRequestMilli(const api::Pod& pod, const std::string& resource);

}  // namespace agent::pods

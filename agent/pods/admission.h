// Pod admission, as the kubelet's predicate admit handler does it before a pod
// from the API may run: the pod must fit the node's allocatable resources beside
// the pods already admitted, the node's pod count (maxPods), its nodeSelector and
// the host ports the admitted pods hold.
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

// A host-port conflict: the scheduler plugin's name as the reason and the kubelet's
// PredicateFailureError text (v1.30; v1.31 appends ": node(s) didn't have free
// ports for the requested pod ports").
inline constexpr char kNodePorts[] = "NodePorts";
inline constexpr char kNodePortsMessage[] = "Predicate NodePorts failed";

// The scheduler's nodeports.Fits: no hostPort of the pod's app containers is
// taken (same protocol and port, on the same host IP or either side's 0.0.0.0)
// by an app container of `active`.
bool hostPortsFit(const api::Pod& pod, const std::vector<const api::Pod*>& active);

// `active` are the admitted pods still running or about to (not terminal), not
// including `pod`.
std::optional<Rejection> admitPod(const api::Pod& pod, const std::vector<const api::Pod*>& active,
                                  const NodeAllocatable& node);

// The pod's effective request of `resource` in milli-units: the larger of the sum
// over app containers (plus sidecar init containers) and the largest regular init
// container (the scheduler's rule), plus the pod's overhead (spec.overhead).
int64_t podRequestMilli(const api::Pod& pod, const std::string& resource);

}  // namespace agent::pods

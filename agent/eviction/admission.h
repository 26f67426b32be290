// The eviction manager's pod admit handler (managerImpl.Admit): while the node reports
// resource pressure, new pods are refused unless they are critical. Under
// MemoryPressure alone, pods that are not BestEffort are admitted, and BestEffort ones
// only when they tolerate the node.kubernetes.io/memory-pressure:NoSchedule taint;
// DiskPressure or PIDPressure refuse every non-critical pod. The refusal has reason
// "Evicted" and the message "The node had condition: [MemoryPressure]. ".
// Pure: the agent passes the current conditions (EvictionManager::conditions()).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/eviction/thresholds.h"
#include "agent/pods/admission.h"

namespace agent::eviction {

inline constexpr char kTaintNodeMemoryPressure[] = "node.kubernetes.io/memory-pressure";

// core/v1 Toleration (api::PodSpec does not carry tolerations yet; the agent converts).
struct Toleration {
  std::string key;
  std::string operator_;  // "Equal" (also when empty) or "Exists"
  std::string value;
  std::string effect;  // empty: every effect
};

// Toleration.ToleratesTaint for a taint key=value:effect.
bool toleratesTaint(const Toleration& t, const std::string& key, const std::string& value,
                    const std::string& effect);

// kubetypes.IsCriticalPod: a static pod (kubernetes.io/config.source set and not "api"),
// a mirror pod (kubernetes.io/config.mirror), or priority >= 2000000000
// (system-cluster-critical and system-node-critical).
bool isCriticalPod(const api::Pod& pod);

// nullopt: admitted. `conditions` as EvictionManager::conditions() reports them.
std::optional<pods::Rejection> admitUnderPressure(const api::Pod& pod,
                                                  const std::vector<Toleration>& tolerations,
                                                  const std::vector<NodeCondition>& conditions);

}  // namespace agent::eviction

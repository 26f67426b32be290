// The eviction manager's decisions, pure (pkg/kubelet/eviction/helpers.go): which
// thresholds are met (with minimum reclaim and grace periods), which node conditions
// follow and how long they linger (the pressure transition period), which node-level
// reclaim comes first, how pods are ranked for each starved resource, and the exact
// messages and event annotations of an eviction. eviction_manager.h drives them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/api/pod.h"
#include "agent/eviction/observations.h"
#include "agent/eviction/thresholds.h"
#include "core/event_loop.h"

namespace agent::eviction {

inline constexpr char kReason[] = "Evicted";
// Event annotations the kubelet adds to the "Evicted" event.
inline constexpr char kOffendingContainersKey[] = "offending_containers";
inline constexpr char kOffendingContainersUsageKey[] = "offending_containers_usage";
inline constexpr char kStarvedResourceKey[] = "starved_resource";

// --- Thresholds over time ---

// The thresholds whose signal is below the threshold quantity now, grace periods aside.
// With `enforceMinReclaim` a threshold stays met until the signal is above threshold +
// minimum reclaim. Signals without an observation are skipped.
std::vector<Threshold> thresholdsMet(const std::vector<Threshold>& thresholds,
                                     const Observations& obs, bool enforceMinReclaim);

// a, then the members of b not already in a.
std::vector<Threshold> mergeThresholds(std::vector<Threshold> a, const std::vector<Threshold>& b);

// When each met threshold was first observed met: kept from `last`, else now.
using ThresholdsObservedAt = std::vector<std::pair<Threshold, core::MonoTime>>;
ThresholdsObservedAt thresholdsFirstObservedAt(const std::vector<Threshold>& thresholds,
                                               const ThresholdsObservedAt& last,
                                               core::MonoTime now);

// The thresholds met for at least their grace period.
std::vector<Threshold> thresholdsMetGracePeriod(const ThresholdsObservedAt& observedAt,
                                                core::MonoTime now);

// The thresholds whose observation is newer than the last one acted on (or carries no
// time), so one stale sample never evicts twice.
std::vector<Threshold> thresholdsUpdatedStats(const std::vector<Threshold>& thresholds,
                                              const Observations& obs,
                                              const std::map<Signal, SignalObservation>& last);

// --- Node conditions ---

// The conditions the thresholds imply, in the order MemoryPressure, DiskPressure,
// PIDPressure.
std::vector<NodeCondition> nodeConditions(const std::vector<Threshold>& thresholds);

// `conditions` observed now, merged with the older observations of the others.
using ConditionsObservedAt = std::map<NodeCondition, core::MonoTime>;
ConditionsObservedAt nodeConditionsLastObservedAt(const std::vector<NodeCondition>& conditions,
                                                  const ConditionsObservedAt& last,
                                                  core::MonoTime now);

// The conditions observed less than `period` ago: a condition stays set for the
// pressure transition period after its threshold stops being met.
std::vector<NodeCondition> nodeConditionsObservedSince(const ConditionsObservedAt& observedAt,
                                                       core::Duration period, core::MonoTime now);

// "[MemoryPressure DiskPressure]", as Go prints a []NodeConditionType.
std::string formatConditions(const std::vector<NodeCondition>& conditions);

// --- What to reclaim ---

// Memory signals first, the others in their given order (byEvictionPriority).
void sortByEvictionPriority(std::vector<Threshold>& thresholds);

// What the node can free before evicting pods for a signal (buildSignalToNodeReclaimFuncs):
// dead containers, then unused images, for the filesystem holding images.
enum class NodeReclaim { kDeleteAllUnusedContainers, kDeleteUnusedImages };
std::vector<NodeReclaim> nodeReclaimFor(Signal signal, bool dedicatedImageFs);

// --- Ranking (first = evicted first) ---

// Which usage counts toward disk pressure (fsStatsType).
enum class FsStats { kRoot, kLogs, kLocalVolumeSource, kImages };

// Usage above requests first, then lower priority, then more memory above requests.
void rankMemoryPressure(std::vector<const api::Pod*>& pods, const Observations& obs);
// Lower priority first, then more processes.
void rankPIDPressure(std::vector<const api::Pod*>& pods, const Observations& obs);
// Usage above the ephemeral-storage request first, then lower priority, then more usage
// above the request; `inodes` ranks by inodes instead of bytes.
void rankDiskPressure(std::vector<const api::Pod*>& pods, const Observations& obs,
                      const std::vector<FsStats>& measure, bool inodes);
// The ranking the kubelet uses for a signal (buildSignalToRankFunc).
void rankForSignal(Signal signal, std::vector<const api::Pod*>& pods, const Observations& obs);

// The pod's effective request of `resource` in milli-units (requests, or the limits the
// API defaults them from).
int64_t podRequestMilli(const api::Pod& pod, const std::string& resource);

// --- Messages ---

struct EvictionMessage {
  std::string message;
  std::map<std::string, std::string> annotations;  // for the "Evicted" event
};

// evictionMessage: "The node was low on resource: memory. Threshold quantity: 100Mi,
// available: 50Mi. Container app was using 200Mi, request is 100Mi, has larger
// consumption of memory. " `thresholds` are the met thresholds, the first of
// `resource` giving the quantity and available.
EvictionMessage evictionMessage(std::string_view resource, const api::Pod& pod,
                                const Observations& obs, const std::vector<Threshold>& thresholds);

// The kubelet's local storage limit checks, in its order: an emptyDir over its
// sizeLimit, the pod over the sum of its containers' ephemeral-storage limits, a
// container over its own limit. The eviction message when one is exceeded.
std::optional<std::string> localStorageEvictionMessage(const api::Pod& pod, const PodUsage& usage,
                                                       bool dedicatedImageFs);

}  // namespace agent::eviction

// The kubelet's resource arithmetic, pure: CPU requests to shares (cm.MilliCPUToShares)
// and to cgroup v2 cpu.weight (runc's ConvertCPUSharesToCgroupV2Value), CPU limits to a
// CFS quota (MilliCPUToQuota), the per-QoS OOM score adjust (qos.GetContainerOOMScoreAdjust)
// and the memory QoS memory.high. Callers turn pods into the numbers; this file only
// computes, so every rule is table-tested against the kubelet's values.
#pragma once

#include <cstdint>
#include <optional>

namespace cgroups {

// cm/helpers_linux.go.
inline constexpr int64_t kMinShares = 2;
inline constexpr int64_t kMaxShares = 262144;
inline constexpr int64_t kSharesPerCpu = 1024;
inline constexpr int64_t kMilliCpuToCpu = 1000;
inline constexpr int64_t kQuotaPeriodUs = 100000;   // 100 ms
inline constexpr int64_t kMinQuotaPeriodUs = 1000;  // 1 ms: the kernel's minimum quota

// 0 millicpu -> 2 (the kernel's minimum, not Docker's 1024); clamped to [2, 262144].
int64_t milliCpuToShares(int64_t milliCpu);

// The CFS quota for `milliCpu` over `periodUs`: 0 when there is no limit (0 millicpu),
// else milliCpu * period / 1000, at least 1000 µs.
int64_t milliCpuToQuota(int64_t milliCpu, int64_t periodUs);

// cgroup v1 shares [2, 262144] to cgroup v2 cpu.weight [1, 10000], as runc's
// ConvertCPUSharesToCgroupV2Value: 0 stays 0 (unset), else 1 + ((shares - 2) * 9999) / 262142.
uint64_t cpuSharesToWeight(uint64_t shares);

// The OOM score adjust tiers of pkg/kubelet/qos/policy.go.
inline constexpr int kGuaranteedOomScoreAdj = -997;
inline constexpr int kBestEffortOomScoreAdj = 1000;

enum class QosClass { kGuaranteed, kBurstable, kBestEffort };

struct OomScoreInput {
  QosClass qos = QosClass::kBestEffort;
  // types.IsNodeCriticalPod: a critical pod (static, mirror, or priority >= 2e9) whose
  // priorityClassName is system-node-critical. Always -997.
  bool nodeCritical = false;
  int64_t memoryRequest = 0;   // the container's requests.memory, bytes
  int64_t memoryCapacity = 0;  // the machine's MemTotal, bytes
  // For a sidecar (an init container with restartPolicy Always): the smallest memory
  // request of the pod's regular containers; its score never exceeds theirs.
  std::optional<int64_t> sidecarMinRegularRequest;
};

// Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000 * request / capacity
// clamped to [3, 999] (never below a Guaranteed process, always below BestEffort).
int containerOomScoreAdjust(const OomScoreInput& in);

// Memory QoS memory.high: floor((request + factor * (limit - request)) / page) * page, where
// `limit` is the container's memory limit or, without one, the node's allocatable memory.
// 0 (leave memory.high unset) when `limit` is 0 or the result is not above the request.
int64_t memoryHigh(int64_t request, int64_t limit, double throttlingFactor, int64_t pageSize);

}  // namespace cgroups

#include "cgroups/resource_math.h"

#include <algorithm>
#include <cmath>

namespace cgroups {

int64_t milliCpuToShares(int64_t milliCpu) {
  if (milliCpu == 0) return kMinShares;
  // (milliCpu / 1000) * 1024, factored to round better.
  int64_t shares = (milliCpu * kSharesPerCpu) / kMilliCpuToCpu;
  return std::clamp(shares, kMinShares, kMaxShares);
}

int64_t milliCpuToQuota(int64_t milliCpu, int64_t periodUs) {
  if (milliCpu == 0) return 0;
  int64_t quota = (milliCpu * periodUs) / kMilliCpuToCpu;
  return std::max(quota, kMinQuotaPeriodUs);
}

uint64_t cpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  // runc does this in uint64: shares below 2 wrap around; the kubelet never passes them,
  // but the clamp keeps a stray 1 at the minimum weight instead of a huge one.
  if (shares < 2) shares = 2;
  return 1 + ((shares - 2) * 9999) / 262142;
}

int containerOomScoreAdjust(const OomScoreInput& in) {
  if (in.nodeCritical) return kGuaranteedOomScoreAdj;
  switch (in.qos) {
    case QosClass::kGuaranteed:
      return kGuaranteedOomScoreAdj;
    case QosClass::kBestEffort:
      return kBestEffortOomScoreAdj;
    case QosClass::kBurstable:
      break;
  }
  // A machine whose memory could not be read must not divide by zero: treat every
  // request as negligible (the Burstable maximum).
  int64_t capacity = in.memoryCapacity > 0 ? in.memoryCapacity : INT64_MAX;
  auto adjust = [&](int64_t request) {
    // Exact integer division as the kubelet's; 128 bits so 1000 * request cannot overflow.
    __int128 share = static_cast<__int128>(1000) * request / capacity;
    return 1000 - static_cast<int64_t>(share);
  };
  int64_t oom = adjust(in.memoryRequest);
  if (in.sidecarMinRegularRequest) oom = std::min(oom, adjust(*in.sidecarMinRegularRequest));
  // A Guaranteed process using all memory scores 1000 + (-997) = 3 at most: stay at or
  // above it, and strictly below BestEffort.
  if (oom < 1000 + kGuaranteedOomScoreAdj) return 1000 + kGuaranteedOomScoreAdj;
  if (oom == kBestEffortOomScoreAdj) return static_cast<int>(oom - 1);
  return static_cast<int>(oom);
}

int64_t memoryHigh(int64_t request, int64_t limit, double throttlingFactor, int64_t pageSize) {
  if (limit == 0 || pageSize <= 0) return 0;
  double v =
      std::floor((static_cast<double>(request) +
                  (static_cast<double>(limit) - static_cast<double>(request)) * throttlingFactor) /
                 static_cast<double>(pageSize));
  int64_t high = static_cast<int64_t>(v) * pageSize;
  return high > request ? high : 0;
}

}  // namespace cgroups

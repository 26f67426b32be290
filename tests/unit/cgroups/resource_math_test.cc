// The kubelet's resource arithmetic, value for value: shares and quota from millicpu
// (cm/helpers_linux.go), runc's shares-to-weight conversion, the QoS OOM score adjust
// (qos/policy.go) and the memory QoS memory.high.
#include "cgroups/resource_math.h"

#include <gtest/gtest.h>

namespace cgroups {
namespace {

TEST(ResourceMathTest, MilliCpuToShares) {
  struct Case {
    int64_t milli, want;
  };
  for (const Case& c : std::vector<Case>{{0, 2},
                                         {1, 2},
                                         {2, 2},
                                         {10, 10},
                                         {100, 102},
                                         {250, 256},
                                         {1000, 1024},
                                         {2000, 2048},
                                         {256000, 262144},
                                         {300000, 262144}}) {
    EXPECT_EQ(milliCpuToShares(c.milli), c.want) << c.milli << "m";
  }
}

TEST(ResourceMathTest, MilliCpuToQuota) {
  struct Case {
    int64_t milli, period, want;
  };
  for (const Case& c : std::vector<Case>{{0, 100000, 0},  // no limit: no quota
                                         {1, 100000, 1000},
                                         {5, 100000, 1000},  // the 1 ms minimum
                                         {10, 100000, 1000},
                                         {11, 100000, 1100},
                                         {100, 100000, 10000},
                                         {250, 100000, 25000},
                                         {1500, 100000, 150000},
                                         {100, 50000, 5000},
                                         {4000, 10000, 40000},
                                         {0, 50000, 0}}) {
    EXPECT_EQ(milliCpuToQuota(c.milli, c.period), c.want) << c.milli << "m over " << c.period;
  }
}

TEST(ResourceMathTest, SharesToCgroupV2Weight) {
  struct Case {
    uint64_t shares, want;
  };
  for (const Case& c : std::vector<Case>{{0, 0},  // unset stays unset
                                         {2, 1},
                                         {3, 1},
                                         {102, 4},
                                         {1024, 39},
                                         {2048, 79},
                                         {10000, 382},
                                         {262144, 10000}}) {
    EXPECT_EQ(cpuSharesToWeight(c.shares), c.want) << c.shares << " shares";
  }
}

TEST(ResourceMathTest, OomScoreAdjust) {
  constexpr int64_t kGi = int64_t{1} << 30;
  struct Case {
    const char* name;
    OomScoreInput in;
    int want;
  };
  std::vector<Case> cases = {
      {"guaranteed", {QosClass::kGuaranteed, false, 5 * kGi, 10 * kGi, {}}, -997},
      {"besteffort", {QosClass::kBestEffort, false, 0, 10 * kGi, {}}, 1000},
      {"node-critical besteffort", {QosClass::kBestEffort, true, 0, 10 * kGi, {}}, -997},
      {"node-critical burstable", {QosClass::kBurstable, true, kGi, 10 * kGi, {}}, -997},
      {"burstable 10%", {QosClass::kBurstable, false, kGi, 10 * kGi, {}}, 900},
      {"burstable 25%", {QosClass::kBurstable, false, 256 << 20, kGi, {}}, 750},
      {"burstable without a memory request", {QosClass::kBurstable, false, 0, 10 * kGi, {}}, 999},
      {"burstable tiny request", {QosClass::kBurstable, false, 1, 1000, {}}, 999},
      {"burstable 99.9%", {QosClass::kBurstable, false, 999, 1000, {}}, 3},
      {"burstable 99.6%", {QosClass::kBurstable, false, 996, 1000, {}}, 4},
      {"burstable all memory", {QosClass::kBurstable, false, 10 * kGi, 10 * kGi, {}}, 3},
      {"burstable over capacity", {QosClass::kBurstable, false, 20 * kGi, 10 * kGi, {}}, 3},
      {"truncating division", {QosClass::kBurstable, false, 1, 3, {}}, 667},
      {"sidecar capped by the smallest regular request",
       {QosClass::kBurstable, false, 100, 1000, 500},
       500},
      {"sidecar with the larger request keeps its own",
       {QosClass::kBurstable, false, 600, 1000, 500},
       400},
      {"unknown capacity", {QosClass::kBurstable, false, kGi, 0, {}}, 999},
  };
  for (const auto& c : cases) EXPECT_EQ(containerOomScoreAdjust(c.in), c.want) << c.name;
}

TEST(ResourceMathTest, MemoryHigh) {
  constexpr int64_t kMi = int64_t{1} << 20;
  struct Case {
    const char* name;
    int64_t request, limit;
    double factor;
    int64_t want;
  };
  std::vector<Case> cases = {
      {"request to limit", 100 * kMi, 200 * kMi, 0.9, 199229440},
      {"rounded down to a page", 0, 1000000, 0.9, 897024},
      {"factor 1 is the limit", 0, 8192, 1.0, 8192},
      {"no limit", 100 * kMi, 0, 0.9, 0},
      {"not above the request", 4096, 4096, 0.9, 0},
      {"below a page", 0, 4000, 0.9, 0},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(memoryHigh(c.request, c.limit, c.factor, 4096), c.want) << c.name;
  }
}

}  // namespace
}  // namespace cgroups

// The pod overhead (spec.overhead, from the RuntimeClass) in the pod's resources:
// added to the requests and to the limits that are set, so to the pod cgroup's
// cpu.weight, cpu.max and memory.max; left out of the sandbox's resources and
// given to the runtime as the sandbox's overhead instead.
#include <gtest/gtest.h>

#include "agent/cm/pod_resources.h"
#include "tests/unit/agent/cm/cm_test_pods.h"

namespace agent::cm {
namespace {

using cubelet::testing::bestEffortPod;
using cubelet::testing::burstablePod;
using cubelet::testing::guaranteedPod;
using cubelet::testing::quantities;

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

api::Pod withOverhead(api::Pod p) {
  p.spec.overhead = quantities({{"cpu", "250m"}, {"memory", "120Mi"}});
  return p;
}

TEST(PodOverheadTest, AddedToRequestsAndSetLimits) {
  api::Pod g = withOverhead(guaranteedPod("a"));
  EXPECT_EQ(podRequests(g), (ResourceAmounts{{"cpu", 1250}, {"memory", kGi + 120 * kMi}}));
  EXPECT_EQ(podLimits(g), (ResourceAmounts{{"cpu", 1250}, {"memory", kGi + 120 * kMi}}));
  // No limits: none are made up from the overhead.
  api::Pod b = withOverhead(burstablePod("b"));
  EXPECT_EQ(podRequests(b), (ResourceAmounts{{"cpu", 350}, {"memory", 184 * kMi}}));
  EXPECT_EQ(podLimits(b), ResourceAmounts{});
}

TEST(PodOverheadTest, PodCgroupCountsTheOverhead) {
  cgroups::ResourceConfig want;
  want.cpuWeight = cgroups::cpuSharesToWeight(1280);  // 1250m
  want.cpuQuotaUs = 125000;
  want.cpuPeriodUs = 100000;
  want.memoryMax = kGi + 120 * kMi;
  EXPECT_EQ(resourceConfigForPod(withOverhead(guaranteedPod("a")), true, 100000, false), want);

  cgroups::ResourceConfig burst;
  burst.cpuWeight = cgroups::cpuSharesToWeight(358);  // 350m
  EXPECT_EQ(resourceConfigForPod(withOverhead(burstablePod("b")), true, 100000, false), burst);

  // BestEffort stays at the minimum whatever the overhead.
  cgroups::ResourceConfig be;
  be.cpuWeight = 1;
  EXPECT_EQ(resourceConfigForPod(withOverhead(bestEffortPod("c")), true, 100000, false), be);
}

TEST(PodOverheadTest, SandboxResourcesAndOverhead) {
  ContainerResourceOptions opts;
  opts.memoryCapacity = kGi;
  api::Pod g = withOverhead(guaranteedPod("a"));
  auto r = sandboxLinuxResources(g, opts);
  EXPECT_EQ(r.cpu_shares(), 1024);
  EXPECT_EQ(r.cpu_quota(), 100000);
  EXPECT_EQ(r.memory_limit_in_bytes(), kGi);

  auto o = sandboxOverheadResources(g, opts);
  EXPECT_EQ(o.cpu_shares(), 256);
  EXPECT_EQ(o.cpu_quota(), 25000);
  EXPECT_EQ(o.cpu_period(), 100000);
  EXPECT_EQ(o.memory_limit_in_bytes(), 120 * kMi);

  // Without an overhead: an empty message.
  EXPECT_EQ(sandboxOverheadResources(guaranteedPod("b"), opts).ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace agent::cm

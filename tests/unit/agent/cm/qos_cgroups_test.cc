// The QoS tiers: created at start-up in order (kubepods with node allocatable, then
// burstable, then besteffort at the minimum weight), burstable's weight following
// the Burstable pods' CPU requests, memory.min with memory QoS, and errors.
#include "agent/cm/qos_cgroups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/cm/pod_resources.h"
#include "tests/unit/agent/cm/cm_test_pods.h"
#include "tests/unit/agent/cm/fake_cgroup_manager.h"

namespace agent::cm {
namespace {

using ::testing::ElementsAre;
using namespace cubelet::testing;

constexpr int64_t kMi = int64_t{1} << 20;

absl::Status runSync(const std::function<void(Done)>& f) {
  std::optional<absl::Status> got;
  f([&](absl::Status s) { got = s; });
  EXPECT_TRUE(got.has_value()) << "the callback did not run";
  return got.value_or(absl::UnknownError("no answer"));
}

TEST(QosCgroupsTest, StartCreatesTheTiersInOrder) {
  FakeCgroupManager m;
  cgroups::ResourceConfig kubepods;
  kubepods.cpuWeight = 157;
  kubepods.memoryMax = 7 * 1024 * kMi;
  QosCgroups qos(m, {}, kubepods, false);
  ASSERT_TRUE(runSync([&](Done d) { qos.start(d); }).ok());
  EXPECT_THAT(m.calls, ElementsAre("create /kubepods", "create /kubepods/burstable",
                                   "create /kubepods/besteffort"));
  EXPECT_EQ(*m.config("/kubepods"), kubepods);
  EXPECT_EQ(*m.config("/kubepods/burstable"), cgroups::ResourceConfig{});
  EXPECT_EQ(m.config("/kubepods/besteffort")->cpuWeight, 1u);
}

TEST(QosCgroupsTest, StartUnderACgroupRootAndAsynchronously) {
  FakeCgroupManager m;
  m.holdAnswers(true);
  QosCgroups qos(m, {{"custom"}}, {}, false);
  std::optional<absl::Status> got;
  qos.start([&](absl::Status s) { got = s; });
  // One at a time: the next tier waits for its parent.
  EXPECT_THAT(m.calls, ElementsAre("create /custom/kubepods"));
  m.release();
  m.release();
  EXPECT_FALSE(got.has_value());
  m.release();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok());
  EXPECT_THAT(m.calls, ElementsAre("create /custom/kubepods", "create /custom/kubepods/burstable",
                                   "create /custom/kubepods/besteffort"));
}

TEST(QosCgroupsTest, StartErrorIsTheKubelets) {
  FakeCgroupManager m;
  m.failOn("create /kubepods/burstable", absl::PermissionDeniedError("mkdir: EACCES"));
  QosCgroups qos(m, {}, {}, false);
  absl::Status s = runSync([&](Done d) { qos.start(d); });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "failed to create top level Burstable QOS cgroup : mkdir: EACCES");
  EXPECT_THAT(m.calls, ElementsAre("create /kubepods", "create /kubepods/burstable"));
}

TEST(QosCgroupsTest, BurstableWeightFollowsThePods) {
  struct Case {
    const char* name;
    PodList pods;
    uint64_t burstableWeight;
  };
  std::vector<Case> cases = {
      {"no pods", {}, 1},
      {"guaranteed and besteffort pods do not count",
       {shared(guaranteedPod("g", "2")), shared(bestEffortPod("b"))},
       1},
      {"one burstable pod", {shared(burstablePod("a", "1"))}, cgroups::cpuSharesToWeight(1024)},
      {"burstable pods add up",
       {shared(burstablePod("a", "1")), shared(burstablePod("b", "1500m")),
        shared(guaranteedPod("g"))},
       cgroups::cpuSharesToWeight(2560)},
  };
  for (const auto& c : cases) {
    QosConfigs q = computeQosConfigs(c.pods, false);
    EXPECT_EQ(q.burstable.cpuWeight, c.burstableWeight) << c.name;
    EXPECT_EQ(q.besteffort.cpuWeight, 1u) << c.name;
    EXPECT_EQ(q.kubepods, cgroups::ResourceConfig{}) << c.name;
    EXPECT_FALSE(q.burstable.memoryMin.has_value()) << c.name;
  }
}

TEST(QosCgroupsTest, MemoryQoSReservesRequests) {
  PodList pods = {shared(burstablePod("a", "100m", "64Mi")),
                  shared(guaranteedPod("g", "1", "128Mi")), shared(bestEffortPod("b"))};
  QosConfigs q = computeQosConfigs(pods, true);
  EXPECT_EQ(q.burstable.memoryMin, 64 * kMi);
  EXPECT_EQ(q.kubepods.memoryMin, 192 * kMi);
  q = computeQosConfigs({shared(bestEffortPod("b"))}, true);
  EXPECT_FALSE(q.burstable.memoryMin.has_value());
  EXPECT_FALSE(q.kubepods.memoryMin.has_value());
}

TEST(QosCgroupsTest, UpdateWritesEveryTierAndReportsTheFirstError) {
  FakeCgroupManager m;
  QosCgroups qos(m, {}, {}, true);
  ASSERT_TRUE(runSync([&](Done d) { qos.start(d); }).ok());
  m.calls.clear();
  PodList pods = {shared(burstablePod("a", "500m", "64Mi"))};
  ASSERT_TRUE(runSync([&](Done d) { qos.update(pods, d); }).ok());
  EXPECT_THAT(m.calls, ElementsAre("update /kubepods", "update /kubepods/burstable",
                                   "update /kubepods/besteffort"));
  EXPECT_EQ(m.config("/kubepods/burstable")->cpuWeight, cgroups::cpuSharesToWeight(512));
  EXPECT_EQ(m.config("/kubepods/burstable")->memoryMin, 64 * kMi);
  EXPECT_EQ(m.config("/kubepods")->memoryMin, 64 * kMi);

  m.calls.clear();
  m.failOn("update /kubepods/burstable", absl::InternalError("write cpu.weight: EINVAL"));
  absl::Status s = runSync([&](Done d) { qos.update(pods, d); });
  EXPECT_EQ(s.message(), "write cpu.weight: EINVAL");
  EXPECT_THAT(m.calls, ElementsAre("update /kubepods", "update /kubepods/burstable",
                                   "update /kubepods/besteffort"));
}

}  // namespace
}  // namespace agent::cm

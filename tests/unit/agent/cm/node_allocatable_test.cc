// kubepods' limits from node allocatable: capacity less kubeReserved and
// systemReserved when "pods" is enforced, the whole capacity otherwise; the pid
// capacity from the kernel's limits.
#include "agent/cm/node_allocatable.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/atomic_file.h"

namespace agent::cm {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;
constexpr int64_t kMi = int64_t{1} << 20;

TEST(NodeAllocatableTest, KubepodsConfig) {
  node::MachineInfo m;
  m.numCores = 4;
  m.memoryCapacityBytes = 8 * kGi;
  ResourceAmounts capacity = nodeCapacity(m, 4194304);
  EXPECT_EQ(capacity, (ResourceAmounts{{"cpu", 4000}, {"memory", 8 * kGi}, {"pid", 4194304}}));

  auto weight = [](int64_t milli) {
    return cgroups::cpuSharesToWeight(cgroups::milliCpuToShares(milli));
  };
  struct Case {
    const char* name;
    NodeAllocatableConfig cfg;
    int64_t cpuMilli, memory, pids;
  };
  std::vector<Case> cases = {
      {"nothing reserved", {{}, {}, {"pods"}, true}, 4000, 8 * kGi, 4194304},
      {"kube and system reserved",
       {{{"cpu", "500m"}, {"memory", "512Mi"}, {"pid", "1000"}},
        {{"cpu", "250m"}, {"memory", "1Gi"}, {"ephemeral-storage", "1Gi"}},
        {"pods"},
        true},
       3250,
       8 * kGi - 512 * kMi - kGi,
       4193304},
      {"not enforced on pods: the capacity",
       {{{"cpu", "500m"}, {"memory", "512Mi"}}, {}, {"system-reserved"}, true},
       4000,
       8 * kGi,
       4194304},
      {"no QoS cgroups: the capacity",
       {{{"memory", "512Mi"}}, {}, {"pods"}, false},
       4000,
       8 * kGi,
       4194304},
      {"more reserved than there is", {{{"cpu", "5"}}, {}, {"pods"}, true}, 0, 8 * kGi, 4194304},
  };
  for (const auto& c : cases) {
    auto rc = kubepodsResourceConfig(capacity, c.cfg);
    ASSERT_TRUE(rc.ok()) << c.name << ": " << rc.status();
    EXPECT_EQ(rc->cpuWeight, weight(c.cpuMilli)) << c.name;
    EXPECT_EQ(rc->memoryMax, c.memory) << c.name;
    EXPECT_EQ(rc->pidsMax, c.pids) << c.name;
    EXPECT_FALSE(rc->cpuQuotaUs.has_value()) << c.name;
  }
  // 4 CPUs: 4096 shares, weight 157.
  EXPECT_EQ(kubepodsResourceConfig(capacity, {})->cpuWeight, 157u);
}

TEST(NodeAllocatableTest, BadReservationNamesIt) {
  ResourceAmounts capacity{{"cpu", 2000}, {"memory", kGi}};
  auto rc = kubepodsResourceConfig(capacity, {{{"memory", "lots"}}, {}, {"pods"}, true});
  ASSERT_FALSE(rc.ok());
  EXPECT_NE(rc.status().message().find("kubeReserved memory"), std::string::npos) << rc.status();
}

TEST(NodeAllocatableTest, PidCapacityIsTheSmallerKernelLimit) {
  char tmpl[] = "/tmp/cm-pids-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  EXPECT_EQ(readPidCapacity(root), std::nullopt);
  ASSERT_TRUE(core::mkdirAll(root + "/proc/sys/kernel", 0755).ok());
  ASSERT_TRUE(core::writeFileAtomic(root + "/proc/sys/kernel/pid_max", "4194304\n", 0644).ok());
  EXPECT_EQ(readPidCapacity(root), 4194304);
  ASSERT_TRUE(core::writeFileAtomic(root + "/proc/sys/kernel/threads-max", "63000\n", 0644).ok());
  EXPECT_EQ(readPidCapacity(root), 63000);
  EXPECT_TRUE(core::removeAll(root).ok());
}

}  // namespace
}  // namespace agent::cm

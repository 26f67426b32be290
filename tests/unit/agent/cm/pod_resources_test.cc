// A pod's resources as the kubelet computes them: QoS class, effective requests and
// limits with init and sidecar containers, the pod cgroup's ResourceConfig
// (ResourceConfigForPod), each container's CRI LinuxContainerResources with the OOM
// score adjust and memory QoS, the sandbox's resources, and the cgroup names.
#include "agent/cm/pod_resources.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/agent/cm/cm_test_pods.h"

namespace agent::cm {
namespace {

using cgroups::QosClass;
using cubelet::testing::bestEffortPod;
using cubelet::testing::burstablePod;
using cubelet::testing::ctr;
using cubelet::testing::guaranteedPod;
using cubelet::testing::podWith;

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

TEST(PodResourcesTest, QosClasses) {
  struct Case {
    const char* name;
    api::Pod pod;
    QosClass want;
  };
  std::vector<Case> cases = {
      {"requests == limits", guaranteedPod("a"), QosClass::kGuaranteed},
      {"limits only (requests default to them)",
       podWith("a", {ctr("c", {}, {{"cpu", "1"}, {"memory", "1Gi"}})}), QosClass::kGuaranteed},
      {"requests only", burstablePod("a"), QosClass::kBurstable},
      {"memory limit only", podWith("a", {ctr("c", {}, {{"memory", "1Gi"}})}),
       QosClass::kBurstable},
      {"one guaranteed, one not",
       podWith("a", {guaranteedPod("x").spec.containers[0], ctr("d", {}, {})}),
       QosClass::kBurstable},
      {"init container with requests",
       podWith("a", {ctr("c", {}, {})}, {ctr("i", {{"cpu", "100m"}}, {})}), QosClass::kBurstable},
      {"nothing", bestEffortPod("a"), QosClass::kBestEffort},
      {"other resources only", podWith("a", {ctr("c", {{"ephemeral-storage", "1Gi"}}, {})}),
       QosClass::kBestEffort},
  };
  for (const auto& c : cases) EXPECT_EQ(qosClassOf(c.pod), c.want) << c.name;
}

TEST(PodResourcesTest, RequestsAndLimitsWithInitAndSidecarContainers) {
  struct Case {
    const char* name;
    api::Pod pod;
    ResourceAmounts requests, limits;
  };
  std::vector<Case> cases = {
      {"app containers add up",
       podWith("a", {ctr("a", {{"cpu", "100m"}, {"memory", "64Mi"}}, {{"cpu", "200m"}}),
                     ctr("b", {{"cpu", "200m"}}, {{"cpu", "300m"}, {"memory", "1Gi"}})}),
       {{"cpu", 300}, {"memory", 64 * kMi}},
       {{"cpu", 500}, {"memory", kGi}}},
      {"a larger init container wins",
       podWith("a", {ctr("a", {{"cpu", "100m"}}, {}), ctr("b", {{"cpu", "200m"}}, {})},
               {ctr("i", {{"cpu", "500m"}, {"memory", "1Mi"}}, {})}),
       {{"cpu", 500}, {"memory", kMi}},
       {}},
      {"a smaller init container does not count",
       podWith("a", {ctr("a", {{"cpu", "1"}}, {})}, {ctr("i", {{"cpu", "500m"}}, {})}),
       {{"cpu", 1000}},
       {}},
      {"sidecars run with everything after them",
       podWith("a", {ctr("a", {{"cpu", "100m"}}, {}), ctr("b", {{"cpu", "200m"}}, {})},
               {ctr("s", {{"cpu", "50m"}}, {}, /*sidecar=*/true), ctr("i", {{"cpu", "400m"}}, {})}),
       // app 300 + sidecar 50 = 350; the init container runs next to the sidecar: 450.
       {{"cpu", 450}},
       {}},
      {"a sidecar after the init container only adds",
       podWith("a", {ctr("a", {{"cpu", "100m"}}, {})},
               {ctr("i", {{"cpu", "400m"}}, {}), ctr("s", {{"cpu", "50m"}}, {}, true)}),
       {{"cpu", 400}},
       {}},
      {"a zero request is still a request",
       podWith("a", {ctr("a", {{"cpu", "0"}}, {})}),
       {{"cpu", 0}},
       {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(podRequests(c.pod), c.requests) << c.name;
    EXPECT_EQ(podLimits(c.pod), c.limits) << c.name;
  }
}

TEST(PodResourcesTest, ResourceConfigForPod) {
  auto weight = [](int64_t shares) { return cgroups::cpuSharesToWeight(shares); };
  struct Case {
    const char* name;
    api::Pod pod;
    bool enforceCpuLimits = true;
    bool memoryQoS = false;
    cgroups::ResourceConfig want;
  };
  std::vector<Case> cases;
  {
    cgroups::ResourceConfig g;
    g.cpuWeight = weight(1024);
    g.cpuQuotaUs = 100000;
    g.cpuPeriodUs = 100000;
    g.memoryMax = kGi;
    cases.push_back({"guaranteed", guaranteedPod("a"), true, false, g});
    g.cpuQuotaUs = -1;
    cases.push_back({"guaranteed without CFS quota", guaranteedPod("a"), false, false, g});
  }
  {
    cgroups::ResourceConfig b;
    b.cpuWeight = weight(307);  // 300m of requests
    b.cpuQuotaUs = 70000;
    b.cpuPeriodUs = 100000;
    b.memoryMax = 384 * kMi;
    cases.push_back(
        {"burstable, every container limited",
         podWith("a", {ctr("a", {{"cpu", "100m"}}, {{"cpu", "300m"}, {"memory", "128Mi"}}),
                       ctr("b", {{"cpu", "200m"}}, {{"cpu", "400m"}, {"memory", "256Mi"}})}),
         true, false, b});
  }
  {
    cgroups::ResourceConfig b;
    b.cpuWeight = weight(307);
    b.memoryMax = 384 * kMi;
    cases.push_back(
        {"burstable, one container without a CPU limit",
         podWith("a", {ctr("a", {{"cpu", "100m"}}, {{"cpu", "300m"}, {"memory", "128Mi"}}),
                       ctr("b", {{"cpu", "200m"}}, {{"memory", "256Mi"}})}),
         true, false, b});
  }
  {
    cgroups::ResourceConfig b;
    b.cpuWeight = weight(102);
    b.cpuQuotaUs = 10000;
    b.cpuPeriodUs = 100000;
    // The init container has no memory limit: no memory.max for the pod.
    cases.push_back(
        {"burstable, an init container without a memory limit",
         podWith("a", {ctr("a", {{"cpu", "100m"}}, {{"cpu", "100m"}, {"memory", "64Mi"}})},
                 {ctr("i", {}, {{"cpu", "100m"}})}),
         true, false, b});
  }
  {
    cgroups::ResourceConfig b;
    b.cpuWeight = weight(102);
    b.memoryMin = 64 * kMi;
    cases.push_back({"burstable with memory QoS", burstablePod("a"), true, true, b});
  }
  {
    cgroups::ResourceConfig e;
    e.cpuWeight = 1;
    cases.push_back({"besteffort", bestEffortPod("a"), true, true, e});
  }
  for (const auto& c : cases) {
    EXPECT_EQ(resourceConfigForPod(c.pod, c.enforceCpuLimits, 100000, c.memoryQoS), c.want)
        << c.name;
  }
}

TEST(PodResourcesTest, ContainerResourcesForCri) {
  ContainerResourceOptions opts;
  opts.memoryCapacity = kGi;
  struct Want {
    int64_t shares, quota, period, memory, oom;
  };
  struct Case {
    const char* name;
    api::Pod pod;
    Want want;
  };
  std::vector<Case> cases = {
      {"guaranteed", guaranteedPod("a", "500m", "128Mi"), {512, 50000, 100000, 128 * kMi, -997}},
      {"burstable: requests only",
       burstablePod("a", "100m", "64Mi"),
       // 1000 - 1000 * 64Mi / 1Gi = 937.5 -> 938 (integer division of the share).
       {102, 0, 100000, 0, 938}},
      {"burstable: a CPU limit without a request gives the shares",
       podWith("a", {ctr("c", {{"memory", "64Mi"}}, {{"cpu", "200m"}})}),
       {204, 20000, 100000, 0, 938}},
      {"besteffort", bestEffortPod("a"), {2, 0, 100000, 0, 1000}},
  };
  for (const auto& c : cases) {
    auto r = linuxContainerResources(c.pod, c.pod.spec.containers[0], opts);
    EXPECT_EQ(r.cpu_shares(), c.want.shares) << c.name;
    EXPECT_EQ(r.cpu_quota(), c.want.quota) << c.name;
    EXPECT_EQ(r.cpu_period(), c.want.period) << c.name;
    EXPECT_EQ(r.memory_limit_in_bytes(), c.want.memory) << c.name;
    EXPECT_EQ(r.oom_score_adj(), c.want.oom) << c.name;
    EXPECT_TRUE(r.unified().empty()) << c.name;
  }
}

TEST(PodResourcesTest, ContainerResourcesWithoutCfsQuotaAndWithAPeriod) {
  api::Pod pod = guaranteedPod("a", "250m", "1Gi");
  ContainerResourceOptions opts;
  opts.memoryCapacity = 4 * kGi;
  opts.cpuCFSQuota = false;
  auto r = linuxContainerResources(pod, pod.spec.containers[0], opts);
  EXPECT_EQ(r.cpu_quota(), 0);
  EXPECT_EQ(r.cpu_period(), 0);
  EXPECT_EQ(r.cpu_shares(), 256);
  opts.cpuCFSQuota = true;
  opts.cpuCFSQuotaPeriodUs = 50000;
  r = linuxContainerResources(pod, pod.spec.containers[0], opts);
  EXPECT_EQ(r.cpu_quota(), 12500);
  EXPECT_EQ(r.cpu_period(), 50000);
}

TEST(PodResourcesTest, MemoryQoSAndOomGroup) {
  ContainerResourceOptions opts;
  opts.memoryCapacity = 4 * kGi;
  opts.memoryQoS = true;
  opts.allocatableMemory = kGi;
  opts.oomGroup = true;
  using Unified = std::map<std::string, std::string>;
  struct Case {
    const char* name;
    api::Pod pod;
    Unified want;
  };
  std::vector<Case> cases = {
      {"request and limit",
       podWith("a", {ctr("c", {{"memory", "64Mi"}}, {{"memory", "128Mi"}})}),
       {{"memory.oom.group", "1"}, {"memory.min", "67108864"}, {"memory.high", "127504384"}}},
      {"no limit: allocatable memory is the ceiling",
       burstablePod("a", "100m", "64Mi"),
       {{"memory.oom.group", "1"}, {"memory.min", "67108864"}, {"memory.high", "973078528"}}},
      {"request == limit: no memory.high",
       guaranteedPod("a", "1", "256Mi"),
       {{"memory.oom.group", "1"}, {"memory.min", "268435456"}}},
      {"nothing requested",
       bestEffortPod("a"),
       {{"memory.oom.group", "1"}}},  // request == limit == 0: no memory.high
  };
  for (const auto& c : cases) {
    auto r = linuxContainerResources(c.pod, c.pod.spec.containers[0], opts);
    EXPECT_EQ(Unified(r.unified().begin(), r.unified().end()), c.want) << c.name;
  }
}

TEST(PodResourcesTest, OomScoreAdjustOfCriticalPodsAndSidecars) {
  api::Pod staticPod = burstablePod("a");
  staticPod.metadata.annotations["kubernetes.io/config.source"] = "file";
  staticPod.spec.priorityClassName = "system-node-critical";
  EXPECT_TRUE(isNodeCriticalPod(staticPod));
  EXPECT_EQ(containerOomScoreAdj(staticPod, staticPod.spec.containers[0], kGi), -997);

  api::Pod apiPod = burstablePod("b");
  apiPod.metadata.annotations["kubernetes.io/config.source"] = "api";
  apiPod.spec.priorityClassName = "system-node-critical";
  EXPECT_FALSE(isCriticalPod(apiPod));
  EXPECT_NE(containerOomScoreAdj(apiPod, apiPod.spec.containers[0], kGi), -997);
  apiPod.spec.priority = 2000001000;
  EXPECT_TRUE(isNodeCriticalPod(apiPod));
  apiPod.spec.priorityClassName = "system-cluster-critical";
  EXPECT_TRUE(isCriticalPod(apiPod));
  EXPECT_FALSE(isNodeCriticalPod(apiPod));

  api::Pod mirror = bestEffortPod("c");
  mirror.metadata.annotations["kubernetes.io/config.mirror"] = "hash";
  EXPECT_TRUE(isCriticalPod(mirror));
  EXPECT_EQ(containerOomScoreAdj(mirror, mirror.spec.containers[0], kGi), 1000);

  // A sidecar scores no higher than the regular container with the smallest request.
  api::Pod withSidecar = podWith("d", {ctr("app", {{"memory", "512Mi"}}, {})},
                                 {ctr("side", {{"memory", "16Mi"}}, {}, true)});
  EXPECT_EQ(containerOomScoreAdj(withSidecar, withSidecar.spec.initContainers[0], kGi), 500);
  EXPECT_EQ(containerOomScoreAdj(withSidecar, withSidecar.spec.containers[0], kGi), 500);
}

TEST(PodResourcesTest, SandboxResources) {
  ContainerResourceOptions opts;
  opts.memoryCapacity = kGi;
  api::Pod pod = podWith("a", {ctr("a", {{"cpu", "100m"}}, {{"cpu", "300m"}, {"memory", "64Mi"}}),
                               ctr("b", {{"cpu", "200m"}}, {{"cpu", "400m"}, {"memory", "64Mi"}})});
  auto r = sandboxLinuxResources(pod, opts);
  EXPECT_EQ(r.cpu_shares(), 307);
  EXPECT_EQ(r.cpu_quota(), 70000);
  EXPECT_EQ(r.cpu_period(), 100000);
  EXPECT_EQ(r.memory_limit_in_bytes(), 128 * kMi);
  EXPECT_EQ(r.oom_score_adj(), 0);
  // Limits without requests: the shares come from the limits.
  api::Pod limited = podWith("b", {ctr("a", {}, {{"cpu", "1"}})});
  EXPECT_EQ(sandboxLinuxResources(limited, opts).cpu_shares(), 1024);
  EXPECT_EQ(sandboxLinuxResources(bestEffortPod("c"), opts).cpu_shares(), 2);
}

TEST(PodResourcesTest, CgroupNames) {
  cgroups::CgroupName root;
  EXPECT_EQ(cgroups::toCgroupfs(podCgroup(root, guaranteedPod("u1"))), "/kubepods/podu1");
  EXPECT_EQ(cgroups::toCgroupfs(podCgroup(root, burstablePod("u2"))), "/kubepods/burstable/podu2");
  EXPECT_EQ(cgroups::toCgroupfs(podCgroup(root, bestEffortPod("u3"))),
            "/kubepods/besteffort/podu3");
  cgroups::CgroupName custom{{"custom"}};
  EXPECT_EQ(cgroups::toCgroupfs(qosCgroup(custom, QosClass::kBurstable)),
            "/custom/kubepods/burstable");
  EXPECT_EQ(cgroups::toSystemd(podCgroup(root, QosClass::kBurstable, "1-2")),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice");
}

}  // namespace
}  // namespace agent::cm

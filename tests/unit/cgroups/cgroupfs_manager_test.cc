// The cgroupfs driver against a fake cgroup2 tree (fake_cgroup_tree.h): what it
// makes, enables and writes, and how it fails.
#include "cgroups/cgroupfs_manager.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/cgroups/fake_cgroup_tree.h"

namespace cubelet::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const cgroups::CgroupName kPod{{"kubepods", "burstable", "pod1234-5678"}};
const char kPodRel[] = "kubepods/burstable/pod1234-5678";

class CgroupfsManagerTest : public ::testing::Test {
 protected:
  explicit CgroupfsManagerTest(
      const std::string& rootControllers = "cpuset cpu io memory hugetlb pids rdma misc")
      : tree_(rootControllers), mgr_(tree_.root(), tree_.ops()) {}

  std::string podFile(const std::string& f) const {
    return tree_.read(std::string(kPodRel) + "/" + f);
  }

  FakeCgroupTree tree_;
  cgroups::CgroupfsManager mgr_;
};

TEST_F(CgroupfsManagerTest, DescribesItself) {
  EXPECT_EQ(mgr_.driver(), "cgroupfs");
  EXPECT_TRUE(mgr_.managesCgroups());
  EXPECT_EQ(mgr_.runtimeParent(kPod), "/kubepods/burstable/pod1234-5678");
  EXPECT_EQ(mgr_.path(kPod), tree_.root() + "/kubepods/burstable/pod1234-5678");
  EXPECT_EQ(mgr_.path(cgroups::CgroupName{}), tree_.root());
  cgroups::CgroupfsManager slash(tree_.root() + "/", tree_.ops());
  EXPECT_EQ(slash.path(kPod), mgr_.path(kPod));
}

TEST_F(CgroupfsManagerTest, CreateMakesAncestorsAndEnablesTheKubeletControllersInEach) {
  bool called = false;
  absl::Status got;
  mgr_.create(kPod, cgroups::ResourceConfig{}, [&](absl::Status s) {
    called = true;
    got = s;
  });
  ASSERT_TRUE(called) << "Done must run before create returns";
  ASSERT_TRUE(got.ok()) << got;
  EXPECT_THAT(tree_.mkdirs(), ElementsAre("kubepods", "kubepods/burstable", kPodRel));
  // The kubelet's set (cpu cpuset memory hugetlb pids) that the root offers; not io,
  // rdma or misc.
  const std::string want = "+cpu +cpuset +hugetlb +memory +pids";
  EXPECT_EQ(tree_.read("cgroup.subtree_control"), want);
  EXPECT_EQ(tree_.read("kubepods/cgroup.subtree_control"), want);
  EXPECT_EQ(tree_.read("kubepods/burstable/cgroup.subtree_control"), want);
  EXPECT_EQ(podFile("cgroup.subtree_control"), "") << "the leaf enables nothing";
  EXPECT_EQ(podFile("cgroup.controllers"), "cpuset cpu memory hugetlb pids\n");
  EXPECT_TRUE(mgr_.exists(kPod));
  EXPECT_TRUE(mgr_.exists(cgroups::CgroupName{{"kubepods"}}));
  EXPECT_FALSE(mgr_.exists(cgroups::CgroupName{{"kubepods", "besteffort"}}));
}

TEST_F(CgroupfsManagerTest, CreatingAnExistingCgroupOnlyAppliesTheValues) {
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  cgroups::ResourceConfig rc;
  rc.memoryMax = 1 << 20;
  ASSERT_TRUE(mgr_.createSync(kPod, rc).ok());
  EXPECT_EQ(tree_.mkdirs().size(), 3u);
  EXPECT_EQ(podFile("memory.max"), "1048576");
  // A sibling under the existing parents makes only itself.
  ASSERT_TRUE(mgr_.createSync(cgroups::CgroupName{{"kubepods", "burstable", "podother"}}, {}).ok());
  EXPECT_THAT(tree_.mkdirs(), ElementsAre("kubepods", "kubepods/burstable", kPodRel,
                                          "kubepods/burstable/podother"));
}

struct WriteCase {
  const char* name;
  cgroups::ResourceConfig rc;
  const char* file;
  const char* want;
};
// Names the case in gtest's output (and ctest's test list) instead of its bytes.
void PrintTo(const WriteCase& c, std::ostream* os) { *os << c.name; }

cgroups::ResourceConfig rcWith(void (*set)(cgroups::ResourceConfig&)) {
  cgroups::ResourceConfig rc;
  set(rc);
  return rc;
}

class CgroupfsWriteTest : public CgroupfsManagerTest,
                          public ::testing::WithParamInterface<WriteCase> {};

TEST_P(CgroupfsWriteTest, WritesTheKernelFormat) {
  const WriteCase& c = GetParam();
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  absl::Status s = mgr_.updateSync(kPod, c.rc);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(podFile(c.file), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Values, CgroupfsWriteTest,
    ::testing::Values(
        WriteCase{"CpuWeight", rcWith([](auto& r) { r.cpuWeight = 39; }), "cpu.weight", "39"},
        WriteCase{"CpuWeightMax", rcWith([](auto& r) { r.cpuWeight = 10000; }), "cpu.weight",
                  "10000"},
        WriteCase{"CpuMaxUnlimited",
                  rcWith([](auto& r) { r.cpuQuotaUs = -1, r.cpuPeriodUs = 100000; }), "cpu.max",
                  "max 100000"},
        WriteCase{"CpuMaxQuota",
                  rcWith([](auto& r) { r.cpuQuotaUs = 50000, r.cpuPeriodUs = 100000; }), "cpu.max",
                  "50000 100000"},
        WriteCase{"CpuMaxQuotaAloneKeepsPeriod", rcWith([](auto& r) { r.cpuQuotaUs = 20000; }),
                  "cpu.max", "20000"},
        WriteCase{"CpuMaxPeriodAloneKeepsQuota", rcWith([](auto& r) { r.cpuPeriodUs = 50000; }),
                  "cpu.max", "max 50000"},
        WriteCase{"MemoryMax", rcWith([](auto& r) { r.memoryMax = int64_t{1} << 30; }),
                  "memory.max", "1073741824"},
        WriteCase{"MemoryMaxUnlimited", rcWith([](auto& r) { r.memoryMax = -1; }), "memory.max",
                  "max"},
        WriteCase{"MemoryMin", rcWith([](auto& r) { r.memoryMin = 67108864; }), "memory.min",
                  "67108864"},
        WriteCase{"MemoryMinZero", rcWith([](auto& r) { r.memoryMin = 0; }), "memory.min", "0"},
        WriteCase{"MemoryHigh", rcWith([](auto& r) { r.memoryHigh = 939524096; }), "memory.high",
                  "939524096"},
        WriteCase{"MemoryHighUnlimited", rcWith([](auto& r) { r.memoryHigh = -1; }), "memory.high",
                  "max"},
        WriteCase{"PidsMax", rcWith([](auto& r) { r.pidsMax = 1024; }), "pids.max", "1024"},
        WriteCase{"PidsMaxUnlimited", rcWith([](auto& r) { r.pidsMax = -1; }), "pids.max", "max"}),
    [](const ::testing::TestParamInfo<WriteCase>& i) { return std::string(i.param.name); });

TEST_F(CgroupfsManagerTest, CreateWritesEveryField) {
  cgroups::ResourceConfig rc{.cpuWeight = 79,
                             .cpuQuotaUs = 150000,
                             .cpuPeriodUs = 100000,
                             .memoryMax = 268435456,
                             .memoryMin = 134217728,
                             .memoryHigh = 241591910,
                             .pidsMax = 512};
  ASSERT_TRUE(mgr_.createSync(kPod, rc).ok());
  EXPECT_EQ(podFile("cpu.weight"), "79");
  EXPECT_EQ(podFile("cpu.max"), "150000 100000");
  EXPECT_EQ(podFile("memory.max"), "268435456");
  EXPECT_EQ(podFile("memory.min"), "134217728");
  EXPECT_EQ(podFile("memory.high"), "241591910");
  EXPECT_EQ(podFile("pids.max"), "512");
  // The parents keep the kernel's defaults: values go only where they are asked.
  EXPECT_EQ(tree_.read("kubepods/burstable/cpu.weight"), "100\n");
  EXPECT_EQ(tree_.read("kubepods/memory.max"), "max\n");
}

TEST_F(CgroupfsManagerTest, UpdateTouchesOnlyTheGivenFields) {
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  for (const char* f : {"cpu.weight", "cpu.max", "memory.min", "memory.high", "pids.max"}) {
    tree_.write(std::string(kPodRel) + "/" + f, "untouched");
  }
  ASSERT_TRUE(mgr_.updateSync(kPod, rcWith([](auto& r) { r.memoryMax = 4096; })).ok());
  EXPECT_EQ(podFile("memory.max"), "4096");
  for (const char* f : {"cpu.weight", "cpu.max", "memory.min", "memory.high", "pids.max"}) {
    EXPECT_EQ(podFile(f), "untouched") << f;
  }
  // Nothing set, nothing read or written: fine even where the files are absent.
  EXPECT_TRUE(mgr_.updateSync(cgroups::CgroupName{{"nowhere"}}, {}).ok());
}

TEST_F(CgroupfsManagerTest, DestroyRemovesChildrenDeepestFirst) {
  for (auto n : {cgroups::CgroupName{{"kubepods", "burstable", "poda"}},
                 cgroups::CgroupName{{"kubepods", "burstable", "podb"}},
                 cgroups::CgroupName{{"kubepods", "besteffort", "podc"}}}) {
    ASSERT_TRUE(mgr_.createSync(n, {}).ok());
  }
  absl::Status got = absl::UnknownError("not called");
  mgr_.destroy(cgroups::CgroupName{{"kubepods"}}, [&](absl::Status s) { got = s; });
  ASSERT_TRUE(got.ok()) << got;
  const auto& order = tree_.rmdirs();
  ASSERT_EQ(order.size(), 6u);
  EXPECT_EQ(order.back(), "kubepods");
  // Every cgroup is removed after all of its descendants.
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t j = i + 1; j < order.size(); ++j) {
      EXPECT_NE(order[j].rfind(order[i] + "/", 0), 0u)
          << order[i] << " removed before its child " << order[j];
    }
  }
  EXPECT_FALSE(mgr_.exists(cgroups::CgroupName{{"kubepods"}}));
  struct stat st;
  EXPECT_NE(::stat((tree_.root() + "/kubepods").c_str(), &st), 0);
  EXPECT_TRUE(mgr_.destroySync(cgroups::CgroupName{{"kubepods"}}).ok())
      << "a missing cgroup is fine";
}

TEST_F(CgroupfsManagerTest, DestroyRefusesAPopulatedCgroupAndRemovesNothing) {
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  ASSERT_TRUE(mgr_.createSync(cgroups::CgroupName{{"kubepods", "besteffort"}}, {}).ok());
  tree_.write(std::string(kPodRel) + "/cgroup.procs", "4242\n");
  tree_.write(std::string(kPodRel) + "/cgroup.events", "populated 1\nfrozen 0\n");
  tree_.write("kubepods/cgroup.events", "populated 1\nfrozen 0\n");
  absl::Status s = mgr_.destroySync(cgroups::CgroupName{{"kubepods"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("destroy " + tree_.root() + "/kubepods: the cgroup still holds processes"));
  EXPECT_TRUE(tree_.rmdirs().empty());
  // The kernel's own refusal (rmdir EBUSY) is reported with the path too.
  tree_.write("kubepods/cgroup.events", "populated 0\nfrozen 0\n");
  s = mgr_.destroySync(cgroups::CgroupName{{"kubepods"}});
  EXPECT_THAT(s.message(), HasSubstr("rmdir " + mgr_.path(kPod) + ": Device or resource busy"));
  EXPECT_EQ(mgr_.destroySync(cgroups::CgroupName{}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CgroupfsManagerTest, WriteErrorsNameTheFileAndTheErrno) {
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  // A missing interface file.
  ASSERT_EQ(::unlink((mgr_.path(kPod) + "/memory.high").c_str()), 0);
  absl::Status s = mgr_.updateSync(kPod, rcWith([](auto& r) { r.memoryHigh = 1 << 20; }));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "write " + mgr_.path(kPod) + "/memory.high: No such file or directory");
  // A file that cannot be written (root ignores modes; a directory cannot be opened
  // for writing at all).
  ASSERT_EQ(::unlink((mgr_.path(kPod) + "/cpu.max").c_str()), 0);
  ASSERT_EQ(::mkdir((mgr_.path(kPod) + "/cpu.max").c_str(), 0755), 0);
  s = mgr_.updateSync(kPod, rcWith([](auto& r) { r.cpuQuotaUs = 10000, r.cpuPeriodUs = 100000; }));
  EXPECT_EQ(s.message(), "write " + mgr_.path(kPod) + "/cpu.max: Is a directory");
  // A value no cgroup file takes.
  s = mgr_.updateSync(kPod, rcWith([](auto& r) { r.pidsMax = -5; }));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("write " + mgr_.path(kPod) + "/pids.max: invalid value -5"));
}

TEST_F(CgroupfsManagerTest, MkdirErrorsNameThePath) {
  tree_.write("kubepods", "a file where a cgroup should be");
  absl::Status s = mgr_.createSync(kPod, {});
  EXPECT_EQ(s.message(), "mkdir " + tree_.root() + "/kubepods: File exists");
}

TEST_F(CgroupfsManagerTest, ExistsNeedsTheKubeletControllers) {
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  tree_.write(std::string(kPodRel) + "/cgroup.controllers", "cpuset cpu memory hugetlb\n");
  EXPECT_FALSE(mgr_.exists(kPod)) << "pids is missing";
}

// A root that offers no pids controller (a container host, say).
class CgroupfsMissingControllerTest : public CgroupfsManagerTest {
 protected:
  CgroupfsMissingControllerTest() : CgroupfsManagerTest("cpu io memory") {}
};

TEST_F(CgroupfsMissingControllerTest, CreatesTheCgroupButFailsTheValueThatNeedsIt) {
  auto rc = rcWith([](auto& r) { r.cpuWeight = 2, r.memoryMax = 1 << 24, r.pidsMax = 100; });
  absl::Status s = mgr_.createSync(kPod, rc);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "write " + mgr_.path(kPod) +
                             "/pids.max: the pids controller is not enabled for this cgroup (" +
                             mgr_.path(kPod) + "/cgroup.controllers lists \"cpu memory\")");
  EXPECT_EQ(tree_.read("cgroup.subtree_control"), "+cpu +memory") << "only what the root offers";
  EXPECT_EQ(podFile("cpu.weight"), "2");
  EXPECT_EQ(podFile("memory.max"), "16777216");
  EXPECT_TRUE(mgr_.exists(kPod)) << "every controller the root offers is there";
}

TEST_F(CgroupfsManagerTest, ProcessHelpersReadAndWriteTheCgroupFiles) {
  ASSERT_TRUE(mgr_.createSync(kPod, {}).ok());
  std::string dir = mgr_.path(kPod);
  auto procs = cgroups::cgroupProcs(dir);
  ASSERT_TRUE(procs.ok()) << procs.status();
  EXPECT_TRUE(procs->empty());
  tree_.write(std::string(kPodRel) + "/cgroup.procs", "12\n345\n");
  procs = cgroups::cgroupProcs(dir);
  ASSERT_TRUE(procs.ok());
  EXPECT_THAT(*procs, ElementsAre(12, 345));
  tree_.write(std::string(kPodRel) + "/cgroup.procs", "12\nx\n");
  EXPECT_THAT(cgroups::cgroupProcs(dir).status().message(),
              HasSubstr(dir + "/cgroup.procs: bad pid \"x\""));

  ASSERT_TRUE(cgroups::moveProcess(dir, 777).ok());
  EXPECT_EQ(podFile("cgroup.procs"), "777");

  auto pop = cgroups::populated(dir);
  ASSERT_TRUE(pop.ok()) << pop.status();
  EXPECT_FALSE(*pop);
  tree_.write(std::string(kPodRel) + "/cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_TRUE(*cgroups::populated(dir));
  tree_.write(std::string(kPodRel) + "/cgroup.events", "frozen 0\n");
  EXPECT_THAT(cgroups::populated(dir).status().message(), HasSubstr("no \"populated\" line"));
  EXPECT_EQ(cgroups::moveProcess(tree_.root() + "/gone", 1).message(),
            "write " + tree_.root() + "/gone/cgroup.procs: No such file or directory");
}

}  // namespace
}  // namespace cubelet::testing

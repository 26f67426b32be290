// Pod cgroups: made before the sandbox (QoS tiers updated first, the pod's limits and
// pids.max applied), named as the sandbox's parent per driver, removed after the pod,
// orphans cleaned up, the periodic QoS update, and on a v1 host nothing but names and
// the removal of the directories the runtime made (a fake v1 tree in a temp dir).
#include "agent/cm/pod_cgroups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/cm/pod_resources.h"
#include "cgroups/cgroup_version.h"
#include "core/atomic_file.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/unit/agent/cm/cm_test_pods.h"
#include "tests/unit/agent/cm/fake_cgroup_manager.h"

namespace agent::cm {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using namespace cubelet::testing;
using namespace std::chrono_literals;

constexpr int64_t kGi = int64_t{1} << 30;

class PodCgroupsTest : public ::testing::Test {
 protected:
  void make(PodCgroupsOptions opts = {}) {
    qos_ = std::make_unique<QosCgroups>(m_, opts.root, cgroups::ResourceConfig{}, opts.memoryQoS);
    pc_ = std::make_unique<PodCgroups>(
        loop_, m_, qos_.get(), opts, [this] { return active_; },
        [this](const std::string& dir) { return dirs_[dir]; });
  }
  absl::Status run(const std::function<void(Done)>& f) {
    std::optional<absl::Status> got;
    f([&](absl::Status s) { got = s; });
    EXPECT_TRUE(got.has_value()) << "the callback did not run";
    return got.value_or(absl::UnknownError("no answer"));
  }
  void started() {
    ASSERT_TRUE(run([&](Done d) { pc_->start(d); }).ok());
    m_.calls.clear();
  }

  core::SimEventLoop loop_;
  FakeCgroupManager m_;
  std::unique_ptr<QosCgroups> qos_;
  std::unique_ptr<PodCgroups> pc_;
  PodList active_;
  std::map<std::string, std::vector<std::string>> dirs_;
};

TEST_F(PodCgroupsTest, EnsureUpdatesTheQosTiersThenCreatesThePodCgroup) {
  PodCgroupsOptions o;
  o.podPidsLimit = 1024;
  make(o);
  started();
  auto pod = shared(burstablePod("u1", "250m", "64Mi"));
  // The pod is not yet in the active list: it counts anyway.
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(pod, d); }).ok());
  EXPECT_THAT(m_.calls, ElementsAre("update /kubepods/burstable", "update /kubepods/besteffort",
                                    "create /kubepods/burstable/podu1"));
  EXPECT_EQ(m_.config("/kubepods/burstable")->cpuWeight, cgroups::cpuSharesToWeight(256));
  const cgroups::ResourceConfig* rc = m_.config("/kubepods/burstable/podu1");
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->cpuWeight, cgroups::cpuSharesToWeight(256));
  EXPECT_EQ(rc->pidsMax, 1024);
  EXPECT_FALSE(rc->memoryMax.has_value());
  EXPECT_FALSE(rc->cpuQuotaUs.has_value());

  // An existing pod cgroup is left as it is.
  m_.calls.clear();
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(pod, d); }).ok());
  EXPECT_THAT(m_.calls, IsEmpty());
}

TEST_F(PodCgroupsTest, GuaranteedAndBestEffortPods) {
  make();
  started();
  auto g = shared(guaranteedPod("g1", "500m", "1Gi"));
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(g, d); }).ok());
  const cgroups::ResourceConfig* rc = m_.config("/kubepods/podg1");
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->cpuQuotaUs, 50000);
  EXPECT_EQ(rc->cpuPeriodUs, 100000u);
  EXPECT_EQ(rc->memoryMax, kGi);
  EXPECT_FALSE(rc->pidsMax.has_value());  // podPidsLimit -1: no pids.max

  auto b = shared(bestEffortPod("b1"));
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(b, d); }).ok());
  ASSERT_NE(m_.config("/kubepods/besteffort/podb1"), nullptr);
  EXPECT_EQ(m_.config("/kubepods/besteffort/podb1")->cpuWeight, 1u);
}

TEST_F(PodCgroupsTest, ParentPerDriver) {
  make();
  api::Pod pod = burstablePod("1234-abcd");
  EXPECT_EQ(pc_->parentFor(pod), "/kubepods/burstable/pod1234-abcd");
  EXPECT_EQ(pc_->parentFor(guaranteedPod("u")), "/kubepods/podu");
  m_.setDriver("systemd");
  EXPECT_EQ(pc_->parentFor(pod),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_abcd.slice");
  PodCgroupsOptions flat;
  flat.cgroupsPerQOS = false;
  flat.root = {{"pods"}};
  m_.setDriver("cgroupfs");
  make(flat);
  EXPECT_EQ(pc_->parentFor(pod), "/pods");
}

TEST_F(PodCgroupsTest, CreateErrorIsTheKubelets) {
  make();
  started();
  m_.failOn("create /kubepods/burstable/podu1", absl::PermissionDeniedError("mkdir: EACCES"));
  absl::Status s = run([&](Done d) { pc_->ensure(shared(burstablePod("u1")), d); });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "failed to create container for [kubepods burstable podu1] : mkdir: EACCES");
}

TEST_F(PodCgroupsTest, RemoveDestroysWhereverThePodIsThenUpdatesQos) {
  make();
  started();
  auto pod = shared(burstablePod("u1", "1"));
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(pod, d); }).ok());
  EXPECT_EQ(m_.config("/kubepods/burstable")->cpuWeight, cgroups::cpuSharesToWeight(1024));
  m_.calls.clear();
  ASSERT_TRUE(run([&](Done d) { pc_->remove("u1", d); }).ok());
  EXPECT_THAT(m_.calls, ElementsAre("destroy /kubepods/burstable/podu1",
                                    "update /kubepods/burstable", "update /kubepods/besteffort"));
  EXPECT_EQ(m_.config("/kubepods/burstable/podu1"), nullptr);
  EXPECT_EQ(m_.config("/kubepods/burstable")->cpuWeight, 1u);
  // Nothing left: nothing to do.
  m_.calls.clear();
  ASSERT_TRUE(run([&](Done d) { pc_->remove("u1", d); }).ok());
  EXPECT_THAT(m_.calls, IsEmpty());
}

TEST_F(PodCgroupsTest, CleanupOrphansKeepsActivePods) {
  make();
  started();
  m_.add("/kubepods/podg-keep");
  m_.add("/kubepods/podg-gone");
  m_.add("/kubepods/burstable/podb-gone");
  dirs_["/sys/fs/cgroup/kubepods"] = {".",          "..",        "burstable",
                                      "besteffort", "podg-keep", "podg-gone"};
  dirs_["/sys/fs/cgroup/kubepods/burstable"] = {"podb-gone"};
  ASSERT_TRUE(run([&](Done d) { pc_->cleanupOrphans({"g-keep"}, d); }).ok());
  EXPECT_THAT(m_.calls, UnorderedElementsAre("destroy /kubepods/podg-gone",
                                             "destroy /kubepods/burstable/podb-gone"));
  EXPECT_NE(m_.config("/kubepods/podg-keep"), nullptr);
}

TEST_F(PodCgroupsTest, CleanupOrphansUnderSystemdSlices) {
  make();
  started();
  m_.setDriver("systemd");
  dirs_["/sys/fs/cgroup/kubepods/besteffort"] = {"kubepods-besteffort-pod12_34.slice",
                                                 "kubepods-besteffort-pod56_78.slice",
                                                 "something.scope"};
  ASSERT_TRUE(run([&](Done d) { pc_->cleanupOrphans({"56-78"}, d); }).ok());
  EXPECT_THAT(m_.calls, ElementsAre("destroy /kubepods/besteffort/pod12-34"));
}

TEST_F(PodCgroupsTest, PeriodicQosUpdate) {
  make();
  started();
  active_ = {shared(burstablePod("a", "2"))};
  loop_.advance(59s);
  EXPECT_THAT(m_.calls, IsEmpty());
  loop_.advance(1s);
  EXPECT_THAT(m_.calls, ElementsAre("update /kubepods/burstable", "update /kubepods/besteffort"));
  EXPECT_EQ(m_.config("/kubepods/burstable")->cpuWeight, cgroups::cpuSharesToWeight(2048));
  loop_.advance(60s);
  EXPECT_EQ(m_.calls.size(), 4u);
}

TEST_F(PodCgroupsTest, CgroupV1HostOnlyNamesParents) {
  m_.setManages(false);
  make();
  started();
  auto pod = shared(burstablePod("u1"));
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(pod, d); }).ok());
  ASSERT_TRUE(run([&](Done d) { pc_->remove("u1", d); }).ok());
  ASSERT_TRUE(run([&](Done d) { pc_->cleanupOrphans({}, d); }).ok());
  EXPECT_THAT(m_.calls, IsEmpty());
  EXPECT_THAT(m_.paths(), IsEmpty());
  EXPECT_EQ(pc_->parentFor(*pod), "/kubepods/burstable/podu1");
  loop_.advance(5min);
  EXPECT_THAT(m_.calls, IsEmpty());
}

// A v1 host in a temp dir: hierarchies "cpu,cpuacct", "memory" and a hybrid
// "unified", in a mount table of its own, managed by the real v1 manager.
class V1PodCgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-v1pods-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string table;
    int minor = 50;
    for (const char* h : {"cpu,cpuacct", "memory", "unified"}) {
      std::string point = dir_ + "/" + h;
      ASSERT_TRUE(core::mkdirAll(point).ok());
      hierarchies_.push_back(point);
      std::string type = std::string(h) == "unified" ? "cgroup2" : "cgroup";
      table += std::to_string(minor) + " 1 0:" + std::to_string(minor) + " / " + point + " rw - " +
               type + " " + type + " rw," + h + "\n";
      ++minor;
    }
    ASSERT_TRUE(core::writeFileAtomic(dir_ + "/mountinfo", table).ok());
    manager_ = std::make_unique<cgroups::LegacyCgroupManager>("cgroupfs", dir_ + "/mountinfo");
    qos_ = std::make_unique<QosCgroups>(*manager_, cgroups::CgroupName{}, cgroups::ResourceConfig{},
                                        false);
    pc_ = std::make_unique<PodCgroups>(loop_, *manager_, qos_.get(), PodCgroupsOptions{},
                                       [] { return PodList{}; });
  }
  void TearDown() override { EXPECT_TRUE(core::removeAll(dir_).ok()); }
  // What runc leaves: the pod's directory and a container's in every hierarchy.
  void leftovers(const std::string& rel) {
    for (const auto& h : hierarchies_) ASSERT_TRUE(core::mkdirAll(h + "/" + rel + "/ctr1").ok());
  }
  int countIn(const std::string& rel) {
    int n = 0;
    for (const auto& h : hierarchies_) n += ::access((h + "/" + rel).c_str(), F_OK) == 0;
    return n;
  }
  absl::Status run(const std::function<void(Done)>& f) {
    std::optional<absl::Status> got;
    f([&](absl::Status s) { got = s; });
    EXPECT_TRUE(got.has_value()) << "the callback did not run";
    return got.value_or(absl::UnknownError("no answer"));
  }

  std::string dir_;
  std::vector<std::string> hierarchies_;
  core::SimEventLoop loop_;
  std::unique_ptr<cgroups::LegacyCgroupManager> manager_;
  std::unique_ptr<QosCgroups> qos_;
  std::unique_ptr<PodCgroups> pc_;
};

TEST_F(V1PodCgroupsTest, RemoveTakesThePodsDirectoriesFromEveryHierarchy) {
  ASSERT_TRUE(run([&](Done d) { pc_->start(d); }).ok());
  auto pod = shared(burstablePod("u1"));
  ASSERT_TRUE(run([&](Done d) { pc_->ensure(pod, d); }).ok());
  EXPECT_EQ(countIn("kubepods"), 0) << "the runtime makes the parents, not cubelet";
  EXPECT_EQ(pc_->parentFor(*pod), "/kubepods/burstable/podu1");
  leftovers("kubepods/burstable/podu1");
  leftovers("kubepods/burstable/podu2");
  ASSERT_TRUE(run([&](Done d) { pc_->remove("u1", d); }).ok());
  EXPECT_EQ(countIn("kubepods/burstable/podu1"), 0);
  EXPECT_EQ(countIn("kubepods/burstable/podu2"), 3);
  EXPECT_EQ(countIn("kubepods/burstable"), 3) << "the QoS parents stay";
  ASSERT_TRUE(run([&](Done d) { pc_->remove("u1", d); }).ok()) << "gone already is fine";
}

TEST_F(V1PodCgroupsTest, OrphansAreRemovedInEveryTier) {
  leftovers("kubepods/podg-gone");
  leftovers("kubepods/podg-keep");
  leftovers("kubepods/burstable/podb-gone");
  leftovers("kubepods/besteffort/pode-keep");
  // Only in one hierarchy, as after an interrupted removal.
  ASSERT_TRUE(core::mkdirAll(hierarchies_[2] + "/kubepods/besteffort/pode-half").ok());
  ASSERT_TRUE(run([&](Done d) { pc_->cleanupOrphans({"g-keep", "e-keep"}, d); }).ok());
  EXPECT_EQ(countIn("kubepods/podg-gone"), 0);
  EXPECT_EQ(countIn("kubepods/burstable/podb-gone"), 0);
  EXPECT_EQ(countIn("kubepods/besteffort/pode-half"), 0);
  EXPECT_EQ(countIn("kubepods/podg-keep/ctr1"), 3);
  EXPECT_EQ(countIn("kubepods/besteffort/pode-keep/ctr1"), 3);
  EXPECT_EQ(countIn("kubepods/burstable"), 3);
}

TEST_F(V1PodCgroupsTest, TheSystemdDriversSlicesAreRemovedAndOrphansFound) {
  cgroups::LegacyCgroupManager sd("systemd", dir_ + "/mountinfo");
  QosCgroups qos(sd, cgroups::CgroupName{}, cgroups::ResourceConfig{}, false);
  PodCgroups pc(loop_, sd, &qos, PodCgroupsOptions{}, [] { return PodList{}; });
  const std::string burstable = "kubepods.slice/kubepods-burstable.slice";
  leftovers(burstable + "/kubepods-burstable-podu1.slice");
  leftovers(burstable + "/kubepods-burstable-podu_2.slice");
  leftovers(burstable + "/kubepods-burstable-podkeep.slice");
  ASSERT_TRUE(run([&](Done d) { pc.remove("u1", d); }).ok());
  EXPECT_EQ(countIn(burstable + "/kubepods-burstable-podu1.slice"), 0);
  ASSERT_TRUE(run([&](Done d) { pc.cleanupOrphans({"keep"}, d); }).ok());
  EXPECT_EQ(countIn(burstable + "/kubepods-burstable-podu_2.slice"), 0);
  EXPECT_EQ(countIn(burstable + "/kubepods-burstable-podkeep.slice/ctr1"), 3);
  EXPECT_EQ(countIn(burstable), 3) << "the QoS slices stay";
}

TEST_F(V1PodCgroupsTest, ABusyPodCgroupIsAnErrorNamingIt) {
  leftovers("kubepods/besteffort/podu3");
  std::string busy = hierarchies_[1] + "/kubepods/besteffort/podu3/ctr1";
  ASSERT_TRUE(core::writeFileAtomic(busy + "/tasks", "42\n").ok());
  absl::Status s = run([&](Done d) { pc_->remove("u3", d); });
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(
      std::string(s.message()),
      ::testing::HasSubstr("failed to delete cgroup paths for [kubepods besteffort podu3]"));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("rmdir " + busy));
  EXPECT_EQ(countIn("kubepods/besteffort/podu3"), 1) << "the other hierarchies are cleaned";
}

TEST_F(PodCgroupsTest, AsynchronousDriver) {
  make();
  started();
  m_.holdAnswers(true);
  std::optional<absl::Status> got;
  pc_->ensure(shared(guaranteedPod("g")), [&](absl::Status s) { got = s; });
  while (m_.heldCount() > 0) m_.release();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok());
  EXPECT_NE(m_.config("/kubepods/podg"), nullptr);
  // Answers that arrive after the manager is gone are dropped safely.
  pc_->ensure(shared(guaranteedPod("h")), [](absl::Status) {});
  pc_.reset();
  qos_.reset();
  while (m_.heldCount() > 0) m_.release();
  EXPECT_EQ(m_.config("/kubepods/podh"), nullptr);
}

}  // namespace
}  // namespace agent::cm

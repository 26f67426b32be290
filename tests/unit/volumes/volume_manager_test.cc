// The volume manager's reconciling on simulated time, with real directories,
// files and tmpfs mounts under a temporary root dir.
#include "volumes/volume_manager.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/support/volume_checks.h"
#include "volumes/mounts.h"

namespace cubelet::testing {
namespace {

using ::volumes::VolumeKind;
using ::volumes::VolumeManager;
using ::volumes::VolumePlan;

class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override {
    ++jobs;
    job();
  }
  int jobs = 0;
};

struct Event {
  std::string uid, reason, message;
};

class VolumeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/volmgr-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    mgr_ = std::make_unique<VolumeManager>(loop_, pool_, VolumeManager::Options{root_});
    mgr_->setOnReady([this](const std::string& uid) { ready_.push_back(uid); });
    mgr_->setOnEvent(
        [this](const std::string& uid, const std::string& reason, const std::string& message) {
          events_.push_back({uid, reason, message});
        });
  }
  void TearDown() override {
    mgr_.reset();
    ASSERT_TRUE(::volumes::unmountAllUnder(root_).ok());
    EXPECT_TRUE(mountsUnder(root_).empty());
    ASSERT_TRUE(core::removeAll(root_).ok());
  }

  void settle() {
    for (int i = 0; i < 10; ++i) loop_.runPending();
  }

  static VolumePlan emptyDir(const std::string& name, bool memory = false) {
    VolumePlan p;
    p.name = name;
    p.kind = VolumeKind::kEmptyDir;
    p.plugin = ::volumes::kEmptyDirPlugin;
    p.memory = memory;
    return p;
  }
  static VolumePlan configMap(const std::string& name, const std::string& value) {
    VolumePlan p;
    p.name = name;
    p.kind = VolumeKind::kPayload;
    p.plugin = ::volumes::kConfigMapPlugin;
    p.readOnly = true;
    p.payload["key"] = {value, 0644, std::nullopt};
    return p;
  }
  static VolumePlan hostPath(const std::string& name, const std::string& path,
                             const std::string& type) {
    VolumePlan p;
    p.name = name;
    p.kind = VolumeKind::kHostPath;
    p.source = path;
    p.hostPathType = type;
    return p;
  }
  std::string volDir(const std::string& uid, const std::string& plugin, const std::string& name) {
    return root_ + "/pods/" + uid + "/volumes/" + plugin + "/" + name;
  }
  static std::string read(const std::string& path) {
    auto s = core::readFile(path);
    return s.ok() ? *s : "<" + std::string(s.status().message()) + ">";
  }

  core::SimEventLoop loop_;
  InlinePool pool_;
  std::string root_;
  std::unique_ptr<VolumeManager> mgr_;
  std::vector<std::string> ready_;
  std::vector<Event> events_;
};

TEST_F(VolumeManagerTest, PodWithoutVolumesIsReadyAtOnce) {
  mgr_->setPod("u1", {});
  EXPECT_TRUE(mgr_->ready("u1"));
  EXPECT_TRUE(mgr_->mounts("u1")->empty());
  EXPECT_EQ(pool_.jobs, 0);
  EXPECT_FALSE(mgr_->ready("unknown"));
}

TEST_F(VolumeManagerTest, SetsUpEveryKindThenReportsReadyOnce) {
  std::string host = root_ + "/host/data";
  mgr_->setPod("u1", {emptyDir("scratch"), configMap("cfg", "v1"),
                      hostPath("h", host, "DirectoryOrCreate")});
  EXPECT_FALSE(mgr_->ready("u1"));  // the job's result is still to be posted
  settle();
  ASSERT_TRUE(mgr_->ready("u1"));
  EXPECT_EQ(ready_, std::vector<std::string>{"u1"});
  EXPECT_TRUE(events_.empty());

  std::string scratch = volDir("u1", ::volumes::kEmptyDirPlugin, "scratch");
  struct stat st {};
  ASSERT_EQ(stat(scratch.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(read(volDir("u1", ::volumes::kConfigMapPlugin, "cfg") + "/key"), "v1");
  ASSERT_EQ(stat(host.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  auto mounts = mgr_->mounts("u1");
  ASSERT_EQ(mounts->size(), 3u);
  EXPECT_EQ(mounts->at("scratch").hostPath, scratch);
  EXPECT_FALSE(mounts->at("scratch").readOnly);
  EXPECT_TRUE(mounts->at("cfg").readOnly);
  EXPECT_EQ(mounts->at("h").hostPath, host);
}

TEST_F(VolumeManagerTest, ChangedPayloadIsRewrittenUnchangedIsNot) {
  mgr_->setPod("u1", {configMap("cfg", "v1")});
  settle();
  ASSERT_TRUE(mgr_->ready("u1"));
  int jobs = pool_.jobs;
  mgr_->setPod("u1", {configMap("cfg", "v1")});
  settle();
  EXPECT_EQ(pool_.jobs, jobs) << "an unchanged payload needs no job";
  mgr_->setPod("u1", {configMap("cfg", "v2")});
  settle();
  EXPECT_EQ(pool_.jobs, jobs + 1);
  EXPECT_EQ(read(volDir("u1", ::volumes::kConfigMapPlugin, "cfg") + "/key"), "v2");
  EXPECT_EQ(ready_.size(), 1u) << "ready is reported once";
}

TEST_F(VolumeManagerTest, PlanErrorIsFailedMountRetriedWithBackoff) {
  VolumePlan bad = configMap("cfg", "");
  bad.error = "configmap \"missing\" not found";
  mgr_->setPod("u1", {emptyDir("scratch"), bad});
  settle();
  EXPECT_FALSE(mgr_->ready("u1"));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].reason, "FailedMount");
  EXPECT_EQ(events_[0].message,
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"missing\" not found");
  EXPECT_EQ(mgr_->unmounted("u1"), std::vector<std::string>{"cfg"});

  loop_.advance(core::Duration(400));
  settle();
  EXPECT_EQ(events_.size(), 1u) << "not before the 500 ms backoff";
  loop_.advance(core::Duration(200));
  settle();
  EXPECT_EQ(events_.size(), 2u);
  loop_.advance(core::Duration(900));
  settle();
  EXPECT_EQ(events_.size(), 2u) << "the backoff doubled to 1 s";
  loop_.advance(core::Duration(200));
  settle();
  EXPECT_EQ(events_.size(), 3u);

  mgr_->setPod("u1", {emptyDir("scratch"), configMap("cfg", "now here")});
  settle();
  EXPECT_TRUE(mgr_->ready("u1"));
  EXPECT_EQ(ready_, std::vector<std::string>{"u1"});
}

TEST_F(VolumeManagerTest, WaitingVolumeBlocksWithoutEvents) {
  VolumePlan waiting = configMap("cfg", "");
  waiting.waiting = true;
  mgr_->setPod("u1", {waiting});
  settle();
  loop_.advance(std::chrono::seconds(10));
  settle();
  EXPECT_FALSE(mgr_->ready("u1"));
  EXPECT_TRUE(events_.empty());
}

TEST_F(VolumeManagerTest, FailedSetUpIsRetriedUntilItWorks) {
  std::string file = root_ + "/host-file";
  mgr_->setPod("u1", {hostPath("h", file, "File")});
  settle();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_NE(events_[0].message.find("MountVolume.SetUp failed for volume \"h\" : "),
            std::string::npos);
  EXPECT_NE(events_[0].message.find(file), std::string::npos) << events_[0].message;
  EXPECT_FALSE(mgr_->ready("u1"));
  ASSERT_TRUE(core::writeFileAtomic(file, "x").ok());
  loop_.advance(core::Duration(600));
  settle();
  EXPECT_TRUE(mgr_->ready("u1"));
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(VolumeManagerTest, RemovePodUnmountsAndRemovesOnlyItsOwn) {
  std::string host = root_ + "/host";
  ASSERT_TRUE(core::mkdirAll(host).ok());
  ASSERT_TRUE(core::writeFileAtomic(host + "/keep", "data").ok());
  mgr_->setPod("u1", {emptyDir("mem", /*memory=*/true), hostPath("h", host, "Directory")});
  settle();
  ASSERT_TRUE(mgr_->ready("u1"));
  std::string mem = volDir("u1", ::volumes::kEmptyDirPlugin, "mem");
  auto mounted = ::volumes::isMountPoint(mem);
  ASSERT_TRUE(mounted.ok() && *mounted);
  ASSERT_TRUE(core::writeFileAtomic(mem + "/f", "in memory").ok());

  mgr_->removePod("u1", /*removePodDir=*/true);
  EXPECT_FALSE(mgr_->ready("u1"));
  settle();
  EXPECT_TRUE(mountsUnder(root_).empty());
  struct stat st {};
  EXPECT_NE(stat((root_ + "/pods/u1").c_str(), &st), 0) << "the pod dir is gone";
  EXPECT_EQ(read(host + "/keep"), "data") << "the hostPath is untouched";
  EXPECT_EQ(mgr_->podCount(), 0u);
}

TEST_F(VolumeManagerTest, TerminatedPodKeepsItsDirectoryButNotItsVolumes) {
  mgr_->setPod("u1", {emptyDir("mem", /*memory=*/true)});
  settle();
  ASSERT_TRUE(core::mkdirAll(root_ + "/pods/u1/containers/c").ok());
  mgr_->removePod("u1", /*removePodDir=*/false);
  settle();
  EXPECT_TRUE(mountsUnder(root_).empty());
  struct stat st {};
  EXPECT_NE(stat((root_ + "/pods/u1/volumes").c_str(), &st), 0);
  EXPECT_EQ(stat((root_ + "/pods/u1/containers/c").c_str(), &st), 0);
}

TEST_F(VolumeManagerTest, OrphanedPodDirectoriesAreCleanedUp) {
  std::string orphan = volDir("gone", ::volumes::kEmptyDirPlugin, "mem");
  ASSERT_TRUE(core::mkdirAll(orphan).ok());
  ASSERT_TRUE(::volumes::mountTmpfs(orphan, std::nullopt, 01777).ok());
  ASSERT_TRUE(core::mkdirAll(root_ + "/pods/kept/containers").ok());
  mgr_->cleanupOrphans({"kept"});
  settle();
  settle();
  struct stat st {};
  EXPECT_NE(stat((root_ + "/pods/gone").c_str(), &st), 0);
  EXPECT_EQ(stat((root_ + "/pods/kept").c_str(), &st), 0);
  EXPECT_TRUE(mountsUnder(root_).empty());
}

}  // namespace
}  // namespace cubelet::testing

// The cgroupfs driver against this machine's real cgroup2 mount (the unified root,
// or <root>/unified on a hybrid host), found by detectCgroupMode: a real hierarchy
// made and removed, a real process moved in, its cgroup.events, cpu.stat and PSI
// files read, and the error for a controller the mount does not offer. It fails —
// never skips — when the host has no cgroup2 mount at all.
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "cgroups/cgroup_stats.h"
#include "cgroups/cgroup_version.h"
#include "cgroups/cgroupfs_manager.h"
#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace cubelet::testing {
namespace {

cgroups::ResourceConfig rcWith(void (*set)(cgroups::ResourceConfig&)) {
  cgroups::ResourceConfig rc;
  set(rc);
  return rc;
}

using ::testing::Contains;
using ::testing::HasSubstr;

bool isDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Polls `pred` every 10ms for up to 10s (the kernel updates cgroup.events after the
// last task has exited, which is after waitpid can already have returned).
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class RealCgroup2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto host = cgroups::detectCgroupMode();
    ASSERT_TRUE(host.ok()) << host.status();
    ASSERT_FALSE(host->cgroup2Mount.empty())
        << "neither /sys/fs/cgroup nor /sys/fs/cgroup/unified is a cgroup2 mount ("
        << cgroups::describeCgroupMode(*host)
        << "): the cgroupfs driver cannot be tested for real here";
    mount_ = host->cgroup2Mount;
    RecordProperty("cgroup2_mount", mount_);
    std::cout << "testing against the real cgroup2 mount " << mount_ << ": "
              << cgroups::describeCgroupMode(*host) << "\n";
    // A cgroup of our own as the manager's root, so nothing above it (the shared
    // root's cgroup.subtree_control) is changed.
    std::random_device rd;
    base_ = mount_ + "/cubelet-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(rd() % 1000000);
    ASSERT_EQ(::mkdir(base_.c_str(), 0755), 0) << base_ << ": " << std::strerror(errno);
    mgr_ = std::make_unique<cgroups::CgroupfsManager>(base_);
  }

  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    if (!base_.empty() && isDir(base_)) {
      // Whatever a failed test left: empty the cgroups, then remove them.
      (void)cgroups::killAll(base_);
      eventually([&] { return !cgroups::populated(base_).value_or(true); });
      cgroups::CgroupfsManager up(mount_);
      absl::Status s = up.destroySync(cgroups::fromCgroupfs(base_.substr(mount_.size())));
      EXPECT_TRUE(s.ok()) << s;
    }
  }

  pid_t spawnSleep() {
    const char* argv[] = {"sleep", "30", nullptr};
    pid_t pid = 0;
    int rc =
        ::posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char* const*>(argv), environ);
    EXPECT_EQ(rc, 0) << "posix_spawn sleep: " << std::strerror(rc);
    return rc == 0 ? pid : -1;
  }

  std::string mount_;
  std::string base_;
  std::unique_ptr<cgroups::CgroupfsManager> mgr_;
  pid_t child_ = -1;
};

TEST_F(RealCgroup2Test, CreatesMovesAProcessInReadsItsFilesAndRemovesEverything) {
  const cgroups::CgroupName kubepods{{"kubepods"}};
  const cgroups::CgroupName pod{
      {"kubepods", "burstable", "pod6f1d2c3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5"}};
  ASSERT_TRUE(mgr_->createSync(pod, {}).ok());
  std::string podDir = mgr_->path(pod);
  ASSERT_TRUE(isDir(podDir)) << podDir;
  ASSERT_TRUE(isDir(base_ + "/kubepods/burstable"));
  EXPECT_TRUE(mgr_->exists(pod));
  auto pop = cgroups::populated(podDir);
  ASSERT_TRUE(pop.ok()) << pop.status();
  EXPECT_FALSE(*pop);

  child_ = spawnSleep();
  ASSERT_GT(child_, 0);
  absl::Status moved = cgroups::moveProcess(podDir, child_);
  ASSERT_TRUE(moved.ok()) << moved;
  auto procs = cgroups::cgroupProcs(podDir);
  ASSERT_TRUE(procs.ok()) << procs.status();
  EXPECT_THAT(*procs, Contains(child_));
  EXPECT_TRUE(cgroups::populated(podDir).value_or(false));
  EXPECT_TRUE(cgroups::populated(base_ + "/kubepods").value_or(false))
      << "populated covers descendants";

  auto cpu = cgroups::readCpuStat(podDir);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto cpuText = core::readFile(podDir + "/cpu.stat");
  ASSERT_TRUE(cpuText.ok());
  EXPECT_THAT(*cpuText, HasSubstr("usage_usec "));
  for (const char* resource : {"cpu", "memory", "io"}) {
    auto psi = cgroups::readPressure(podDir, resource);
    ASSERT_TRUE(psi.ok()) << resource << ": " << psi.status();
    EXPECT_GE(psi->some.avg10, 0.0) << resource;
  }
  auto psiText = core::readFile(podDir + "/memory.pressure");
  ASSERT_TRUE(psiText.ok());
  EXPECT_EQ(psiText->rfind("some avg10=", 0), 0u) << *psiText;

  // A populated cgroup cannot go.
  absl::Status busy = mgr_->destroySync(kubepods);
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  EXPECT_THAT(busy.message(), HasSubstr("still holds processes"));
  EXPECT_TRUE(isDir(podDir));

  ASSERT_TRUE(cgroups::killAll(podDir).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(child_, &status, 0), child_);
  child_ = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(eventually([&] { return !cgroups::populated(podDir).value_or(true); }))
      << "populated stays 1";
  EXPECT_TRUE(cgroups::cgroupProcs(podDir).value_or(std::vector<int>{1}).empty());

  absl::Status gone = absl::UnknownError("not called");
  mgr_->destroy(kubepods, [&](absl::Status s) { gone = s; });
  ASSERT_TRUE(gone.ok()) << gone;
  EXPECT_FALSE(isDir(base_ + "/kubepods"));
  EXPECT_FALSE(mgr_->exists(pod));
  EXPECT_TRUE(isDir(base_)) << "the manager's root stays";
}

TEST_F(RealCgroup2Test, AValueForAControllerTheMountLacksFailsNamingTheFile) {
  const cgroups::CgroupName pod{{"kubepods", "podabc"}};
  auto offered = cgroups::readControllerList(base_ + "/cgroup.controllers");
  ASSERT_TRUE(offered.ok()) << offered.status();
  absl::Status s = mgr_->createSync(pod, rcWith([](auto& r) { r.cpuWeight = 100; }));
  if (offered->count("cpu")) {
    // A unified host whose root enables cpu: the value must land.
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(core::readFile(mgr_->path(pod) + "/cpu.weight").value_or(""), "100\n");
    EXPECT_TRUE(mgr_->destroySync(cgroups::CgroupName{{"kubepods"}}).ok());
    return;
  }
  // A hybrid host: cpu belongs to the v1 hierarchy, so the cgroup2 mount has none.
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("write " + mgr_->path(pod) +
                                     "/cpu.weight: the cpu controller is not enabled"));
  EXPECT_TRUE(isDir(mgr_->path(pod))) << "the cgroup itself is made";
  // And the kernel's own refusal for a file that does not exist, named with errno.
  absl::Status w = cgroups::writeCgroupFile(mgr_->path(pod) + "/cpu.weight", "100");
  EXPECT_EQ(w.message(), "write " + mgr_->path(pod) + "/cpu.weight: No such file or directory");
  EXPECT_TRUE(mgr_->destroySync(cgroups::CgroupName{{"kubepods"}}).ok());
}

}  // namespace
}  // namespace cubelet::testing

// Host cgroup mode detection against real mounts made in a temp dir (tmpfs for a v1
// root, cgroup2 for a unified or hybrid one), against this machine's own
// /sys/fs/cgroup as /proc/self/mountinfo describes it, and the v1 manager: the
// hierarchies read from a mount table, and the pod directories runc leaves removed
// from every one of them in a fake v1 tree.
#include "cgroups/cgroup_version.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cubelet::testing {
namespace {

cgroups::ResourceConfig rcWith(void (*set)(cgroups::ResourceConfig&)) {
  cgroups::ResourceConfig rc;
  set(rc);
  return rc;
}

using ::testing::HasSubstr;

class CgroupVersionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-cgver-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      EXPECT_EQ(::umount2(it->c_str(), MNT_DETACH), 0) << *it << ": " << std::strerror(errno);
    }
    EXPECT_TRUE(core::removeAll(dir_).ok());
  }
  std::string mountFs(const std::string& rel, const char* type) {
    std::string p = dir_ + "/" + rel;
    EXPECT_TRUE(core::mkdirAll(p).ok());
    EXPECT_EQ(::mount(type, p.c_str(), type, 0, nullptr), 0)
        << type << " at " << p << ": " << std::strerror(errno);
    mounts_.push_back(p);
    return p;
  }

  std::string dir_;
  std::vector<std::string> mounts_;
};

TEST_F(CgroupVersionTest, TmpfsWithoutUnifiedIsLegacy) {
  std::string root = mountFs("legacy", "tmpfs");
  ASSERT_TRUE(core::mkdirAll(root + "/unified").ok()) << "a plain directory is not a cgroup2 mount";
  auto host = cgroups::detectCgroupMode(root);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->mode, cgroups::CgroupMode::kLegacyV1);
  EXPECT_EQ(host->cgroup2Mount, "");
  EXPECT_EQ(cgroups::describeCgroupMode(*host),
            "cgroup v1 (legacy: v1 controllers under " + root + ", no cgroup2 hierarchy)");
}

TEST_F(CgroupVersionTest, Cgroup2AtUnifiedIsHybrid) {
  std::string root = mountFs("hybrid", "tmpfs");
  std::string unified = mountFs("hybrid/unified", "cgroup2");
  auto host = cgroups::detectCgroupMode(root);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->mode, cgroups::CgroupMode::kHybrid);
  EXPECT_EQ(cgroups::cgroupModeName(host->mode), "hybrid");
  EXPECT_EQ(host->cgroup2Mount, unified);
  EXPECT_THAT(
      cgroups::describeCgroupMode(*host),
      HasSubstr("cgroup v1 (hybrid: v1 controllers under " + root + ", cgroup2 at " + unified));
}

TEST_F(CgroupVersionTest, Cgroup2AtTheRootIsUnifiedAndListsItsControllers) {
  std::string root = mountFs("unified", "cgroup2");
  auto host = cgroups::detectCgroupMode(root);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->mode, cgroups::CgroupMode::kUnifiedV2);
  EXPECT_EQ(host->cgroup2Mount, root);
  // A second mount of cgroup2 shows the same hierarchy, so the same controllers.
  auto text = core::readFile(root + "/cgroup.controllers");
  ASSERT_TRUE(text.ok());
  std::istringstream in(*text);
  std::vector<std::string> want;
  for (std::string w; in >> w;) want.push_back(w);
  EXPECT_EQ(host->v2Controllers, want);
  std::string joined;
  for (const auto& c : want) joined += (joined.empty() ? "" : " ") + c;
  EXPECT_EQ(cgroups::describeCgroupMode(*host),
            "cgroup v2 (unified hierarchy at " + root + " with controllers [" + joined + "])");
}

TEST_F(CgroupVersionTest, AMissingRootIsAnErrorNamingIt) {
  auto host = cgroups::detectCgroupMode(dir_ + "/absent");
  EXPECT_EQ(host.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(host.status().message(), "statfs " + dir_ + "/absent: No such file or directory");
}

// The filesystem type mounted last at `point`, from /proc/self/mountinfo ("" if none).
std::string mountTypeAt(const std::string& point) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, type;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    for (std::string w; f >> w;) fields.push_back(w);
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (fields.size() > 4 && dash + 1 < fields.size() && fields[4] == point)
      type = fields[dash + 1];
  }
  return type;
}

TEST(CgroupVersionHostTest, ThisMachineIsDetectedAsItsMountsSay) {
  auto host = cgroups::detectCgroupMode();
  ASSERT_TRUE(host.ok()) << host.status();
  std::string rootType = mountTypeAt("/sys/fs/cgroup");
  std::string unifiedType = mountTypeAt("/sys/fs/cgroup/unified");
  cgroups::CgroupMode want = rootType == "cgroup2"      ? cgroups::CgroupMode::kUnifiedV2
                             : unifiedType == "cgroup2" ? cgroups::CgroupMode::kHybrid
                                                        : cgroups::CgroupMode::kLegacyV1;
  EXPECT_EQ(host->mode, want) << "mountinfo: /sys/fs/cgroup is " << rootType
                              << ", /sys/fs/cgroup/unified is " << unifiedType;
  ::testing::Test::RecordProperty("cgroup_mode", cgroups::cgroupModeName(host->mode));
  std::cout << "this host: " << cgroups::describeCgroupMode(*host) << "\n";
}

TEST(LegacyCgroupManagerTest, NamesParentsForTheRuntimeAndTouchesNothing) {
  const cgroups::CgroupName pod{{"kubepods", "burstable", "pod1234-5678"}};
  // No cgroup mounts in this table: nothing exists, destroy has nothing to remove.
  cgroups::LegacyCgroupManager fs("cgroupfs", "/dev/null");
  cgroups::LegacyCgroupManager sd("systemd", "/dev/null");
  EXPECT_EQ(fs.driver(), "cgroupfs");
  EXPECT_EQ(sd.driver(), "systemd");
  EXPECT_FALSE(fs.managesCgroups());
  EXPECT_EQ(fs.runtimeParent(pod), "/kubepods/burstable/pod1234-5678");
  EXPECT_EQ(sd.runtimeParent(pod),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice");
  EXPECT_EQ(fs.path(pod), "");
  EXPECT_FALSE(fs.exists(pod));
  int calls = 0;
  auto ok = [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++calls;
  };
  fs.create(pod, rcWith([](auto& r) { r.cpuWeight = 5, r.pidsMax = 10; }), ok);
  fs.update(pod, rcWith([](auto& r) { r.memoryMax = 1; }), ok);
  fs.destroy(pod, ok);
  EXPECT_EQ(calls, 3) << "every call completes before it returns";
}

TEST(LegacyCgroupManagerTest, TheV1MessageSaysWhatIsOff) {
  std::string m = cgroups::v1FeaturesOffMessage();
  for (const char* part : {"cgroup v1", "cgroup_parent", "pod-level cgroup limits",
                           "node allocatable enforcement", "memory QoS", "PSI"}) {
    EXPECT_THAT(m, HasSubstr(part));
  }
}

// This machine's layout (separate cpu and cpuacct) plus a joined cpu,cpuacct
// mounted twice, a hybrid cgroup2, a path with a blank, and mounts that are no cgroups.
constexpr char kMountinfo[] =
    "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
    "36 30 0:32 / /mnt/again rw - cgroup cgroup rw,net_cls,net_prio\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "41 30 0:38 / /tmp/a\\040b rw - cgroup cgroup rw,pids,release_agent=/x\n";

TEST(CgroupMountsTest, OneEntryPerHierarchyWithItsControllers) {
  auto mounts = cgroups::parseCgroupMounts(kMountinfo);
  std::vector<std::string> points;
  for (const auto& m : mounts) points.push_back(m.mountPoint + (m.v2 ? " v2" : ""));
  EXPECT_THAT(points, ::testing::ElementsAre(
                          "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
                          "/sys/fs/cgroup/net_cls,net_prio", "/sys/fs/cgroup/systemd",
                          "/sys/fs/cgroup/unified v2", "/tmp/a b"));
  EXPECT_THAT(mounts[3].controllers, ::testing::ElementsAre("net_cls", "net_prio"));
  EXPECT_THAT(mounts[4].controllers, ::testing::ElementsAre("name=systemd"));
  EXPECT_THAT(mounts[6].controllers, ::testing::ElementsAre("pids"));
  EXPECT_EQ(cgroups::v1MountOf(mounts, "cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(cgroups::v1MountOf(mounts, "memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(cgroups::v1MountOf(mounts, "hugetlb"), "");
  EXPECT_TRUE(cgroups::parseCgroupMounts("garbage\n\n1 2 3\n").empty());
}

TEST(CgroupMountsTest, ThisHostsMountTableReads) {
  auto mounts = cgroups::readCgroupMounts();
  ASSERT_TRUE(mounts.ok()) << mounts.status();
  auto missing = cgroups::readCgroupMounts("/nonexistent/mountinfo");
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/mountinfo"));
}

// A fake v1 host in a temp dir: hierarchies "cpu,cpuacct", "memory", "systemd" and a
// cgroup2 "unified", listed in a mount table of its own. Directories stand for
// cgroups; a plain file in one makes it unremovable, as processes make a cgroup busy.
class FakeV1HostTest : public CgroupVersionTest {
 protected:
  void SetUp() override {
    CgroupVersionTest::SetUp();
    std::string table;
    int minor = 40;
    for (const char* h : {"cpu,cpuacct", "memory", "systemd", "unified"}) {
      std::string point = dir_ + "/" + h;
      ASSERT_TRUE(core::mkdirAll(point).ok());
      hierarchies_.push_back(point);
      std::string type = std::string(h) == "unified" ? "cgroup2" : "cgroup";
      std::string opts = std::string(h) == "systemd" ? "rw,name=systemd" : std::string("rw,") + h;
      table += std::to_string(minor) + " 30 0:" + std::to_string(minor) + " / " + point + " rw - " +
               type + " " + type + " " + opts + "\n";
      ++minor;
    }
    mountinfo_ = dir_ + "/mountinfo";
    ASSERT_TRUE(core::writeFileAtomic(mountinfo_, table).ok());
  }
  // Makes root-relative `rel` in every hierarchy.
  void mkdirs(const std::string& rel) {
    for (const auto& h : hierarchies_) ASSERT_TRUE(core::mkdirAll(h + "/" + rel).ok());
  }
  bool existsIn(const std::string& hierarchy, const std::string& rel) {
    struct stat st;
    return ::stat((hierarchy + "/" + rel).c_str(), &st) == 0;
  }
  int countIn(const std::string& rel) {
    int n = 0;
    for (const auto& h : hierarchies_) n += existsIn(h, rel);
    return n;
  }
  absl::Status destroy(cgroups::LegacyCgroupManager& m, const cgroups::CgroupName& n) {
    std::optional<absl::Status> got;
    m.destroy(n, [&](absl::Status s) { got = s; });
    EXPECT_TRUE(got.has_value()) << "destroy completes before it returns";
    return got.value_or(absl::UnknownError("no answer"));
  }

  std::vector<std::string> hierarchies_;
  std::string mountinfo_;
};

TEST_F(FakeV1HostTest, DestroyRemovesThePodInEveryHierarchyDeepestFirst) {
  const cgroups::CgroupName pod{{"kubepods", "burstable", "poduid-1"}};
  cgroups::LegacyCgroupManager m("cgroupfs", mountinfo_);
  EXPECT_FALSE(m.exists(pod));
  // runc's leftovers: the pod directory, a container's below it (in some hierarchies
  // only), and a neighbour that must stay.
  mkdirs("kubepods/burstable/poduid-1/abc123");
  mkdirs("kubepods/burstable/poduid-2");
  ASSERT_TRUE(core::mkdirAll(hierarchies_[1] + "/kubepods/burstable/poduid-1/abc123/deeper").ok());
  EXPECT_TRUE(m.exists(pod));
  EXPECT_EQ(m.dirs(pod).size(), 4u);
  EXPECT_THAT(m.childNames({{"kubepods", "burstable"}}),
              ::testing::ElementsAre("poduid-1", "poduid-2"));

  ASSERT_TRUE(destroy(m, pod).ok());
  EXPECT_EQ(countIn("kubepods/burstable/poduid-1"), 0);
  EXPECT_EQ(countIn("kubepods/burstable/poduid-2"), 4);
  EXPECT_FALSE(m.exists(pod));
  // Gone already: nothing to do, no error.
  EXPECT_TRUE(destroy(m, pod).ok());
}

TEST_F(FakeV1HostTest, ABusyCgroupIsReportedAndTheOtherHierarchiesAreStillCleaned) {
  const cgroups::CgroupName pod{{"kubepods", "besteffort", "podbusy"}};
  cgroups::LegacyCgroupManager m("cgroupfs", mountinfo_);
  mkdirs("kubepods/besteffort/podbusy/ctr");
  // In "memory" the container's cgroup cannot go (as when it still holds a process).
  ASSERT_TRUE(
      core::writeFileAtomic(hierarchies_[1] + "/kubepods/besteffort/podbusy/ctr/tasks", "1").ok());
  absl::Status s = destroy(m, pod);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("rmdir " + hierarchies_[1] + "/kubepods/besteffort/podbusy/ctr"));
  EXPECT_EQ(countIn("kubepods/besteffort/podbusy"), 1);
  EXPECT_TRUE(existsIn(hierarchies_[1], "kubepods/besteffort/podbusy/ctr/tasks"))
      << "only directories are removed";
}

TEST_F(FakeV1HostTest, TheSystemdDriverRemovesTheSliceInEveryHierarchy) {
  const cgroups::CgroupName pod{{"kubepods", "burstable", "poduid-1"}};
  const std::string slice =
      "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_1.slice";
  cgroups::LegacyCgroupManager m("systemd", mountinfo_);
  EXPECT_FALSE(m.exists(pod));
  mkdirs(slice + "/cri-containerd-abc.scope");
  mkdirs("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_2.slice");
  // Nothing under the cgroupfs name: the driver's naming is what counts.
  mkdirs("kubepods/burstable/poduid-1");
  EXPECT_TRUE(m.exists(pod));
  EXPECT_THAT(m.childNames({{"kubepods", "burstable"}}),
              ::testing::ElementsAre("kubepods-burstable-poduid_1.slice",
                                     "kubepods-burstable-poduid_2.slice"));
  ASSERT_TRUE(destroy(m, pod).ok());
  EXPECT_EQ(countIn(slice), 0);
  EXPECT_EQ(countIn("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_2.slice"),
            4);
  EXPECT_EQ(countIn("kubepods/burstable/poduid-1"), 4);
}

}  // namespace
}  // namespace cubelet::testing

// Host cgroup mode detection against real mounts made in a temp dir (tmpfs for a v1
// root, cgroup2 for a unified or hybrid one), against this machine's own
// /sys/fs/cgroup as /proc/self/mountinfo describes it, and the v1 manager.
#include "cgroups/cgroup_version.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
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
  cgroups::LegacyCgroupManager fs("cgroupfs");
  cgroups::LegacyCgroupManager sd("systemd");
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

}  // namespace
}  // namespace cubelet::testing

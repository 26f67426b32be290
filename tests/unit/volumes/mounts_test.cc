#include "volumes/mounts.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/support/volume_checks.h"

namespace cubelet::testing {
namespace {

bool mountedAt(const std::string& path) {
  auto r = volumes::isMountPoint(path);
  return r.ok() && *r;
}

class MountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-mounts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    auto n = volumes::unmountAllUnder(dir_);
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_TRUE(mountsUnder(dir_).empty());
    EXPECT_TRUE(core::removeAll(dir_).ok());
  }
  std::string mkdir(const std::string& rel, mode_t mode = 0755) {
    std::string p = dir_ + "/" + rel;
    EXPECT_TRUE(core::mkdirAll(p, mode).ok()) << p;
    return p;
  }

  std::string dir_;
};

TEST_F(MountsTest, ParsesMountInfoDecodingEscapesAndOptionalFields) {
  std::string fixture = dir_ + "/mountinfo";
  ASSERT_TRUE(core::writeFileAtomic(
                  fixture,
                  "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
                  "97 29 0:50 / /var/lib/my\\040dir ro,relatime - tmpfs tmp\\011fs rw,size=4k\n"
                  "98 29 8:1 /src /mnt/back\\134slash rw master:1 propagate_from:2 - ext4 "
                  "/dev/sda1 rw\n")
                  .ok());
  auto got = volumes::readMountInfo(fixture);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].mountPoint, "/sys");
  EXPECT_EQ((*got)[0].fsType, "sysfs");
  EXPECT_EQ((*got)[0].options, "rw,nosuid,nodev,noexec,relatime");
  EXPECT_EQ((*got)[1].mountPoint, "/var/lib/my dir");
  EXPECT_EQ((*got)[1].source, "tmp\tfs");
  EXPECT_EQ((*got)[1].options, "ro,relatime");
  EXPECT_EQ((*got)[2].mountPoint, "/mnt/back\\slash");
  EXPECT_EQ((*got)[2].fsType, "ext4");
  EXPECT_EQ((*got)[2].source, "/dev/sda1");

  ASSERT_TRUE(core::writeFileAtomic(fixture, "1 2 0:1 / /x rw shared:1\n").ok());
  auto bad = volumes::readMountInfo(fixture);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(fixture), std::string::npos) << bad.status();
  EXPECT_FALSE(volumes::readMountInfo(dir_ + "/absent").ok());
}

TEST_F(MountsTest, RealMountAtPathWithSpaceIsListedDecoded) {
  std::string target = dir_ + "/with space";
  ASSERT_TRUE(volumes::mountTmpfs(target, std::nullopt, 0755).ok());
  auto mounts = volumes::readMountInfo();
  ASSERT_TRUE(mounts.ok()) << mounts.status();
  int found = 0;
  for (const auto& m : *mounts) {
    if (m.mountPoint == target) {
      ++found;
      EXPECT_EQ(m.fsType, "tmpfs");
      EXPECT_EQ(m.source, "tmpfs");
    }
  }
  EXPECT_EQ(found, 1);
  EXPECT_TRUE(mountedAt(target));
}

TEST_F(MountsTest, TmpfsHasTheRequestedSizeAndMode) {
  struct Case {
    std::string name;
    std::optional<uint64_t> size;
    mode_t mode;
  };
  for (const Case& c : std::vector<Case>{{"sized/deep", 4u << 20, 0777},
                                         {"sized-small", 64u << 10, 0750},
                                         {"unsized", std::nullopt, 01777}}) {
    SCOPED_TRACE(c.name);
    std::string target = dir_ + "/" + c.name;  // missing: mountTmpfs creates it
    absl::Status s = volumes::mountTmpfs(target, c.size, c.mode);
    ASSERT_TRUE(s.ok()) << s;
    struct statfs fs {};
    ASSERT_EQ(::statfs(target.c_str(), &fs), 0) << std::strerror(errno);
    EXPECT_EQ(static_cast<unsigned long>(fs.f_type), static_cast<unsigned long>(TMPFS_MAGIC));
    if (c.size) {
      EXPECT_EQ(static_cast<uint64_t>(fs.f_blocks) * fs.f_bsize, *c.size);
    }
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, c.mode);
    EXPECT_TRUE(mountedAt(target));
  }
}

TEST_F(MountsTest, TmpfsSizeIsEnforced) {
  std::string target = dir_ + "/small";
  ASSERT_TRUE(volumes::mountTmpfs(target, 64u << 10, 0777).ok());
  EXPECT_TRUE(core::writeFileAtomic(target + "/fits", std::string(16 << 10, 'x')).ok());
  absl::Status full = core::writeFileAtomic(target + "/too-big", std::string(128 << 10, 'x'));
  EXPECT_FALSE(full.ok());
}

TEST_F(MountsTest, ReadOnlyBindRefusesWritesAndReadWriteBindSharesContent) {
  std::string src = mkdir("src");
  ASSERT_TRUE(core::writeFileAtomic(src + "/data", "hello").ok());
  std::string ro = mkdir("ro");
  std::string rw = mkdir("rw");
  ASSERT_TRUE(volumes::bindMount(src, ro, /*readOnly=*/true).ok());
  ASSERT_TRUE(volumes::bindMount(src, rw, /*readOnly=*/false).ok());

  EXPECT_EQ(*core::readFile(ro + "/data"), "hello");
  int fd = ::open((ro + "/new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  int err = errno;
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(err, EROFS);
  if (fd >= 0) ::close(fd);

  ASSERT_TRUE(core::writeFileAtomic(rw + "/new", "through rw").ok());
  EXPECT_EQ(*core::readFile(src + "/new"), "through rw");
  EXPECT_EQ(*core::readFile(ro + "/new"), "through rw");

  auto mounts = volumes::readMountInfo();
  ASSERT_TRUE(mounts.ok());
  for (const auto& m : *mounts) {
    if (m.mountPoint == ro) {
      EXPECT_EQ(m.options.rfind("ro,", 0), 0u) << m.options;
    }
    if (m.mountPoint == rw) {
      EXPECT_EQ(m.options.rfind("rw,", 0), 0u) << m.options;
    }
  }
}

TEST_F(MountsTest, BindsAFileOntoAFile) {
  std::string src = dir_ + "/src.conf";
  std::string target = dir_ + "/target.conf";
  ASSERT_TRUE(core::writeFileAtomic(src, "key=value").ok());
  ASSERT_TRUE(core::writeFileAtomic(target, "").ok());
  ASSERT_TRUE(volumes::bindMount(src, target, /*readOnly=*/true).ok());
  EXPECT_EQ(*core::readFile(target), "key=value");
  EXPECT_EQ(::open(target.c_str(), O_WRONLY | O_CLOEXEC), -1);
  EXPECT_EQ(errno, EROFS);

  absl::Status mismatch = volumes::bindMount(src, mkdir("a-dir"), false);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.message().find(src), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.message().find(dir_ + "/a-dir"), std::string::npos) << mismatch;
}

// A plain bind (no MS_REC), as the kubelet's local volume mounts: what is mounted
// below the source is not carried to the target.
TEST_F(MountsTest, BindDoesNotCarryMountsBelowTheSource) {
  std::string src = mkdir("src");
  std::string sub = mkdir("src/sub");
  ASSERT_TRUE(volumes::mountTmpfs(sub, 1u << 20, 0755).ok());
  ASSERT_TRUE(core::writeFileAtomic(sub + "/on-tmpfs", "x").ok());
  std::string target = mkdir("target");
  ASSERT_TRUE(volumes::bindMount(src, target, false).ok());
  EXPECT_TRUE(mountedAt(target));
  EXPECT_FALSE(mountedAt(target + "/sub"));
  struct stat st {};
  EXPECT_NE(::stat((target + "/sub/on-tmpfs").c_str(), &st), 0);
}

TEST_F(MountsTest, IsMountPoint) {
  std::string plain = mkdir("plain");
  std::string tmpfs = mkdir("tmpfs");
  ASSERT_TRUE(volumes::mountTmpfs(tmpfs, 1u << 20, 0755).ok());
  // A bind of a directory of the same filesystem: same st_dev as its parent.
  std::string bindSrc = mkdir("bind-src");
  std::string bindDst = mkdir("bind-dst");
  ASSERT_TRUE(volumes::bindMount(bindSrc, bindDst, false).ok());
  ASSERT_EQ(::symlink(tmpfs.c_str(), (dir_ + "/link").c_str()), 0);

  EXPECT_FALSE(mountedAt(plain));
  EXPECT_FALSE(mountedAt(dir_));
  EXPECT_TRUE(mountedAt(tmpfs));
  EXPECT_TRUE(mountedAt(tmpfs + "/."));  // resolves to tmpfs itself
  EXPECT_TRUE(mountedAt(bindDst));
  EXPECT_FALSE(mountedAt(bindSrc));
  EXPECT_TRUE(mountedAt(dir_ + "/link"));
  auto missing = volumes::isMountPoint(dir_ + "/absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(dir_ + "/absent"), std::string::npos);
}

TEST_F(MountsTest, UnmountIsIdempotent) {
  std::string target = mkdir("t");
  ASSERT_TRUE(volumes::mountTmpfs(target, 1u << 20, 0755).ok());
  ASSERT_TRUE(volumes::unmount(target).ok());
  EXPECT_FALSE(mountedAt(target));
  EXPECT_TRUE(volumes::unmount(target).ok());            // not mounted
  EXPECT_TRUE(volumes::unmount(dir_ + "/absent").ok());  // missing
}

TEST_F(MountsTest, UnmountIsLazyWhenBusy) {
  std::string target = mkdir("busy");
  ASSERT_TRUE(volumes::mountTmpfs(target, 1u << 20, 0755).ok());
  int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fchdir(fd), 0);  // a busy mount: our cwd
  absl::Status s = volumes::unmount(target);
  ASSERT_EQ(::chdir("/"), 0);
  ::close(fd);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(mountsUnder(target).empty());
}

TEST_F(MountsTest, UnmountAllUnderTakesNestedAndStackedMountsAndLeavesSiblings) {
  std::string pod = mkdir("pods/ab");
  std::string sibling = mkdir("pods/abc");  // shares the prefix "pods/ab"
  ASSERT_TRUE(volumes::mountTmpfs(sibling, 1u << 20, 0755).ok());
  std::string vol = pod + "/volumes/v";
  ASSERT_TRUE(volumes::mountTmpfs(vol, 1u << 20, 0755).ok());
  ASSERT_TRUE(volumes::mountTmpfs(vol + "/nested", 1u << 20, 0755).ok());
  std::string bindSrc = mkdir("outside");
  ASSERT_TRUE(core::mkdirAll(vol + "/nested/bound").ok());
  ASSERT_TRUE(volumes::bindMount(bindSrc, vol + "/nested/bound", true).ok());
  ASSERT_TRUE(volumes::mountTmpfs(pod + "/volumes/stacked", 1u << 20, 0755).ok());
  ASSERT_TRUE(volumes::mountTmpfs(pod + "/volumes/stacked", 1u << 20, 0700).ok());
  ASSERT_TRUE(volumes::bindMount(pod, pod, false).ok());  // the pod dir itself

  auto n = volumes::unmountAllUnder(pod);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 6);
  EXPECT_TRUE(mountsUnder(pod).empty());
  EXPECT_EQ(mountsUnder(sibling), std::vector<std::string>{sibling});
  EXPECT_TRUE(mountedAt(sibling));

  auto again = volumes::unmountAllUnder(pod);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  auto missing = volumes::unmountAllUnder(dir_ + "/absent");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0);
}

}  // namespace
}  // namespace cubelet::testing

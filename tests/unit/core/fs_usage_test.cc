// Filesystem usage: statvfs figures, directory walks (hard links once, symlinks not
// followed, mounts not crossed) and a tmpfs volume measured by its own statvfs.
#include "core/fs_usage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "core/atomic_file.h"

namespace cubelet::testing {
namespace {

class FsUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fs-usage-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& m : mounts_) ::umount2(m.c_str(), MNT_DETACH);
    ASSERT_TRUE(core::removeAll(dir_).ok());
  }
  // A file of `bytes` real (non-sparse) bytes; returns its st_blocks * 512.
  uint64_t writeFile(const std::string& path, size_t bytes) {
    EXPECT_TRUE(core::writeFileAtomic(path, std::string(bytes, 'x')).ok()) << path;
    return allocated(path);
  }
  static uint64_t allocated(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }
  void mountTmpfs(const std::string& at, const char* opts) {
    ASSERT_TRUE(core::mkdirAll(at).ok());
    ASSERT_EQ(::mount("tmpfs", at.c_str(), "tmpfs", 0, opts), 0) << at << ": " << strerror(errno);
    mounts_.push_back(at);
  }
  std::string dir_;
  std::vector<std::string> mounts_;
};

TEST_F(FsUsageTest, CountsBytesAndInodesOfATree) {
  std::string root = dir_ + "/tree";
  ASSERT_TRUE(core::mkdirAll(root + "/a/b").ok());
  uint64_t expected = allocated(root) + allocated(root + "/a") + allocated(root + "/a/b");
  expected += writeFile(root + "/one", 10000);
  expected += writeFile(root + "/a/two", 100000);
  expected += writeFile(root + "/a/b/three", 1 << 20);
  auto u = core::directoryUsage(root);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->bytes, expected);
  EXPECT_GE(u->bytes, 10000u + 100000u + (1u << 20));
  EXPECT_EQ(u->inodes, 6u);  // 3 directories + 3 files
}

TEST_F(FsUsageTest, HardLinksCountOnceAndSymlinksAreNotFollowed) {
  std::string root = dir_ + "/tree";
  std::string outside = dir_ + "/outside";
  ASSERT_TRUE(core::mkdirAll(root).ok());
  ASSERT_TRUE(core::mkdirAll(outside).ok());
  uint64_t big = writeFile(outside + "/big", 4 << 20);
  uint64_t file = writeFile(root + "/file", 200000);
  ASSERT_EQ(::link((root + "/file").c_str(), (root + "/file-link").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/dir-symlink").c_str()), 0);
  ASSERT_EQ(::symlink((outside + "/big").c_str(), (root + "/file-symlink").c_str()), 0);
  uint64_t expected =
      allocated(root) + file + allocated(root + "/dir-symlink") + allocated(root + "/file-symlink");
  auto u = core::directoryUsage(root);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->bytes, expected);
  EXPECT_LT(u->bytes, big);  // the 4 MiB behind the symlinks is not counted
  EXPECT_EQ(u->inodes, 4u);  // root, file (once), two symlinks
}

TEST_F(FsUsageTest, DoesNotCrossMountPoints) {
  std::string root = dir_ + "/tree";
  ASSERT_TRUE(core::mkdirAll(root).ok());
  uint64_t file = writeFile(root + "/file", 50000);
  mountTmpfs(root + "/mnt", "size=8m");
  writeFile(root + "/mnt/inside", 1 << 20);
  auto u = core::directoryUsage(root);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->bytes, allocated(root) + file);
  EXPECT_EQ(u->inodes, 2u);
}

TEST_F(FsUsageTest, TmpfsVolumeIsMeasuredByItsStatvfs) {
  std::string vol = dir_ + "/volume";
  mountTmpfs(vol, "size=16m");
  auto mounted = core::isMountRoot(vol);
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  EXPECT_TRUE(*mounted);
  writeFile(vol + "/data", 1 << 20);

  auto fs = core::filesystemStats(vol);
  ASSERT_TRUE(fs.ok()) << fs.status();
  EXPECT_EQ(fs->capacityBytes, 16u << 20);
  EXPECT_EQ(fs->usedBytes, 1u << 20);
  EXPECT_EQ(fs->availableBytes, (16u << 20) - (1u << 20));
  EXPECT_EQ(fs->inodesUsed, fs->inodes - fs->inodesFree);
  EXPECT_GE(fs->inodesUsed, 2u);  // the root and the file

  auto v = core::volumeUsage(vol);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->mounted);
  EXPECT_EQ(v->usage.bytes, 1u << 20);
  EXPECT_EQ(v->fs.capacityBytes, 16u << 20);

  ASSERT_EQ(::umount2(vol.c_str(), 0), 0);
  mounts_.clear();
  auto plain = core::volumeUsage(vol);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->mounted);
  EXPECT_EQ(plain->usage.inodes, 1u);  // the now-empty directory
}

TEST_F(FsUsageTest, StatvfsOfTheTempFilesystem) {
  auto fs = core::filesystemStats(dir_);
  ASSERT_TRUE(fs.ok()) << fs.status();
  EXPECT_GT(fs->capacityBytes, 0u);
  EXPECT_LE(fs->availableBytes, fs->capacityBytes);
  EXPECT_LE(fs->usedBytes, fs->capacityBytes);
}

TEST_F(FsUsageTest, ErrorsNameThePath) {
  auto u = core::directoryUsage(dir_ + "/missing");
  ASSERT_FALSE(u.ok());
  EXPECT_TRUE(absl::IsNotFound(u.status()));
  EXPECT_NE(u.status().message().find(dir_ + "/missing"), std::string::npos) << u.status();
  auto fs = core::filesystemStats(dir_ + "/missing");
  ASSERT_FALSE(fs.ok());
  EXPECT_NE(fs.status().message().find(dir_ + "/missing"), std::string::npos) << fs.status();
}

TEST_F(FsUsageTest, SpecialFilesAreCountedNotOpened) {
  // Opening a fifo would block the walk: it must only be stat'ed.
  std::string root = dir_ + "/tree";
  ASSERT_TRUE(core::mkdirAll(root).ok());
  ASSERT_EQ(::mkfifo((root + "/fifo").c_str(), 0644), 0);
  auto withFifo = core::directoryUsage(root);
  ASSERT_TRUE(withFifo.ok()) << withFifo.status();
  EXPECT_EQ(withFifo->inodes, 2u);
}

TEST_F(FsUsageTest, DeepTreesAreWalkedIteratively) {
  // Deeper than any recursion-by-fd would like, still well under PATH_MAX.
  std::string path = dir_ + "/deep";
  for (int i = 0; i < 600; ++i) path += "/d";
  ASSERT_TRUE(core::mkdirAll(path).ok());
  writeFile(path + "/leaf", 100);
  auto u = core::directoryUsage(dir_ + "/deep");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->inodes, 602u);  // deep + 600 dirs + leaf
}

}  // namespace
}  // namespace cubelet::testing

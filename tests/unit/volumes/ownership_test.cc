#include "volumes/ownership.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cubelet::testing {
namespace {

using ::testing::HasSubstr;
using volumes::FsGroupPolicy;
using volumes::setVolumeOwnership;

constexpr gid_t kGroup = 1234;

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
};

Owner ownerOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) return {9999, 9999, 0};
  return {st.st_uid, st.st_gid, static_cast<mode_t>(st.st_mode & 07777)};
}

class OwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ownership_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    vol_ = root_ + "/vol";
    mkdir(vol_, 0755);
  }
  void TearDown() override {
    if (!mounted_.empty()) ::umount2(mounted_.c_str(), MNT_DETACH);
    ASSERT_TRUE(core::removeAll(root_).ok());
  }

  void mkdir(const std::string& path, mode_t mode) {
    ASSERT_EQ(::mkdir(path.c_str(), 0700), 0) << path;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  void write(const std::string& path, mode_t mode) {
    ASSERT_TRUE(core::writeFileAtomic(path, "data", mode).ok()) << path;
  }

  std::string root_;
  std::string vol_;
  std::string mounted_;
};

TEST_F(OwnershipTest, ChownsToTheGroupAndAddsGroupBits) {
  write(vol_ + "/file", 0600);
  write(vol_ + "/ro", 0400);
  write(vol_ + "/suid", 04755);
  mkdir(vol_ + "/d", 0700);
  write(vol_ + "/d/inner", 0644);
  ASSERT_EQ(::chown((vol_ + "/file").c_str(), 1000, 0), 0);

  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, false, FsGroupPolicy::kAlways).ok());

  struct Want {
    std::string path;
    uid_t uid;
    mode_t mode;
  };
  for (const Want& w : std::vector<Want>{{vol_, 0, 02775},
                                         {vol_ + "/file", 1000, 0660},
                                         {vol_ + "/ro", 0, 0660},
                                         {vol_ + "/suid", 0, 04775},
                                         {vol_ + "/d", 0, 02770},
                                         {vol_ + "/d/inner", 0, 0664}}) {
    Owner o = ownerOf(w.path);
    EXPECT_EQ(o.gid, kGroup) << w.path;
    EXPECT_EQ(o.uid, w.uid) << w.path;
    EXPECT_EQ(o.mode, w.mode) << w.path << std::oct << " mode 0" << o.mode;
  }
}

TEST_F(OwnershipTest, ReadOnlyAddsOnlyRead) {
  write(vol_ + "/file", 0600);
  mkdir(vol_ + "/d", 0700);
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, true, FsGroupPolicy::kAlways).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").mode, 0640u);
  EXPECT_EQ(ownerOf(vol_ + "/d").mode, 02750u);
  EXPECT_EQ(ownerOf(vol_ + "/d").gid, kGroup);
}

TEST_F(OwnershipTest, SymlinksAreNotFollowed) {
  write(root_ + "/outside", 0600);
  mkdir(root_ + "/outdir", 0700);
  ASSERT_EQ(::symlink((root_ + "/outside").c_str(), (vol_ + "/link").c_str()), 0);
  ASSERT_EQ(::symlink((root_ + "/outdir").c_str(), (vol_ + "/dirlink").c_str()), 0);
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, false, FsGroupPolicy::kAlways).ok());
  for (const std::string& p : {root_ + "/outside", root_ + "/outdir"}) {
    EXPECT_EQ(ownerOf(p).gid, 0u) << p;
  }
  EXPECT_EQ(ownerOf(root_ + "/outside").mode, 0600u);
  EXPECT_EQ(ownerOf(root_ + "/outdir").mode, 0700u);
  EXPECT_EQ(ownerOf(vol_ + "/link").gid, 0u);  // the link itself is skipped too
  EXPECT_EQ(ownerOf(vol_).gid, kGroup);
}

TEST_F(OwnershipTest, OnRootMismatchSkipsWhenTheRootMatches) {
  write(vol_ + "/file", 0600);
  ASSERT_EQ(::chown(vol_.c_str(), 0, kGroup), 0);
  ASSERT_EQ(::chmod(vol_.c_str(), 02770), 0);
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, false, FsGroupPolicy::kOnRootMismatch).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").gid, 0u);
  EXPECT_EQ(ownerOf(vol_ + "/file").mode, 0600u);

  // The same root is a mismatch for another group, and without setgid.
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup + 1, false, FsGroupPolicy::kOnRootMismatch).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").gid, kGroup + 1);
  ASSERT_EQ(::chown(vol_.c_str(), 0, kGroup), 0);
  ASSERT_EQ(::chmod(vol_.c_str(), 0770), 0);
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, false, FsGroupPolicy::kOnRootMismatch).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").gid, kGroup);
  EXPECT_EQ(ownerOf(vol_).mode, 02770u);
}

TEST_F(OwnershipTest, OnRootMismatchReadOnlyNeedsOnlyReadBits) {
  write(vol_ + "/file", 0600);
  ASSERT_EQ(::chown(vol_.c_str(), 0, kGroup), 0);
  ASSERT_EQ(::chmod(vol_.c_str(), 02550), 0);
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, true, FsGroupPolicy::kOnRootMismatch).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").gid, 0u);
  // Read-write needs the write bits the root lacks.
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, false, FsGroupPolicy::kOnRootMismatch).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").gid, kGroup);
}

TEST_F(OwnershipTest, DoesNotCrossIntoOtherFilesystems) {
  mkdir(vol_ + "/m", 0755);
  ASSERT_EQ(::mount("tmpfs", (vol_ + "/m").c_str(), "tmpfs", 0, "mode=0700"), 0)
      << std::strerror(errno);
  mounted_ = vol_ + "/m";
  write(vol_ + "/m/inner", 0600);
  write(vol_ + "/file", 0600);
  ASSERT_TRUE(setVolumeOwnership(vol_, kGroup, false, FsGroupPolicy::kAlways).ok());
  EXPECT_EQ(ownerOf(vol_ + "/file").gid, kGroup);
  EXPECT_EQ(ownerOf(vol_ + "/m").gid, 0u);
  EXPECT_EQ(ownerOf(vol_ + "/m").mode, 0700u);
  EXPECT_EQ(ownerOf(vol_ + "/m/inner").gid, 0u);
}

TEST_F(OwnershipTest, ErrorsNameTheVolume) {
  absl::Status st = setVolumeOwnership(root_ + "/missing", kGroup, false, FsGroupPolicy::kAlways);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(root_ + "/missing"));
  st = setVolumeOwnership(vol_, -1, false, FsGroupPolicy::kAlways);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr(vol_));
}

}  // namespace
}  // namespace cubelet::testing

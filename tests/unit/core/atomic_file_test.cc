#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/volume_checks.h"

namespace core {
namespace {

using ::cubelet::testing::listDir;

// The content, or the error text: comparing it fails the test readably either way.
std::string contentOf(const std::string& path) {
  auto r = readFile(path);
  return r.ok() ? *r : std::string(r.status().ToString());
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool isMounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string id, parent, dev, root, mp, rest;
  while (in >> id >> parent >> dev >> root >> mp) {
    if (mp == path) return true;
    std::getline(in, rest);
  }
  return false;
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-atomic-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    EXPECT_TRUE(removeAll(dir_).ok());
  }
  void mountTmpfs(const std::string& at) {
    ASSERT_EQ(::mount("tmpfs", at.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
    mounts_.push_back(at);
  }

  std::string dir_;
  std::vector<std::string> mounts_;
};

TEST_F(AtomicFileTest, WritesContentWithExactModeAndLeavesNoTemporaryFile) {
  std::string path = dir_ + "/config.json";
  mode_t oldMask = ::umask(077);
  absl::Status s = writeFileAtomic(path, "{\"a\":1}", 0644);
  ::umask(oldMask);
  ASSERT_TRUE(s.ok()) << s;
  auto got = readFile(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "{\"a\":1}");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(listDir(dir_), std::set<std::string>{"config.json"});

  ASSERT_TRUE(writeFileAtomic(path, "secret", 0600).ok());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(contentOf(path), "secret");
  EXPECT_EQ(listDir(dir_), std::set<std::string>{"config.json"});
}

TEST_F(AtomicFileTest, ReplacesByRenameSoOpenReadersKeepTheOldContent) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(writeFileAtomic(path, "old content").ok());
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  int reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(reader, 0);

  ASSERT_TRUE(writeFileAtomic(path, "new").ok());
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  char buf[64] = {};
  ASSERT_EQ(::read(reader, buf, sizeof buf), 11);
  EXPECT_EQ(std::string(buf), "old content");
  ::close(reader);
  EXPECT_EQ(contentOf(path), "new");
}

TEST_F(AtomicFileTest, WriteAndReadErrorsNameThePath) {
  std::string missing = dir_ + "/no/such/dir/file";
  absl::Status w = writeFileAtomic(missing, "x");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find(missing), std::string::npos) << w;

  auto r = readFile(dir_ + "/absent");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(dir_ + "/absent"), std::string::npos);
  EXPECT_TRUE(listDir(dir_).empty());
}

TEST_F(AtomicFileTest, ReadsLargeFiles) {
  std::string big(300000, 'z');
  big[12345] = 'a';
  ASSERT_TRUE(writeFileAtomic(dir_ + "/big", big).ok());
  EXPECT_EQ(contentOf(dir_ + "/big"), big);
}

TEST_F(AtomicFileTest, MkdirAllCreatesParentsAndAcceptsExisting) {
  std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(mkdirAll(deep, 0750).ok());
  struct stat st {};
  ASSERT_EQ(::stat(deep.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(mkdirAll(deep).ok());
  EXPECT_TRUE(mkdirAll(deep + "/").ok());

  ASSERT_TRUE(writeFileAtomic(dir_ + "/a/file", "x").ok());
  absl::Status s = mkdirAll(dir_ + "/a/file/sub");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir_ + "/a/file"), std::string::npos) << s;
}

TEST_F(AtomicFileTest, RemoveAllDeletesTheTreeButNotSymlinkTargets) {
  std::string outside = dir_ + "/outside";
  ASSERT_TRUE(mkdirAll(outside).ok());
  ASSERT_TRUE(writeFileAtomic(outside + "/keep", "precious").ok());

  std::string tree = dir_ + "/tree";
  ASSERT_TRUE(mkdirAll(tree + "/x/y/z").ok());
  ASSERT_TRUE(writeFileAtomic(tree + "/x/y/z/f", "1").ok());
  ASSERT_TRUE(writeFileAtomic(tree + "/top", "2").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (tree + "/x/link-to-dir").c_str()), 0);
  ASSERT_EQ(::symlink((outside + "/keep").c_str(), (tree + "/link-to-file").c_str()), 0);

  absl::Status s = removeAll(tree);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(exists(tree));
  EXPECT_EQ(contentOf(outside + "/keep"), "precious");

  EXPECT_TRUE(removeAll(tree).ok()) << "a missing path is not an error";
  ASSERT_TRUE(writeFileAtomic(dir_ + "/plain", "x").ok());
  EXPECT_TRUE(removeAll(dir_ + "/plain").ok());
  EXPECT_FALSE(exists(dir_ + "/plain"));
}

TEST_F(AtomicFileTest, RemoveAllRefusesToDeleteIntoAMountedFilesystem) {
  std::string tree = dir_ + "/pod";
  std::string vol = tree + "/volumes/data";
  ASSERT_TRUE(mkdirAll(vol).ok());
  ASSERT_TRUE(writeFileAtomic(tree + "/etc-hosts", "127.0.0.1 localhost\n").ok());
  mountTmpfs(vol);
  ASSERT_TRUE(writeFileAtomic(vol + "/user-data", "keep me").ok());

  absl::Status s = removeAll(tree);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find(vol), std::string::npos) << s;
  EXPECT_TRUE(isMounted(vol));
  EXPECT_EQ(contentOf(vol + "/user-data"), "keep me");
  EXPECT_TRUE(exists(tree + "/etc-hosts")) << "nothing is deleted when a mount is found up front";

  // The mount point itself is refused as well.
  EXPECT_FALSE(removeAll(vol).ok());
  EXPECT_TRUE(isMounted(vol));

  ASSERT_EQ(::umount2(vol.c_str(), 0), 0);
  mounts_.clear();
  s = removeAll(tree);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_FALSE(exists(tree));
}

TEST_F(AtomicFileTest, RemoveAllRefusesABindMountOfTheSameFilesystem) {
  std::string src = dir_ + "/src";
  std::string tree = dir_ + "/pod";
  std::string target = tree + "/bound";
  ASSERT_TRUE(mkdirAll(src).ok());
  ASSERT_TRUE(mkdirAll(target).ok());
  ASSERT_TRUE(writeFileAtomic(src + "/data", "shared").ok());
  ASSERT_EQ(::mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr), 0)
      << std::strerror(errno);
  mounts_.push_back(target);

  absl::Status s = removeAll(tree);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(target), std::string::npos) << s;
  EXPECT_EQ(contentOf(src + "/data"), "shared");
}

}  // namespace
}  // namespace core

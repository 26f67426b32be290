#include "volumes/host_path_check.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "core/atomic_file.h"
#include "gtest/gtest.h"

namespace cubelet::testing {
namespace {

class HostPathCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-hostpath-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    oldMask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(oldMask_);
    EXPECT_TRUE(core::removeAll(dir_).ok());
  }

  // One object of every kind the check tells apart, by name.
  std::map<std::string, std::string> makeObjects() {
    std::map<std::string, std::string> o;
    o["dir"] = dir_ + "/dir";
    EXPECT_EQ(::mkdir(o["dir"].c_str(), 0700), 0);
    o["file"] = dir_ + "/file";
    EXPECT_TRUE(core::writeFileAtomic(o["file"], "content").ok());
    o["socket"] = dir_ + "/sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, o["socket"].c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    ::close(fd);  // the socket file stays
    o["chardev"] = "/dev/null";
    o["blockdev"] = dir_ + "/blk";
    EXPECT_EQ(::mknod(o["blockdev"].c_str(), S_IFBLK | 0600, makedev(7, 200)), 0)
        << std::strerror(errno);
    o["fifo"] = dir_ + "/fifo";
    EXPECT_EQ(::mkfifo(o["fifo"].c_str(), 0600), 0);
    o["symlink-to-dir"] = dir_ + "/dirlink";
    EXPECT_EQ(::symlink(o["dir"].c_str(), o["symlink-to-dir"].c_str()), 0);
    o["missing"] = dir_ + "/missing";
    return o;
  }

  std::string dir_;
  mode_t oldMask_ = 0;
};

TEST_F(HostPathCheckTest, EveryTypeAgainstEveryKindOfObject) {
  std::map<std::string, std::string> objects = makeObjects();
  struct Type {
    std::string name;
    std::set<std::string> accepts;
    std::string notA;  // the end of upstream's message
  };
  // "File" is upstream's IsFile: exists and is not a directory.
  const std::vector<Type> types = {
      {"Directory", {"dir", "symlink-to-dir"}, "a directory"},
      {"File", {"file", "socket", "chardev", "blockdev", "fifo"}, "a file"},
      {"Socket", {"socket"}, "a socket file"},
      {"CharDevice", {"chardev"}, "a character device"},
      {"BlockDevice", {"blockdev"}, "a block device"},
  };
  for (const Type& t : types) {
    for (const auto& [kind, path] : objects) {
      SCOPED_TRACE(t.name + " on " + kind);
      absl::Status s = volumes::checkHostPathType(path, t.name);
      if (t.accepts.count(kind)) {
        EXPECT_TRUE(s.ok()) << s;
      } else {
        ASSERT_FALSE(s.ok());
        EXPECT_EQ(std::string(s.message()),
                  "hostPath type check failed: " + path + " is not " + t.notA);
      }
    }
    // Nothing was created by a checking type.
    struct stat st {};
    EXPECT_NE(::lstat(objects["missing"].c_str(), &st), 0);
  }
  for (const auto& [kind, path] : objects) {
    EXPECT_TRUE(volumes::checkHostPathType(path, "").ok()) << kind;
  }
}

TEST_F(HostPathCheckTest, OrCreateTypesAcceptOnlyTheirKindWhenPresent) {
  std::map<std::string, std::string> objects = makeObjects();
  EXPECT_TRUE(volumes::checkHostPathType(objects["dir"], "DirectoryOrCreate").ok());
  absl::Status notDir = volumes::checkHostPathType(objects["file"], "DirectoryOrCreate");
  EXPECT_EQ(std::string(notDir.message()),
            "hostPath type check failed: " + objects["file"] + " is not a directory");

  EXPECT_TRUE(volumes::checkHostPathType(objects["file"], "FileOrCreate").ok());
  EXPECT_EQ(*core::readFile(objects["file"]), "content");  // left as it was
  absl::Status notFile = volumes::checkHostPathType(objects["dir"], "FileOrCreate");
  EXPECT_EQ(std::string(notFile.message()),
            "hostPath type check failed: " + objects["dir"] + " is not a file");
}

TEST_F(HostPathCheckTest, DirectoryOrCreateMakesParentsAndMode0755WhateverTheUmask) {
  ::umask(077);
  std::string path = dir_ + "/a/b/c";
  absl::Status s = volumes::checkHostPathType(path, "DirectoryOrCreate");
  ASSERT_TRUE(s.ok()) << s;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_TRUE(volumes::checkHostPathType(path, "Directory").ok());
}

TEST_F(HostPathCheckTest, FileOrCreateMakesAnEmpty0644FileWhateverTheUmask) {
  ::umask(077);
  std::string path = dir_ + "/created";
  absl::Status s = volumes::checkHostPathType(path, "FileOrCreate");
  ASSERT_TRUE(s.ok()) << s;
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(volumes::checkHostPathType(path, "File").ok());
}

TEST_F(HostPathCheckTest, FileOrCreateNeedsTheParent) {
  std::string path = dir_ + "/no-parent/file";
  absl::Status s = volumes::checkHostPathType(path, "FileOrCreate");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  struct stat st {};
  EXPECT_NE(::lstat((dir_ + "/no-parent").c_str(), &st), 0);
}

TEST_F(HostPathCheckTest, UnknownTypeIsAnError) {
  for (const std::string type : {"directory", "Dir", "FileOrDirectory", " File"}) {
    absl::Status s = volumes::checkHostPathType(dir_, type);
    ASSERT_FALSE(s.ok()) << type;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(s.message()), type + " is an invalid volume type");
  }
}

}  // namespace
}  // namespace cubelet::testing

#include "volumes/subpath.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/support/volume_checks.h"
#include "volumes/mounts.h"

namespace cubelet::testing {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string contentOf(const std::string& path) {
  auto r = core::readFile(path);
  return r.ok() ? *r : std::string(r.status().ToString());
}

class SubpathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-subpath-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    podDir_ = dir_ + "/pods/uid-1";
    volume_ = podDir_ + "/volumes/kubernetes.io~empty-dir/data";
    outside_ = dir_ + "/outside";
    ASSERT_TRUE(core::mkdirAll(volume_).ok());
    ASSERT_EQ(::chmod(volume_.c_str(), 0777), 0);
    ASSERT_TRUE(core::mkdirAll(outside_ + "/inner").ok());
    ASSERT_TRUE(core::writeFileAtomic(outside_ + "/secret", "host secret").ok());
  }
  void TearDown() override {
    auto n = volumes::unmountAllUnder(dir_);
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_TRUE(mountsUnder(dir_).empty());
    EXPECT_TRUE(core::removeAll(dir_).ok());
  }

  volumes::SubpathRequest request(const std::string& subPath, int index = 0,
                                  const std::string& container = "app") {
    volumes::SubpathRequest r;
    r.volumePath = volume_;
    r.subPath = subPath;
    r.podDir = podDir_;
    r.volumeName = "data";
    r.containerName = container;
    r.mountIndex = index;
    return r;
  }
  std::string targetFor(int index, const std::string& container = "app") {
    return podDir_ + "/volume-subpaths/data/" + container + "/" + std::to_string(index);
  }

  std::string dir_, podDir_, volume_, outside_;
};

TEST_F(SubpathTest, DirectorySubpathIsBoundAndSharesContent) {
  ASSERT_TRUE(core::mkdirAll(volume_ + "/conf").ok());
  ASSERT_TRUE(core::writeFileAtomic(volume_ + "/conf/a.txt", "in volume").ok());
  auto got = volumes::prepareSubpath(request("conf", 2));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, targetFor(2));
  EXPECT_EQ(mountsUnder(podDir_), std::vector<std::string>{targetFor(2)});
  EXPECT_EQ(contentOf(*got + "/a.txt"), "in volume");
  ASSERT_TRUE(core::writeFileAtomic(*got + "/b.txt", "from container").ok());
  EXPECT_EQ(contentOf(volume_ + "/conf/b.txt"), "from container");
  struct stat st {};
  ASSERT_EQ(::stat((podDir_ + "/volume-subpaths/data/app").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(SubpathTest, FileSubpathIsBoundOnAnEmptyFile) {
  ASSERT_TRUE(core::writeFileAtomic(volume_ + "/app.yaml", "key: value", 0600).ok());
  auto got = volumes::prepareSubpath(request("app.yaml", 1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, targetFor(1));
  EXPECT_EQ(mountsUnder(podDir_), std::vector<std::string>{targetFor(1)});
  struct stat src {
  }, dst{};
  ASSERT_EQ(::stat((volume_ + "/app.yaml").c_str(), &src), 0);
  ASSERT_EQ(::stat(got->c_str(), &dst), 0);
  EXPECT_TRUE(S_ISREG(dst.st_mode));
  EXPECT_EQ(src.st_ino, dst.st_ino);
  EXPECT_EQ(contentOf(*got), "key: value");
}

TEST_F(SubpathTest, MissingSubpathIsCreatedWithTheVolumePermissions) {
  ASSERT_EQ(::chmod(volume_.c_str(), 02775), 0);  // as fsGroup leaves it
  mode_t old = ::umask(022);
  auto got = volumes::prepareSubpath(request("logs/app/current"));
  ::umask(old);
  ASSERT_TRUE(got.ok()) << got.status();
  for (const char* rel : {"/logs", "/logs/app", "/logs/app/current"}) {
    struct stat st {};
    ASSERT_EQ(::lstat((volume_ + rel).c_str(), &st), 0) << rel;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << rel;
    EXPECT_EQ(st.st_mode & 07777, 02775u) << rel;
  }
  ASSERT_TRUE(core::writeFileAtomic(*got + "/log", "line").ok());
  EXPECT_EQ(contentOf(volume_ + "/logs/app/current/log"), "line");
}

TEST_F(SubpathTest, SymlinksLeadingOutOfTheVolumeAreRefusedAndNothingIsMounted) {
  ASSERT_EQ(::symlink(outside_.c_str(), (volume_ + "/abs").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/secret").c_str(), (volume_ + "/abs-file").c_str()), 0);
  // volume_ is five levels below dir_.
  ASSERT_EQ(::symlink("../../../../../outside", (volume_ + "/rel").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/new").c_str(), (volume_ + "/dangling").c_str()), 0);
  ASSERT_TRUE(core::mkdirAll(volume_ + "/deep").ok());
  ASSERT_EQ(::symlink("../../../../../../outside", (volume_ + "/deep/up").c_str()), 0);
  const std::set<std::string> outsideBefore = listDir(outside_);

  struct Case {
    std::string subPath;
    std::string detail;  // part of the error's detail
  };
  for (const Case& c : std::vector<Case>{
           {"abs", "not within volume path"},
           {"abs-file", "not within volume path"},
           {"rel", "not within volume path"},
           {"rel/inner", "not within volume path"},
           {"deep/up/secret", "not within volume path"},
           {"abs/created-outside", "is outside of allowed base"},
           {"rel/created/outside", "is outside of allowed base"},
           {"dangling", "cannot create directory"},
       }) {
    SCOPED_TRACE(c.subPath);
    auto got = volumes::prepareSubpath(request(c.subPath));
    ASSERT_FALSE(got.ok()) << *got;
    std::string msg(got.status().message());
    EXPECT_NE(msg.find("volumeMount \"data\" of container \"app\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.detail), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.subPath + "\""), std::string::npos) << msg;
    EXPECT_TRUE(mountsUnder(dir_).empty());
    EXPECT_FALSE(exists(podDir_ + "/volume-subpaths"));
    EXPECT_EQ(listDir(outside_), outsideBefore);
  }
}

TEST_F(SubpathTest, SymlinksStayingInsideTheVolumeAreFollowed) {
  ASSERT_TRUE(core::mkdirAll(volume_ + "/real").ok());
  ASSERT_TRUE(core::writeFileAtomic(volume_ + "/real/f", "inside").ok());
  ASSERT_EQ(::symlink("real", (volume_ + "/rel-link").c_str()), 0);
  ASSERT_EQ(::symlink((volume_ + "/real").c_str(), (volume_ + "/abs-link").c_str()), 0);
  ASSERT_TRUE(core::mkdirAll(volume_ + "/a/b").ok());
  ASSERT_EQ(::symlink("../../real/f", (volume_ + "/a/b/up").c_str()), 0);

  int index = 0;
  for (const std::string sub : {"rel-link", "abs-link"}) {
    auto got = volumes::prepareSubpath(request(sub, index));
    ASSERT_TRUE(got.ok()) << sub << ": " << got.status();
    EXPECT_EQ(contentOf(*got + "/f"), "inside");
    ++index;
  }
  auto file = volumes::prepareSubpath(request("a/b/up", index));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(contentOf(*file), "inside");
  EXPECT_EQ(mountsUnder(podDir_).size(), 3u);
  // A missing directory below an inner symlink is created in the real directory.
  auto made = volumes::prepareSubpath(request("rel-link/made", 5));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(exists(volume_ + "/real/made"));
}

TEST_F(SubpathTest, ReadOnlySubpathRefusesWrites) {
  ASSERT_TRUE(core::mkdirAll(volume_ + "/ro").ok());
  auto req = request("ro");
  req.readOnly = true;
  auto got = volumes::prepareSubpath(req);
  ASSERT_TRUE(got.ok()) << got.status();
  int fd = ::open((*got + "/x").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) ::close(fd);
  EXPECT_TRUE(core::writeFileAtomic(volume_ + "/ro/x", "volume stays writable").ok());
  EXPECT_EQ(contentOf(*got + "/x"), "volume stays writable");
}

TEST_F(SubpathTest, AnExistingMountIsReusedAndAStaleOneReplaced) {
  ASSERT_TRUE(core::mkdirAll(volume_ + "/one").ok());
  ASSERT_TRUE(core::mkdirAll(volume_ + "/two").ok());
  ASSERT_TRUE(core::writeFileAtomic(volume_ + "/two/which", "two").ok());
  auto first = volumes::prepareSubpath(request("one"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = volumes::prepareSubpath(request("one"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(mountsUnder(podDir_), std::vector<std::string>{targetFor(0)});

  // The same target now asked for another subpath: the old bind goes.
  auto other = volumes::prepareSubpath(request("two"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(*other, targetFor(0));
  EXPECT_EQ(mountsUnder(podDir_), std::vector<std::string>{targetFor(0)});
  EXPECT_EQ(contentOf(*other + "/which"), "two");
}

TEST_F(SubpathTest, CleanSubpathsUnmountsAndRemovesEverySubpathOfThePod) {
  ASSERT_TRUE(core::mkdirAll(volume_ + "/d").ok());
  ASSERT_TRUE(core::writeFileAtomic(volume_ + "/d/keep", "data").ok());
  ASSERT_TRUE(core::writeFileAtomic(volume_ + "/f", "file").ok());
  ASSERT_TRUE(volumes::prepareSubpath(request("d", 0, "app")).ok());
  ASSERT_TRUE(volumes::prepareSubpath(request("f", 1, "app")).ok());
  ASSERT_TRUE(volumes::prepareSubpath(request("d", 0, "sidecar")).ok());
  auto ro = request("f", 3, "sidecar");
  ro.readOnly = true;
  ASSERT_TRUE(volumes::prepareSubpath(ro).ok());
  ASSERT_EQ(mountsUnder(podDir_).size(), 4u);

  absl::Status s = volumes::cleanSubpaths(podDir_);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(mountsUnder(podDir_).empty());
  EXPECT_FALSE(exists(podDir_ + "/volume-subpaths"));
  EXPECT_EQ(listDir(podDir_), std::set<std::string>{"volumes"});
  EXPECT_EQ(contentOf(volume_ + "/d/keep"), "data");  // the volume's content is untouched
  EXPECT_EQ(contentOf(volume_ + "/f"), "file");
  EXPECT_TRUE(volumes::cleanSubpaths(podDir_).ok());  // nothing left: fine
}

TEST_F(SubpathTest, AMissingVolumeIsAnErrorNamingIt) {
  auto req = request("x");
  req.volumePath = dir_ + "/no-volume";
  auto got = volumes::prepareSubpath(req);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find(dir_ + "/no-volume"), std::string::npos) << got.status();
  EXPECT_FALSE(exists(podDir_ + "/volume-subpaths"));
}

}  // namespace
}  // namespace cubelet::testing

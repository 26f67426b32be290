#include "volumes/atomic_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/volume_checks.h"

namespace cubelet::testing {
namespace {

using ::testing::HasSubstr;
using volumes::FileProjection;
using volumes::Payload;
using volumes::writePayload;

std::string linkOf(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<no link: ") + std::strerror(errno) + ">" : std::string(buf, n);
}

std::string contentOf(const std::string& path) {
  auto r = core::readFile(path);
  return r.ok() ? *r : std::string(r.status().ToString());
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) return 0;
  return st.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

FileProjection file(std::string data, int32_t mode = 0644) {
  return FileProjection{std::move(data), mode, std::nullopt};
}

class AtomicWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atomic_writer_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/vol";
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
  }
  void TearDown() override { ASSERT_TRUE(core::removeAll(root_).ok()); }

  std::string tsDir() { return linkOf(dir_ + "/..data"); }

  // What a crashed write leaves: a complete (or partial) timestamped directory.
  std::string makeOrphanTsDir(const std::string& name, const Payload& files) {
    std::string path = dir_ + "/" + name;
    EXPECT_EQ(::mkdir(path.c_str(), 0755), 0);
    for (const auto& [rel, f] : files) {
      EXPECT_TRUE(core::writeFileAtomic(path + "/" + rel, f.data, f.mode).ok());
    }
    return path;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(AtomicWriterTest, FirstWriteCreatesTheKubeletLayout) {
  mode_t oldMask = ::umask(077);  // modes must be exact whatever the umask
  Payload p{{"ro", file("read only", 0400)},
            {"rw", file("plain", 0644)},
            {"exec", file("#!/bin/sh", 0777)},
            {"dir/nested/key", file("deep", 0600)},
            {"dir/other", file("other", 0640)}};
  auto r = writePayload(dir_, p);
  ::umask(oldMask);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r);

  std::string ts = tsDir();
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+)")))
      << ts;
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", ts, "ro", "rw", "exec", "dir"}));
  EXPECT_EQ(modeOf(dir_ + "/" + ts), 0755u);
  EXPECT_EQ(linkOf(dir_ + "/ro"), "..data/ro");
  EXPECT_EQ(linkOf(dir_ + "/dir"), "..data/dir");

  EXPECT_EQ(contentOf(dir_ + "/ro"), "read only");
  EXPECT_EQ(contentOf(dir_ + "/exec"), "#!/bin/sh");
  EXPECT_EQ(contentOf(dir_ + "/dir/nested/key"), "deep");
  EXPECT_EQ(contentOf(dir_ + "/dir/other"), "other");

  const std::string t = dir_ + "/" + ts;
  EXPECT_EQ(modeOf(t + "/ro"), 0400u);
  EXPECT_EQ(modeOf(t + "/rw"), 0644u);
  EXPECT_EQ(modeOf(t + "/exec"), 0777u);
  EXPECT_EQ(modeOf(t + "/dir/nested/key"), 0600u);
  EXPECT_EQ(modeOf(t + "/dir"), 0755u);
  EXPECT_EQ(modeOf(t + "/dir/nested"), 0755u);
  EXPECT_EQ(listDir(t + "/dir"), (std::set<std::string>{"nested", "other"}));
}

TEST_F(AtomicWriterTest, FsUserOwnsTheFile) {
  Payload p{{"token", FileProjection{"jwt", 0600, 1000}}, {"ca.crt", file("ca")}};
  ASSERT_TRUE(writePayload(dir_, p).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/ca.crt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(AtomicWriterTest, IdenticalWriteChangesNothing) {
  Payload p{{"a", file("A")}, {"sub/b", file("B", 0400)}};
  ASSERT_TRUE(writePayload(dir_, p).ok());
  std::string ts = tsDir();
  struct stat before {};
  ASSERT_EQ(::stat((dir_ + "/sub/b").c_str(), &before), 0);

  auto r = writePayload(dir_, p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  EXPECT_EQ(tsDir(), ts);
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", ts, "a", "sub"}));
  struct stat after {};
  ASSERT_EQ(::stat((dir_ + "/sub/b").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
}

TEST_F(AtomicWriterTest, UpdateReplacesContentAndRemovesOldKeys) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}, {"b", file("B1")}, {"d/x", file("X1")}}).ok());
  std::string oldTs = tsDir();

  auto r = writePayload(dir_, {{"a", file("A2")}, {"c", file("C2", 0400)}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r);
  std::string ts = tsDir();
  EXPECT_NE(ts, oldTs);
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", ts, "a", "c"}));
  EXPECT_EQ(contentOf(dir_ + "/a"), "A2");
  EXPECT_EQ(contentOf(dir_ + "/c"), "C2");
  EXPECT_EQ(modeOf(dir_ + "/" + ts + "/c"), 0400u);
  EXPECT_EQ(listDir(dir_ + "/" + ts), (std::set<std::string>{"a", "c"}));
}

// Upstream kubernetes#121472: dropping a key with the rest unchanged is an update.
TEST_F(AtomicWriterTest, DroppingAKeyAloneRewrites) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A")}, {"b", file("B")}}).ok());
  std::string oldTs = tsDir();
  auto r = writePayload(dir_, {{"a", file("A")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r);
  EXPECT_NE(tsDir(), oldTs);
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", tsDir(), "a"}));
  EXPECT_EQ(listDir(dir_ + "/" + tsDir()), (std::set<std::string>{"a"}));
}

TEST(ValidatePayloadPathTest, Table) {
  struct Case {
    std::string path;
    bool ok;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"key", true, ""},
      {"dir/key", true, ""},
      {"a/..b", true, ""},
      {"a..", true, ""},
      {".hidden", true, ""},
      {std::string(255, 'x'), true, ""},
      {"", false, "must not be empty"},
      {"/abs", false, "must be relative path: /abs"},
      {"..", false, "must not contain '..': .."},
      {"../x", false, "must not contain '..': ../x"},
      {"a/../b", false, "must not contain '..': a/../b"},
      {"..a", false, "must not start with '..': ..a"},
      {"..data", false, "must not start with '..': ..data"},
      {"./..data", false, "must not start with '..'"},
      {".", false, "must name a file"},
      {std::string(256, 'x'), false, "filenames must be less than or equal to 255 characters"},
      {"a/" + std::string(256, 'x'), false, "filenames must be less than or equal to 255"},
      {std::string(4097, 'a'), false, "must be less than or equal to 4096 characters"},
  };
  for (const Case& c : cases) {
    absl::Status st = volumes::validatePayloadPath(c.path);
    EXPECT_EQ(st.ok(), c.ok) << c.path.substr(0, 40) << ": " << st;
    if (!c.ok) {
      EXPECT_THAT(std::string(st.message()), HasSubstr("invalid path: " + c.message));
    }
  }
}

TEST_F(AtomicWriterTest, InvalidPayloadWritesNothing) {
  auto r = writePayload(dir_, {{"good", file("x")}, {"../escape", file("y")}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(dir_));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("../escape"));
  EXPECT_TRUE(listDir(dir_).empty());
}

TEST_F(AtomicWriterTest, MissingDirIsAnErrorNamingIt) {
  auto r = writePayload(root_ + "/nope", {{"a", file("A")}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(root_ + "/nope"));
}

TEST_F(AtomicWriterTest, SetPermsRunsOnTheNewDirBeforeTheSwap) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}}).ok());
  std::string seen;
  std::string dataAtCall;
  auto r = writePayload(dir_, {{"a", file("A2")}}, [&](const std::string& ts) {
    seen = ts;
    dataAtCall = contentOf(dir_ + "/a");
    return absl::OkStatus();
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(seen, dir_ + "/" + tsDir());
  EXPECT_EQ(dataAtCall, "A1");  // not swapped yet
  EXPECT_EQ(contentOf(dir_ + "/a"), "A2");
}

TEST_F(AtomicWriterTest, FailingSetPermsKeepsTheOldVersion) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}}).ok());
  std::string ts = tsDir();
  auto r = writePayload(dir_, {{"a", file("A2")}, {"b", file("B2")}},
                        [](const std::string&) { return absl::PermissionDeniedError("no chown"); });
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no chown"));
  EXPECT_EQ(tsDir(), ts);
  EXPECT_EQ(contentOf(dir_ + "/a"), "A1");
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", ts, "a"}));
}

// Crash after the new timestamped directory was (partly) written, before ..data moved:
// readers still get the old version whole; the next write removes the orphan.
TEST_F(AtomicWriterTest, CrashBeforeTheSwapKeepsTheOldVersion) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}, {"b", file("B1")}}).ok());
  std::string ts = tsDir();
  makeOrphanTsDir("..2020_01_01_00_00_00.42", {{"a", file("A2")}, {"b", file("B")}});  // partial b

  EXPECT_EQ(contentOf(dir_ + "/a"), "A1");
  EXPECT_EQ(contentOf(dir_ + "/b"), "B1");

  // Same payload again: nothing to write, but the orphan goes.
  auto r = writePayload(dir_, {{"a", file("A1")}, {"b", file("B1")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", ts, "a", "b"}));
}

// Crash after ..data_tmp was made, before the rename: ..data still names the old
// version; the leftover link must not block the next write.
TEST_F(AtomicWriterTest, CrashWithDataTmpLeftBehindRecovers) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}, {"b", file("B1")}}).ok());
  makeOrphanTsDir("..2020_01_01_00_00_00.43", {{"a", file("A2")}, {"b", file("B2")}});
  ASSERT_EQ(::symlink("..2020_01_01_00_00_00.43", (dir_ + "/..data_tmp").c_str()), 0);

  EXPECT_EQ(contentOf(dir_ + "/a"), "A1");
  EXPECT_EQ(contentOf(dir_ + "/b"), "B1");

  auto r = writePayload(dir_, {{"a", file("A2")}, {"b", file("B2")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r);
  std::string ts = tsDir();
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", ts, "a", "b"}));
  EXPECT_EQ(contentOf(dir_ + "/a"), "A2");
  EXPECT_EQ(contentOf(dir_ + "/b"), "B2");
}

// Crash right after the rename: the new version is whole through ..data, but the old
// directory is still there, a new key has no link yet and a dropped key's link
// dangles. The next write with the same payload finishes the job.
TEST_F(AtomicWriterTest, CrashAfterTheSwapIsFinishedByTheNextWrite) {
  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}, {"b", file("B1")}}).ok());
  std::string oldTs = tsDir();
  makeOrphanTsDir("..2020_01_01_00_00_00.44", {{"a", file("A2")}, {"c", file("C2")}});
  ASSERT_EQ(::symlink("..2020_01_01_00_00_00.44", (dir_ + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(::rename((dir_ + "/..data_tmp").c_str(), (dir_ + "/..data").c_str()), 0);

  EXPECT_EQ(contentOf(dir_ + "/a"), "A2");
  EXPECT_FALSE(exists(dir_ + "/c"));

  auto r = writePayload(dir_, {{"a", file("A2")}, {"c", file("C2")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r);  // links changed, content did not
  EXPECT_EQ(tsDir(), "..2020_01_01_00_00_00.44");
  EXPECT_EQ(listDir(dir_), (std::set<std::string>{"..data", "..2020_01_01_00_00_00.44", "a", "c"}));
  EXPECT_EQ(contentOf(dir_ + "/c"), "C2");
}

// Removal never goes through symlinks: a link that is not ours stays, and a
// timestamp-named symlink to another directory is not deleted into.
TEST_F(AtomicWriterTest, NeverFollowsSymlinksOutOfTheVolume) {
  std::string outside = root_ + "/outside";
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  ASSERT_TRUE(core::writeFileAtomic(outside + "/keep", "precious").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (dir_ + "/..2020_01_01_00_00_00.45").c_str()), 0);
  ASSERT_EQ(::symlink((outside + "/keep").c_str(), (dir_ + "/foreign").c_str()), 0);

  ASSERT_TRUE(writePayload(dir_, {{"a", file("A1")}}).ok());
  ASSERT_TRUE(writePayload(dir_, {{"b", file("B2")}}).ok());
  EXPECT_EQ(contentOf(outside + "/keep"), "precious");
  EXPECT_EQ(linkOf(dir_ + "/foreign"), outside + "/keep");
  EXPECT_FALSE(exists(dir_ + "/a"));
}

// One version of a file: "A<n>" followed by 8192 'a' (or the same with B/b); returns
// n, or -1 when the content is anything else (torn, mixed, empty).
int versionOf(const std::string& s, char fill) {
  size_t i = 1;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (s.size() < 2 || s[0] != std::toupper(fill) || i == 1 || s.size() - i != 8192 ||
      s.find_first_not_of(fill, i) != std::string::npos)
    return -1;
  return std::atoi(s.c_str() + 1);
}

// What upstream guarantees a reader: a directory opened through ..data is one version
// for good (its files are never modified, only the directory removed later), so two
// files read through it always match. Each user-visible file alone is read whole, or
// not found when its old directory was removed during the lookup.
TEST_F(AtomicWriterTest, ReadersSeeOneVersionWhole) {
  auto payloadFor = [](int i) {
    std::string n = std::to_string(i);
    return Payload{{"a", file("A" + n + std::string(8192, 'a'))},
                   {"b", file("B" + n + std::string(8192, 'b'))}};
  };
  ASSERT_TRUE(writePayload(dir_, payloadFor(0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> pairs{0};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    while (!stop.load()) {
      int dfd = ::open((dir_ + "/..data").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) continue;
      auto readAt = [&](const char* name) -> std::string {
        int fd = ::openat(dfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return "";
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
        ::close(fd);
        return out;
      };
      std::string a = readAt("a");
      std::string b = readAt("b");
      ::close(dfd);
      if (a.empty() || b.empty()) continue;  // the directory was removed meanwhile
      int va = versionOf(a, 'a');
      if (va < 0 || va != versionOf(b, 'b')) failures++;
      pairs++;
      auto viaLink = core::readFile(dir_ + "/a");
      if (viaLink.ok() ? versionOf(*viaLink, 'a') < 0 : !absl::IsNotFound(viaLink.status()))
        failures++;
    }
  });
  for (int i = 1; i <= 300; ++i) ASSERT_TRUE(writePayload(dir_, payloadFor(i)).ok());
  for (int i = 0; i < 10000 && pairs.load() < 50; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(pairs.load(), 50);
  EXPECT_EQ(versionOf(contentOf(dir_ + "/b"), 'b'), 300);
}

}  // namespace
}  // namespace cubelet::testing

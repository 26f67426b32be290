#include "core/inotify_watcher.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/atomic_file.h"
#include "core/sd_event_loop.h"
#include "gtest/gtest.h"

namespace core {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

class DirWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-dirwatch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto loop = SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    auto w = DirWatcher::create(*loop_, dir_, [this] {
      ++changes_;
      if (exitOnChange_) loop_->exit();
    });
    ASSERT_TRUE(w.ok()) << w.status();
    watcher_ = std::move(*w);
  }
  void TearDown() override {
    watcher_.reset();
    EXPECT_TRUE(removeAll(dir_).ok());
  }

  // Runs the loop until the watcher reports a change; false after 5 s without one.
  bool waitForChange() {
    int before = changes_;
    exitOnChange_ = true;
    TimerPtr guard = loop_->createTimer([this] { loop_->exit(); });
    guard->enableTimer(5s);
    EXPECT_TRUE(loop_->run().ok());
    return changes_ > before;
  }

  // Runs the loop for `d` and returns how many changes were reported meanwhile.
  int changesDuring(Duration d) {
    int before = changes_;
    exitOnChange_ = false;
    TimerPtr stop = loop_->createTimer([this] { loop_->exit(); });
    stop->enableTimer(d);
    EXPECT_TRUE(loop_->run().ok());
    return changes_ - before;
  }

  void writeRaw(const std::string& name, const std::string& data, int flags) {
    int fd = ::open((dir_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }

  std::string dir_;
  std::unique_ptr<SdEventLoop> loop_;
  std::unique_ptr<DirWatcher> watcher_;
  int changes_ = 0;
  bool exitOnChange_ = true;
};

TEST_F(DirWatcherTest, SeesCreateModifyRenameAttribAndDelete) {
  EXPECT_EQ(changesDuring(30ms), 0);

  writeRaw("pod.yaml", "a: 1\n", O_TRUNC);
  EXPECT_TRUE(waitForChange()) << "create";
  changesDuring(20ms);

  writeRaw("pod.yaml", "b: 2\n", O_APPEND);
  EXPECT_TRUE(waitForChange()) << "modify";
  changesDuring(20ms);

  ASSERT_EQ(std::rename((dir_ + "/pod.yaml").c_str(), (dir_ + "/moved.yaml").c_str()), 0);
  EXPECT_TRUE(waitForChange()) << "rename";
  changesDuring(20ms);

  ASSERT_EQ(::chmod((dir_ + "/moved.yaml").c_str(), 0600), 0);
  EXPECT_TRUE(waitForChange()) << "attrib";
  changesDuring(20ms);

  ASSERT_TRUE(writeFileAtomic(dir_ + "/moved.yaml", "c: 3\n").ok());
  EXPECT_TRUE(waitForChange()) << "atomic replace";
  changesDuring(20ms);

  ASSERT_EQ(::unlink((dir_ + "/moved.yaml").c_str()), 0);
  EXPECT_TRUE(waitForChange()) << "delete";
  EXPECT_TRUE(watcher_->alive());
}

TEST_F(DirWatcherTest, ManyChangesInOneWakeupAreReportedOnce) {
  for (int i = 0; i < 50; ++i) writeRaw("f" + std::to_string(i), "data", O_TRUNC);
  EXPECT_EQ(changesDuring(100ms), 1);
}

TEST_F(DirWatcherTest, DirectoryRemovedEndsTheWatch) {
  ASSERT_EQ(::rmdir(dir_.c_str()), 0);
  EXPECT_TRUE(waitForChange());
  changesDuring(20ms);
  EXPECT_FALSE(watcher_->alive());
}

TEST_F(DirWatcherTest, MissingDirectoryIsNotFound) {
  auto w = DirWatcher::create(*loop_, dir_ + "/missing", [] {});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(w.status().message().find(dir_ + "/missing"), std::string::npos);
  EXPECT_NE(w.status().message().find("does not exist"), std::string::npos);
}

TEST_F(DirWatcherTest, WatcherMayBeDestroyedFromItsCallback) {
  std::unique_ptr<DirWatcher> own;
  int calls = 0;
  auto w = DirWatcher::create(*loop_, dir_, [&] {
    ++calls;
    own.reset();
  });
  ASSERT_TRUE(w.ok());
  own = std::move(*w);
  writeRaw("x", "1", O_TRUNC);
  EXPECT_TRUE(waitForChange());
  changesDuring(20ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(own, nullptr);
}

}  // namespace
}  // namespace core

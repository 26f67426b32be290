#include "agent/logs/container_logs_handler.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "core/sd_event_loop.h"
#include "gtest/gtest.h"

namespace agent::logs {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

// Records what the handler does to the exchange; the test sets buffered(), drains
// and closes.
class FakeExchange : public server::HttpExchange {
 public:
  const server::HttpRequest& request() const override { return request_; }
  void respond(server::HttpResponse r) override {
    ++answers;
    response = std::move(r);
  }
  void startStream(int s, const std::string& contentType,
                   const std::map<std::string, std::string>&) override {
    ++answers;
    status = s;
    type = contentType;
  }
  void write(std::string_view data) override {
    EXPECT_FALSE(ended) << "write after end";
    if (!closed_) body.append(data);
    ++writes;
  }
  size_t buffered() const override { return buffered_; }
  void onDrained(std::function<void()> cb) override { drained_ = std::move(cb); }
  void end() override {
    EXPECT_FALSE(ended) << "end twice";
    ended = true;
  }
  void upgrade(const std::map<std::string, std::string>&,
               std::function<void(std::unique_ptr<server::UpgradedConnection>)>) override {
    ADD_FAILURE() << "upgrade";
  }
  void onClosed(std::function<void()> cb) override { closedCb_ = std::move(cb); }
  bool closed() const override { return closed_; }

  void setBuffered(size_t n) { buffered_ = n; }
  bool hasDrainCallback() const { return static_cast<bool>(drained_); }
  void drain() {
    buffered_ = 0;
    auto cb = std::move(drained_);
    drained_ = nullptr;
    if (cb) cb();
  }
  void closeByClient() {
    closed_ = true;
    auto cb = std::move(closedCb_);
    closedCb_ = nullptr;
    if (cb) cb();
  }

  int answers = 0;
  int status = 0;
  std::string type;
  std::optional<server::HttpResponse> response;
  std::string body;
  int writes = 0;
  bool ended = false;

 private:
  server::HttpRequest request_;
  size_t buffered_ = 0;
  std::function<void()> drained_;
  std::function<void()> closedCb_;
  bool closed_ = false;
};

int countFds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

class ContainerLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-containerlogs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/0.log";
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    ex_ = std::make_shared<FakeExchange>();
    config_.stateCheckPeriod = 200ms;
  }
  void TearDown() override {
    ex_.reset();
    loop_.reset();
    EXPECT_TRUE(core::removeAll(dir_).ok());
  }

  void append(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  void append(const std::string& data) { append(path_, data); }

  // Runs the loop until `pred` holds (checked every 5 ms); false after `timeout`.
  bool runUntil(std::function<bool()> pred, core::Duration timeout = 5s) {
    bool ok = false;
    auto deadline = loop_->monotonicNow() + timeout;
    core::TimerPtr check;
    check = loop_->createTimer([&] {
      if (pred()) {
        ok = true;
        loop_->exit();
      } else if (loop_->monotonicNow() >= deadline) {
        loop_->exit();
      } else {
        check->enableTimer(5ms);
      }
    });
    check->enableTimer(0ms);
    EXPECT_TRUE(loop_->run().ok());
    return ok;
  }
  void runFor(core::Duration d) {
    core::TimerPtr stop = loop_->createTimer([&] { loop_->exit(); });
    stop->enableTimer(d);
    EXPECT_TRUE(loop_->run().ok());
  }

  void serve(const LogOptions& opts, IsRunningFn isRunning = nullptr) {
    if (!isRunning) isRunning = [](std::function<void(bool)> cb) { cb(true); };
    serveContainerLogs(*loop_, ex_, opts, path_, std::move(isRunning), config_);
  }
  // Serves a non-follow request and waits for the stream to end.
  std::string readAll(const LogOptions& opts) {
    ex_ = std::make_shared<FakeExchange>();
    serve(opts);
    EXPECT_TRUE(runUntil([&] { return ex_->ended || ex_->response.has_value(); }));
    EXPECT_EQ(ex_->status, 200);
    return ex_->body;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::shared_ptr<FakeExchange> ex_;
  LogStreamConfig config_;
};

const char kLog[] =
    "2016-10-06T00:00:01Z stdout F first\n"
    "2016-10-06T00:00:02Z stderr F second\n"
    "not a record\n"
    "2016-10-06T00:00:03Z stdout P thi\n"
    "2016-10-06T00:00:04Z stdout F rd\n"
    "2016-10-06T00:00:05Z stdout F fourth\n";

TEST_F(ContainerLogsTest, WholeFileWithBothStreamsJoinedPartialsAndMalformedSkipped) {
  append(kLog);
  std::string body = readAll({});
  EXPECT_EQ(ex_->type, "text/plain; charset=utf-8");
  EXPECT_EQ(body, "first\nsecond\nthird\nfourth\n");
}

TEST_F(ContainerLogsTest, EachOption) {
  append(kLog);
  LogOptions o;
  o.tailLines = 2;
  EXPECT_EQ(readAll(o), "third\nfourth\n");
  o.tailLines = 0;
  EXPECT_EQ(readAll(o), "");

  o = {};
  o.timestamps = true;
  o.tailLines = 1;
  EXPECT_EQ(readAll(o), "2016-10-06T00:00:05.000000000Z fourth\n");

  o = {};
  o.since = absl::FromUnixSeconds(1475712002);  // 2016-10-06T00:00:02Z
  EXPECT_EQ(readAll(o), "second\nthird\nfourth\n");

  o = {};
  o.limitBytes = 9;
  EXPECT_EQ(readAll(o), "first\nsec");
  o.limitBytes = 6;  // exactly at a line end
  EXPECT_EQ(readAll(o), "first\n");

  o = {};
  o.since = absl::FromUnixSeconds(1475712003);
  o.tailLines = 3;
  o.limitBytes = 8;
  o.timestamps = false;
  EXPECT_EQ(readAll(o), "third\nfo");
}

TEST_F(ContainerLogsTest, IncompleteLastRecordIsPrintedWithoutFollow) {
  append("2016-10-06T00:00:01Z stdout F a\n2016-10-06T00:00:02Z stdout P b-no-newline");
  EXPECT_EQ(readAll({}), "a\nb-no-newline");
}

TEST_F(ContainerLogsTest, MissingFileIs400WithTheKubeletsMessage) {
  serve({});
  EXPECT_EQ(ex_->answers, 1);
  ASSERT_TRUE(ex_->response.has_value());
  EXPECT_EQ(ex_->response->status, 400);
  EXPECT_EQ(ex_->response->body, "failed to try resolving symlinks in path \"" + path_ +
                                     "\": lstat " + path_ + ": no such file or directory");
}

TEST_F(ContainerLogsTest, BigFileIsReadInSlicesAcrossLoopTurns) {
  std::string chunk;
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&chunk, "2016-10-06T00:00:01Z stdout F ", i, "\n");
  for (int i = 0; i < 40; ++i) append(chunk);  // ~1.9 MB
  config_.readChunk = 64 * 1024;
  config_.maxBuffered = 64 << 20;
  // A timer due now must get to run while the file is being read.
  bool timerRan = false;
  int writesWhenTimerRan = -1;
  serve({});
  core::TimerPtr t = loop_->createTimer([&] {
    timerRan = true;
    writesWhenTimerRan = ex_->writes;
  });
  t->enableTimer(0ms);
  ASSERT_TRUE(runUntil([&] { return ex_->ended; }));
  EXPECT_TRUE(timerRan);
  EXPECT_LT(writesWhenTimerRan, 5);
  EXPECT_GT(ex_->writes, 20);
  EXPECT_EQ(std::count(ex_->body.begin(), ex_->body.end(), '\n'), 80000);
}

TEST_F(ContainerLogsTest, FollowStreamsAppendsAndEndsWhenTheContainerStops) {
  append("2016-10-06T00:00:01Z stdout F before\n");
  bool running = true;
  int checks = 0;
  LogOptions o;
  o.follow = true;
  serve(o, [&](std::function<void(bool)> cb) {
    ++checks;
    // Answer later, as a CRI call on a worker would.
    loop_->post([&running, cb] { cb(running); });
  });
  ASSERT_TRUE(runUntil([&] { return ex_->body == "before\n"; }));
  append("2016-10-06T00:00:02Z stdout P a");
  append("f\n");
  append("2016-10-06T00:00:03Z stdout F ter\n");
  ASSERT_TRUE(runUntil([&] { return ex_->body == "before\nafter\n"; })) << ex_->body;
  append("2016-10-06T00:00:04Z stderr F more\n");
  ASSERT_TRUE(runUntil([&] { return ex_->body == "before\nafter\nmore\n"; })) << ex_->body;
  // Idle: the state is checked every period and the stream stays open.
  runFor(500ms);
  EXPECT_GE(checks, 1);
  EXPECT_FALSE(ex_->ended);
  // The container stops after writing a last line.
  append("2016-10-06T00:00:05Z stdout F last\n");
  running = false;
  ASSERT_TRUE(runUntil([&] { return ex_->ended; }, 3s));
  EXPECT_EQ(ex_->body, "before\nafter\nmore\nlast\n");
}

TEST_F(ContainerLogsTest, FollowWithTailStartsAtTheTail) {
  append(kLog);
  LogOptions o;
  o.follow = true;
  o.tailLines = 1;
  serve(o);
  ASSERT_TRUE(runUntil([&] { return ex_->body == "fourth\n"; })) << ex_->body;
  append("2016-10-06T00:00:06Z stdout F fifth\n");
  ASSERT_TRUE(runUntil([&] { return ex_->body == "fourth\nfifth\n"; })) << ex_->body;
  ex_->closeByClient();
}

TEST_F(ContainerLogsTest, FollowAcrossRotation) {
  append("2016-10-06T00:00:01Z stdout F one\n");
  LogOptions o;
  o.follow = true;
  serve(o);
  ASSERT_TRUE(runUntil([&] { return ex_->body == "one\n"; }));
  // The rotator renames the file; the runtime still writes to it until it reopens.
  std::string rotated = path_ + ".20161006-000002";
  ASSERT_EQ(::rename(path_.c_str(), rotated.c_str()), 0);
  append(rotated, "2016-10-06T00:00:02Z stdout F two (old file)\n");
  runFor(50ms);
  append("2016-10-06T00:00:03Z stdout F three (new file)\n");
  ASSERT_TRUE(runUntil([&] { return ex_->body == "one\ntwo (old file)\nthree (new file)\n"; }))
      << ex_->body;
  append("2016-10-06T00:00:04Z stdout F four\n");
  ASSERT_TRUE(runUntil([&] {
    return ex_->body == "one\ntwo (old file)\nthree (new file)\nfour\n";
  })) << ex_->body;
  // And once more, this time the new file appears before anything is read.
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".20161006-000005").c_str()), 0);
  append("2016-10-06T00:00:05Z stdout F five\n");
  ASSERT_TRUE(runUntil([&] { return absl::EndsWith(ex_->body, "four\nfive\n"); })) << ex_->body;
  ex_->closeByClient();
}

TEST_F(ContainerLogsTest, ClientCloseStopsTheFollowerAndReleasesEveryFd) {
  append("2016-10-06T00:00:01Z stdout F one\n");
  runFor(10ms);
  int before = countFds();
  int checks = 0;
  LogOptions o;
  o.follow = true;
  serve(o, [&](std::function<void(bool)> cb) {
    ++checks;
    cb(true);
  });
  ASSERT_TRUE(runUntil([&] { return ex_->body == "one\n"; }));
  runFor(50ms);
  EXPECT_GE(countFds(), before + 2);  // the file and the inotify fd
  ex_->closeByClient();
  EXPECT_EQ(countFds(), before);
  int checksAtClose = checks;
  append("2016-10-06T00:00:02Z stdout F two\n");
  runFor(500ms);
  EXPECT_EQ(ex_->body, "one\n");
  EXPECT_FALSE(ex_->ended);  // no end() on a closed exchange
  EXPECT_EQ(checks, checksAtClose);
  // The streamer is gone: the exchange is its only owner's... nobody else's.
  EXPECT_EQ(ex_.use_count(), 1);
}

TEST_F(ContainerLogsTest, EndingByContainerStopReleasesEveryFd) {
  append("2016-10-06T00:00:01Z stdout F one\n");
  runFor(10ms);
  int before = countFds();
  LogOptions o;
  o.follow = true;
  serve(o, [](std::function<void(bool)> cb) { cb(false); });
  ASSERT_TRUE(runUntil([&] { return ex_->ended; }));
  EXPECT_EQ(ex_->body, "one\n");
  EXPECT_EQ(countFds(), before);
  EXPECT_EQ(ex_.use_count(), 1);
}

TEST_F(ContainerLogsTest, SlowReaderPausesReadingUntilDrained) {
  std::string chunk;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&chunk, "2016-10-06T00:00:01Z stdout F ", i, "\n");
  append(chunk);
  config_.readChunk = 1024;
  config_.maxBuffered = 4096;
  ex_->setBuffered(5000);  // the client is not reading
  serve({});
  runFor(100ms);
  EXPECT_TRUE(ex_->hasDrainCallback());
  EXPECT_EQ(ex_->writes, 0);
  EXPECT_FALSE(ex_->ended);
  // It drains: reading resumes and, the client keeping up, finishes.
  ex_->drain();
  ASSERT_TRUE(runUntil([&] { return ex_->ended; }));
  EXPECT_EQ(std::count(ex_->body.begin(), ex_->body.end(), '\n'), 1000);
}

}  // namespace
}  // namespace agent::logs

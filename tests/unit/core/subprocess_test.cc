#include "core/subprocess.h"

#include <signal.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/signals.h"
#include "gtest/gtest.h"

namespace core {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

TEST(RunCommandTest, ReportsExitCodes) {
  auto ok = runCommand({"true"}, 10s);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->exitCode, 0);
  EXPECT_TRUE(ok->success());

  auto fail = runCommand({"/bin/sh", "-c", "exit 7"}, 10s);
  ASSERT_TRUE(fail.ok()) << fail.status();
  EXPECT_EQ(fail->exitCode, 7);
  EXPECT_EQ(fail->termSignal, 0);
  EXPECT_FALSE(fail->success());
  EXPECT_FALSE(fail->timedOut);
}

TEST(RunCommandTest, ReportsTheKillingSignal) {
  auto r = runCommand({"sh", "-c", "kill -TERM $$"}, 10s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->termSignal, SIGTERM);
  EXPECT_EQ(r->exitCode, -1);
}

TEST(RunCommandTest, CapturesStdoutAndStderrSeparately) {
  auto r = runCommand({"sh", "-c", "echo out; echo err >&2; echo more"}, 10s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "out\nmore\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunCommandTest, CapturesOutputLargerThanAPipeBuffer) {
  auto r = runCommand({"head", "-c", "1000000", "/dev/zero"}, 20s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exitCode, 0);
  EXPECT_EQ(r->out.size(), 1000000u);
}

TEST(RunCommandTest, StdinIsEmpty) {
  auto r = runCommand({"cat"}, 10s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exitCode, 0);
  EXPECT_EQ(r->out, "");
}

TEST(RunCommandTest, MissingCommandIsAnError) {
  auto r = runCommand({"cubelet-no-such-command"}, 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("cubelet-no-such-command"), std::string::npos);
  EXPECT_FALSE(runCommand({}, 1s).ok());
}

// A process gone, or a zombie waiting for its new parent to reap it.
bool processGone(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z';
}

TEST(RunCommandTest, TimeoutKillsTheCommandAndWhatItStarted) {
  auto start = std::chrono::steady_clock::now();
  auto r = runCommand({"sh", "-c", "sleep 60 & echo $!; wait"}, 300ms);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timedOut);
  EXPECT_EQ(r->termSignal, SIGKILL);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 10s);
  int child = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripTrailingAsciiWhitespace(r->out), &child)) << r->out;
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = processGone(child);
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "background child " << child << " survived the timeout";
}

TEST(RunCommandTest, ChildrenGetACleanSignalMaskAndDefaultDispositions) {
  // As in the agent: termination signals blocked and SIGPIPE ignored, in a thread
  // of its own so the test process keeps its mask.
  absl::StatusOr<SubprocessResult> r = absl::UnknownError("not run");
  struct sigaction oldPipe {};
  ::sigaction(SIGPIPE, nullptr, &oldPipe);
  std::thread agentLike([&] {
    blockTerminationSignals();
    r = runCommand({"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}, 10s);
  });
  agentLike.join();
  ::sigaction(SIGPIPE, &oldPipe, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  uint64_t blocked = ~0ull, ignored = ~0ull;
  ASSERT_EQ(std::sscanf(r->out.c_str(), "SigBlk: %" SCNx64 " SigIgn: %" SCNx64, &blocked, &ignored),
            2)
      << r->out;
  EXPECT_EQ(blocked, 0u) << r->out;
  // Only signals 1-31 count: glibc's posix_spawn leaves its own internal real-time
  // signals (32, 33) ignored in the child, and they are not ours to set.
  EXPECT_EQ(ignored & 0x7fffffffu, 0u) << r->out;
}

}  // namespace
}  // namespace core

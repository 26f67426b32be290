// The agent's own seccomp filter: loaded (by the function the agent calls) in a
// child process, it lets allowed calls through on every thread, including threads
// started before it, and refuses the others with EPERM; switched off, nothing is
// loaded. The lists are checked against each other.
#include "agent/sandbox/self_seccomp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/config/flags.h"

namespace agent::sandbox {
namespace {

// A /proc/self/status field ("Seccomp", "Seccomp_filters", "NoNewPrivs"), or "".
std::string statusField(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string v = line.substr(name.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

// personality(0xffffffff) only queries the persona: it works for anyone, and the
// agent never calls it, so the filter must refuse it.
long queryPersonality() { return ::syscall(SYS_personality, 0xffffffffUL); }

// The checks run in a death-test child (the filter cannot be removed); each
// failure prints its reason and exits non-zero.
int failWith(int code, const std::string& why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  return code;
}

int installedChild() {
  if (queryPersonality() < 0) return failWith(2, "personality refused before the filter");
  const std::string filtersBefore = statusField("Seccomp_filters");

  // A thread that exists before the filter (as the worker pool does) gets it too.
  std::mutex mu;
  std::condition_variable cv;
  bool installed = false;
  long threadRc = 0;
  int threadErrno = 0;
  std::thread worker([&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return installed; });
    errno = 0;
    threadRc = queryPersonality();
    threadErrno = errno;
  });

  SelfSeccompOutcome outcome = confineSelf(true);
  {
    std::lock_guard lock(mu);
    installed = true;
  }
  cv.notify_all();
  worker.join();

  if (outcome != SelfSeccompOutcome::kInstalled) return failWith(3, "confineSelf did not install");
  if (statusField("Seccomp") != "2") {
    return failWith(4, "Seccomp: " + statusField("Seccomp") + ", want 2 (filter)");
  }
  if (!filtersBefore.empty() &&
      statusField("Seccomp_filters") != std::to_string(std::stoi(filtersBefore) + 1)) {
    return failWith(
        5, "Seccomp_filters: " + statusField("Seccomp_filters") + ", before " + filtersBefore);
  }
  if (statusField("NoNewPrivs") != "1") return failWith(6, "NoNewPrivs not set");
  // Allowed calls work.
  if (::getpid() <= 0 || ::access("/proc/self/status", R_OK) != 0) {
    return failWith(7, std::string("allowed call failed: ") + std::strerror(errno));
  }
  // Forbidden calls fail with EPERM, on this thread and on the older one.
  errno = 0;
  long rc = queryPersonality();
  if (rc != -1 || errno != EPERM) {
    return failWith(8, "personality: rc " + std::to_string(rc) + " errno " + std::strerror(errno) +
                           ", want EPERM");
  }
  if (threadRc != -1 || threadErrno != EPERM) {
    return failWith(9, "personality on a pre-existing thread: rc " + std::to_string(threadRc) +
                           ", want EPERM (TSYNC)");
  }
  errno = 0;
  rc = ::syscall(SYS_acct, nullptr);
  if (rc != -1 || errno != EPERM) return failWith(10, "acct(NULL) not refused with EPERM");
  errno = 0;
  rc = ::syscall(SYS_kexec_load, 0, 0, nullptr, 0);
  if (rc != -1 || errno != EPERM) return failWith(11, "kexec_load not refused with EPERM");
  // A thread started after the filter inherits it.
  long laterRc = 0;
  int laterErrno = 0;
  std::thread later([&] {
    errno = 0;
    laterRc = queryPersonality();
    laterErrno = errno;
  });
  later.join();
  if (laterRc != -1 || laterErrno != EPERM) return failWith(12, "new thread not filtered");
  return 0;
}

int disabledChild() {
  const std::string before = statusField("Seccomp") + "/" + statusField("Seccomp_filters");
  if (confineSelf(false) != SelfSeccompOutcome::kDisabled) return failWith(2, "not disabled");
  const std::string after = statusField("Seccomp") + "/" + statusField("Seccomp_filters");
  if (after != before) return failWith(3, "seccomp state changed: " + before + " -> " + after);
  if (queryPersonality() < 0) return failWith(4, "personality refused with the switch off");
  return 0;
}

class SelfSeccompTest : public ::testing::Test {
 protected:
  // Re-executes the test binary for the child: safe whatever threads exist here.
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SelfSeccompTest, AllowsUsedCallsAndRefusesOthersWithEperm) {
  EXPECT_EXIT(::_exit(installedChild()), ::testing::ExitedWithCode(0), "");
}

TEST_F(SelfSeccompTest, SwitchedOffInstallsNothing) {
  EXPECT_EXIT(::_exit(disabledChild()), ::testing::ExitedWithCode(0), "");
}

TEST(SelfSeccompLists, AllowListHasNoDuplicatesAndNoForbiddenCall) {
  std::set<std::string> allowed;
  for (const char* name : selfSeccompAllowed()) {
    EXPECT_TRUE(allowed.insert(name).second) << "listed twice: " << name;
  }
  for (const char* name : selfSeccompNeverAllowed()) {
    EXPECT_EQ(allowed.count(name), 0u) << name << " must never be allowed";
  }
  // What the agent needs on every path: the event loop, threads, sockets, files, mounts.
  for (const char* name : {"epoll_wait", "futex", "clone", "clone3", "socket", "connect", "openat",
                           "read", "write", "mount", "umount2", "inotify_add_watch", "signalfd4",
                           "timerfd_settime", "eventfd2", "rseq", "statx"}) {
    EXPECT_EQ(allowed.count(name), 1u) << name;
  }
}

TEST(SelfSeccompFlag, DefaultsOnAndTurnsOffWithTheFlag) {
  config::AgentConfig cfg;
  EXPECT_TRUE(cfg.selfSeccomp);
  std::vector<std::string_view> args = {"--self-seccomp=false"};
  auto cl = config::parseCommandLine(args);
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_TRUE(cl->warnings.empty());
  ASSERT_TRUE(config::applyFlags(*cl, cfg).ok());
  EXPECT_FALSE(cfg.selfSeccomp);
}

}  // namespace
}  // namespace agent::sandbox

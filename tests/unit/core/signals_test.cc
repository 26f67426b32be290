#include "core/signals.h"

#include <signal.h>

#include <thread>

#include "gtest/gtest.h"

namespace core {
namespace {

TEST(SignalsTest, BlocksTerminationSignalsAndIgnoresSigpipe) {
  struct sigaction oldPipe {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &oldPipe), 0);
  sigset_t mask;
  sigemptyset(&mask);
  bool survivedSigpipe = false;
  // In a thread of its own: the mask is per thread, and the test's must not change.
  std::thread t([&] {
    blockTerminationSignals();
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    ::raise(SIGPIPE);  // would kill the process if it were not ignored
    survivedSigpipe = true;
  });
  t.join();
  struct sigaction nowPipe {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &nowPipe), 0);
  ::sigaction(SIGPIPE, &oldPipe, nullptr);

  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE}) {
    EXPECT_EQ(sigismember(&mask, sig), 1) << "signal " << sig;
  }
  EXPECT_EQ(sigismember(&mask, SIGUSR2), 0);
  EXPECT_EQ(nowPipe.sa_handler, SIG_IGN);
  EXPECT_TRUE(survivedSigpipe);
}

}  // namespace
}  // namespace core

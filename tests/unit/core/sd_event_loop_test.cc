#include "core/sd_event_loop.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

std::unique_ptr<SdEventLoop> newLoop() {
  auto loop = SdEventLoop::create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(*loop);
}

// Runs the loop, failing the test (instead of hanging it) if nothing calls exit()
// within `guard`.
void runGuarded(SdEventLoop& loop, Duration guard = 10s) {
  bool timedOut = false;
  TimerPtr t = loop.createTimer([&] {
    timedOut = true;
    loop.exit();
  });
  t->enableTimer(guard);
  ASSERT_TRUE(loop.run().ok());
  EXPECT_FALSE(timedOut) << "event loop test timed out";
}

TEST(SdEventLoopTest, TimersFireInDeadlineOrder) {
  auto loop = newLoop();
  std::vector<int> fired;
  TimerPtr t30 = loop->createTimer([&] {
    fired.push_back(30);
    loop->exit();
  });
  TimerPtr t10 = loop->createTimer([&] { fired.push_back(10); });
  TimerPtr t20 = loop->createTimer([&] { fired.push_back(20); });
  t30->enableTimer(30ms);
  t10->enableTimer(10ms);
  t20->enableTimer(20ms);
  EXPECT_TRUE(t10->enabled());
  runGuarded(*loop);
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30}));
  EXPECT_FALSE(t10->enabled());
  EXPECT_FALSE(t30->enabled());
}

TEST(SdEventLoopTest, TimersDueInTheSameWakeupStillFireInDeadlineOrder) {
  auto loop = newLoop();
  std::vector<int> fired;
  std::vector<TimerPtr> timers;
  // Armed in reverse, then all overdue by the time the loop first looks.
  for (int i = 5; i >= 1; --i) {
    timers.push_back(loop->createTimer([&fired, i] { fired.push_back(i); }));
    timers.back()->enableTimer(Duration(i));
  }
  TimerPtr last = loop->createTimer([&] { loop->exit(); });
  last->enableTimer(6ms);
  std::this_thread::sleep_for(50ms);
  runGuarded(*loop);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(SdEventLoopTest, ReArmingReplacesTheDeadline) {
  auto loop = newLoop();
  int count = 0;
  auto start = loop->monotonicNow();
  TimerPtr t = loop->createTimer([&] { ++count; });
  t->enableTimer(60s);
  t->enableTimer(20ms);
  TimerPtr done = loop->createTimer([&] { loop->exit(); });
  done->enableTimer(200ms);
  runGuarded(*loop);
  EXPECT_EQ(count, 1);
  EXPECT_GE(loop->monotonicNow() - start, 200ms);
}

TEST(SdEventLoopTest, TimerReArmedFromItsCallbackFiresAgain) {
  auto loop = newLoop();
  int count = 0;
  TimerPtr t;
  t = loop->createTimer([&] {
    if (++count == 3) {
      loop->exit();
    } else {
      t->enableTimer(5ms);
    }
  });
  t->enableTimer(5ms);
  runGuarded(*loop);
  EXPECT_EQ(count, 3);
}

TEST(SdEventLoopTest, DisabledAndDestroyedTimersDoNotFire) {
  auto loop = newLoop();
  int disabledFired = 0;
  int destroyedFired = 0;
  TimerPtr disabled = loop->createTimer([&] { ++disabledFired; });
  TimerPtr destroyed = loop->createTimer([&] { ++destroyedFired; });
  disabled->enableTimer(10ms);
  destroyed->enableTimer(10ms);
  disabled->disableTimer();
  EXPECT_FALSE(disabled->enabled());
  destroyed.reset();
  TimerPtr done = loop->createTimer([&] { loop->exit(); });
  done->enableTimer(100ms);
  runGuarded(*loop);
  EXPECT_EQ(disabledFired, 0);
  EXPECT_EQ(destroyedFired, 0);
}

TEST(SdEventLoopTest, TimerMayDestroyItselfAndOthersInItsCallback) {
  auto loop = newLoop();
  int otherFired = 0;
  TimerPtr other = loop->createTimer([&] { ++otherFired; });
  TimerPtr self;
  // The captured string makes ASan notice if the callback is freed while it runs.
  std::string payload(100, 'x');
  self = loop->createTimer([&, payload] {
    self.reset();
    other.reset();
    EXPECT_EQ(payload.size(), 100u);
    loop->exit();
  });
  self->enableTimer(5ms);
  other->enableTimer(5ms);
  runGuarded(*loop);
  EXPECT_EQ(self, nullptr);
  EXPECT_EQ(otherFired, 0);
}

TEST(SdEventLoopTest, PostsFromManyThreadsArriveInOrderPerThread) {
  auto loop = newLoop();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<int> next(kThreads, 0);
  int total = 0;
  bool inOrder = true;
  bool onLoopThread = true;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop->post([&, t, i] {
          onLoopThread = onLoopThread && loop->isLoopThread();
          if (next[t] != i) inOrder = false;
          next[t] = i + 1;
          if (++total == kThreads * kPerThread) loop->exit();
        });
      }
    });
  }
  runGuarded(*loop);
  for (auto& th : threads) th.join();
  EXPECT_EQ(total, kThreads * kPerThread);
  EXPECT_TRUE(inOrder);
  EXPECT_TRUE(onLoopThread);
}

TEST(SdEventLoopTest, ExitStopsAfterTheCurrentCallbackAndRunResumes) {
  auto loop = newLoop();
  std::vector<int> ran;
  loop->post([&] {
    ran.push_back(1);
    loop->exit();
  });
  loop->post([&] {
    ran.push_back(2);
    loop->exit();
  });
  runGuarded(*loop);
  EXPECT_EQ(ran, (std::vector<int>{1}));
  runGuarded(*loop);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}

TEST(SdEventLoopTest, ExitFromAnotherThread) {
  auto loop = newLoop();
  std::atomic<bool> otherIsLoopThread{true};
  std::thread other([&] {
    std::this_thread::sleep_for(20ms);
    otherIsLoopThread = loop->isLoopThread();
    loop->exit();
  });
  runGuarded(*loop);
  other.join();
  EXPECT_FALSE(otherIsLoopThread);
  EXPECT_TRUE(loop->isLoopThread());
}

TEST(SdEventLoopTest, FileEventReportsReadableAndClosedOnAPipe) {
  auto loop = newLoop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  std::string got;
  bool sawClosed = false;
  FileEventPtr ev = loop->createFileEvent(fds[0], kReadable, [&](uint32_t ready) {
    if (ready & kReadable) {
      char buf[64];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
    if (ready & kClosed) {
      sawClosed = true;
      loop->exit();
    }
  });
  loop->post([&] {
    ASSERT_EQ(::write(fds[1], "hello", 5), 5);
    ::close(fds[1]);
  });
  runGuarded(*loop);
  EXPECT_EQ(got, "hello");
  EXPECT_TRUE(sawClosed);
  ev.reset();
  ::close(fds[0]);
}

TEST(SdEventLoopTest, FileEventWritableAndDisabled) {
  auto loop = newLoop();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  int writable = 0;
  int readable = 0;
  bool exitOnRead = false;
  FileEventPtr w = loop->createFileEvent(fds[1], kWritable, [&](uint32_t ready) {
    if (ready & kWritable) ++writable;
    w.reset();  // destroying the handle inside its own callback is allowed
  });
  // Data is waiting, but the event is disabled: it must not fire.
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  FileEventPtr r = loop->createFileEvent(fds[0], kReadable, [&](uint32_t ready) {
    if (ready & kReadable) ++readable;
    if (exitOnRead) loop->exit();
  });
  r->setEnabled(0);
  TimerPtr done = loop->createTimer([&] { loop->exit(); });
  done->enableTimer(50ms);
  runGuarded(*loop);
  EXPECT_EQ(writable, 1);
  EXPECT_EQ(w, nullptr);
  EXPECT_EQ(readable, 0);
  // Re-enabled, the pending data is reported (level-triggered).
  exitOnRead = true;
  r->setEnabled(kReadable);
  runGuarded(*loop);
  EXPECT_EQ(readable, 1);
  r.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(SdEventLoopTest, SignalArrivesAsACallback) {
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  {
    auto loop = newLoop();
    int got = 0;
    SignalEventPtr sig = loop->createSignal(SIGUSR1, [&] {
      ++got;
      loop->exit();
    });
    // raise() targets this thread, where the signal is blocked, so only the loop sees it.
    loop->post([] { ::raise(SIGUSR1); });
    runGuarded(*loop);
    EXPECT_EQ(got, 1);
  }
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
}

TEST(SdEventLoopTest, ClocksAreRealTime) {
  auto loop = newLoop();
  auto before = std::chrono::steady_clock::now();
  auto mono = loop->monotonicNow();
  EXPECT_GE(mono, before);
  EXPECT_LT(mono - before, 1s);
  auto wall = loop->wallNow();
  EXPECT_LT(std::chrono::abs(wall - std::chrono::system_clock::now()), 1s);
  EXPECT_NE(loop->raw(), nullptr);
}

}  // namespace
}  // namespace core

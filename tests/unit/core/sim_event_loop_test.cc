#include "tests/fakes/sim_event_loop.h"

#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

TEST(SimEventLoopTest, AdvanceFiresDueTimersInDeadlineOrderAtTheirDeadlines) {
  SimEventLoop loop;
  const MonoTime start = loop.monotonicNow();
  std::vector<std::pair<int, Duration>> fired;
  auto record = [&](int id) {
    return [&, id] {
      fired.emplace_back(id, std::chrono::duration_cast<Duration>(loop.monotonicNow() - start));
    };
  };
  TimerPtr a = loop.createTimer(record(3));
  TimerPtr b = loop.createTimer(record(1));
  TimerPtr c = loop.createTimer(record(2));
  TimerPtr late = loop.createTimer(record(9));
  a->enableTimer(3s);
  b->enableTimer(1s);
  c->enableTimer(2s);
  late->enableTimer(10s);
  EXPECT_EQ(loop.nextTimerDeadline(), start + 1s);
  loop.advance(5s);
  EXPECT_EQ(fired, (std::vector<std::pair<int, Duration>>{{1, 1s}, {2, 2s}, {3, 3s}}));
  EXPECT_EQ(loop.monotonicNow() - start, 5s);
  EXPECT_TRUE(late->enabled());
  EXPECT_EQ(loop.armedTimerCount(), 1u);
  loop.advance(5s);
  EXPECT_EQ(fired.back(), std::make_pair(9, Duration(10s)));
}

TEST(SimEventLoopTest, TimersArmedByCallbacksFireWithinTheSameAdvanceWhenDue) {
  SimEventLoop loop;
  int ticks = 0;
  TimerPtr t;
  t = loop.createTimer([&] {
    ++ticks;
    t->enableTimer(1s);
  });
  t->enableTimer(1s);
  loop.advance(3500ms);
  EXPECT_EQ(ticks, 3);
  EXPECT_TRUE(t->enabled());
  loop.advance(500ms);
  EXPECT_EQ(ticks, 4);
}

TEST(SimEventLoopTest, DisableAndDestroyCancel) {
  SimEventLoop loop;
  int fired = 0;
  TimerPtr a = loop.createTimer([&] { ++fired; });
  TimerPtr b = loop.createTimer([&] { ++fired; });
  a->enableTimer(1s);
  b->enableTimer(1s);
  a->disableTimer();
  b.reset();
  loop.advance(2s);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
}

TEST(SimEventLoopTest, TimerMayDestroyItselfInItsCallback) {
  SimEventLoop loop;
  std::string payload(64, 'p');
  TimerPtr t;
  t = loop.createTimer([&t, payload] {
    t.reset();
    EXPECT_EQ(payload.size(), 64u);
  });
  t->enableTimer(1s);
  loop.advance(1s);
  EXPECT_EQ(t, nullptr);
}

TEST(SimEventLoopTest, RunPendingRunsPostedWorkIncludingNestedPosts) {
  SimEventLoop loop;
  std::vector<int> ran;
  loop.post([&] {
    ran.push_back(1);
    loop.post([&] { ran.push_back(3); });
  });
  loop.post([&] { ran.push_back(2); });
  EXPECT_TRUE(ran.empty());
  EXPECT_EQ(loop.runPending(), 3u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop.runPending(), 0u);
}

TEST(SimEventLoopTest, RunServesPostsFromOtherThreadsUntilExit) {
  SimEventLoop loop;
  int count = 0;
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) loop.post([&] { ++count; });
    loop.post([&] { loop.exit(); });
  });
  ASSERT_TRUE(loop.run().ok());
  producer.join();
  EXPECT_EQ(count, 100);
  EXPECT_TRUE(loop.isLoopThread());
}

TEST(SimEventLoopTest, WallClockMovesWithSimulatedTime) {
  SimEventLoop loop;
  WallTime epoch{std::chrono::seconds(SimEventLoop::kWallEpochSeconds)};
  EXPECT_EQ(loop.wallNow(), epoch);
  loop.advance(90s);
  EXPECT_EQ(loop.wallNow(), epoch + 90s);
}

TEST(SimEventLoopTest, DeliverSignalRunsItsCallbacksOnly) {
  SimEventLoop loop;
  int term = 0;
  int hup = 0;
  SignalEventPtr t = loop.createSignal(SIGTERM, [&] { ++term; });
  SignalEventPtr h = loop.createSignal(SIGHUP, [&] { ++hup; });
  loop.deliverSignal(SIGTERM);
  EXPECT_EQ(term, 1);
  EXPECT_EQ(hup, 0);
  t.reset();
  loop.deliverSignal(SIGTERM);
  EXPECT_EQ(term, 1);
}

}  // namespace
}  // namespace core

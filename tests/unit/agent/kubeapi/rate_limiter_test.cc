// The client-side token bucket on simulated time: a full burst at once, then qps;
// waiters in FIFO order; a destroyed ticket leaves the queue.
#include "agent/kubeapi/rate_limiter.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/fakes/sim_event_loop.h"

namespace agent::kubeapi {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiterTest, BurstThenQps) {
  core::SimEventLoop loop;
  RateLimiter limiter(loop, /*qps=*/10, /*burst=*/3);
  std::vector<int> ran;
  std::vector<RateLimiter::TicketPtr> tickets;
  for (int i = 0; i < 6; ++i) tickets.push_back(limiter.acquire([&, i] { ran.push_back(i); }));
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));  // the burst, at once
  EXPECT_EQ(limiter.waiting(), 3u);
  loop.advance(milliseconds(99));
  EXPECT_EQ(ran.size(), 3u);
  loop.advance(milliseconds(2));
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  loop.advance(milliseconds(200));
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(limiter.waiting(), 0u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);

  // Idle time refills up to the burst, not beyond.
  loop.advance(std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(limiter.tokens(), 3);
}

TEST(RateLimiterTest, FifoAndCancel) {
  core::SimEventLoop loop;
  RateLimiter limiter(loop, /*qps=*/1, /*burst=*/1);
  std::vector<int> ran;
  auto t0 = limiter.acquire([&] { ran.push_back(0); });
  auto t1 = limiter.acquire([&] { ran.push_back(1); });
  auto t2 = limiter.acquire([&] { ran.push_back(2); });
  auto t3 = limiter.acquire([&] { ran.push_back(3); });
  t2.reset();  // gives up its place
  // A newcomer waits behind the queue even when a token has come back.
  loop.advance(milliseconds(1001));
  auto t4 = limiter.acquire([&] { ran.push_back(4); });
  loop.advance(milliseconds(1001));
  loop.advance(milliseconds(1001));
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 3, 4}));
  t1.reset();  // after its turn: harmless
}

TEST(RateLimiterTest, CallbackMayAcquireAgain) {
  core::SimEventLoop loop;
  RateLimiter limiter(loop, /*qps=*/100, /*burst=*/1);
  int runs = 0;
  std::vector<RateLimiter::TicketPtr> tickets;
  std::function<void()> again = [&] {
    if (++runs < 5) tickets.push_back(limiter.acquire(again));
  };
  tickets.push_back(limiter.acquire(again));
  loop.advance(milliseconds(100));
  EXPECT_EQ(runs, 5);
}

TEST(RateLimiterTest, ZeroQpsIsUnlimited) {
  core::SimEventLoop loop;
  RateLimiter limiter(loop, 0, 1);
  int runs = 0;
  for (int i = 0; i < 1000; ++i) limiter.acquire([&] { ++runs; });
  EXPECT_EQ(runs, 1000);
}

TEST(RateLimiterTest, TicketsOutliveTheLimiter) {
  core::SimEventLoop loop;
  RateLimiter::TicketPtr t;
  {
    RateLimiter limiter(loop, 1, 1);
    limiter.acquire([] {});
    t = limiter.acquire([] { FAIL() << "must not run"; });
  }
  t.reset();
  loop.advance(std::chrono::seconds(5));
}

}  // namespace
}  // namespace agent::kubeapi

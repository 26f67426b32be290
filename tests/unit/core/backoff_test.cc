#include "core/backoff.h"

#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using std::chrono_literals::operator""min;

class FakeClock : public Clock {
 public:
  MonoTime monotonicNow() const override { return now; }
  WallTime wallNow() const override { return WallTime(now.time_since_epoch()); }
  void step(Duration d) { now += d; }
  MonoTime now = MonoTime(std::chrono::hours(1000));
};

// The kubelet's CrashLoopBackOff, as its sync loop uses the backoff: a container
// that finished at `finishedAt` may restart once !isInBackOffSince(key, finishedAt),
// and each restart calls next(key, finishedAt).
TEST(BackoffTest, CrashLoopDelaysDoubleFromTenSecondsToFiveMinutes) {
  FakeClock clock;
  Backoff backoff(clock, 10s, 300s);
  const std::string key = "pod_uid/app_hash";
  std::vector<Duration> waits;
  for (int crash = 0; crash < 9; ++crash) {
    clock.step(1s);  // the container runs for a second, then exits
    MonoTime finishedAt = clock.now;
    Duration waited{0};
    while (backoff.isInBackOffSince(key, finishedAt)) {
      clock.step(1s);
      waited += 1s;
    }
    waits.push_back(waited);
    backoff.next(key, finishedAt);
  }
  std::vector<Duration> want = {0s, 10s, 20s, 40s, 80s, 160s, 300s, 300s, 300s};
  EXPECT_EQ(waits, want);
  EXPECT_EQ(backoff.get(key), 300s);
}

TEST(BackoffTest, ForgottenAfterRunningLongerThanTwiceTheMaximum) {
  FakeClock clock;
  Backoff backoff(clock, 10s, 300s);
  const std::string key = "c";
  backoff.next(key, clock.now);
  backoff.next(key, clock.now);
  backoff.next(key, clock.now);
  EXPECT_EQ(backoff.get(key), 40s);

  // Exactly 10 minutes after the last restart is not yet "longer than 2 * max".
  clock.step(10min);
  EXPECT_TRUE(backoff.isInBackOffSince(key, clock.now));
  backoff.next(key, clock.now);
  EXPECT_EQ(backoff.get(key), 80s);

  // Running for more than 10 minutes resets the sequence: restart at once, then 10 s.
  clock.step(10min + 1s);
  EXPECT_FALSE(backoff.isInBackOffSince(key, clock.now));
  backoff.next(key, clock.now);
  EXPECT_EQ(backoff.get(key), 10s);
  EXPECT_TRUE(backoff.isInBackOffSince(key, clock.now));
  clock.step(10s);
  EXPECT_FALSE(backoff.isInBackOffSince(key, clock.now - 10s));
}

TEST(BackoffTest, UnknownKeysResetAndGc) {
  FakeClock clock;
  Backoff backoff(clock, 1s, 8s);
  EXPECT_EQ(backoff.get("x"), 0s);
  EXPECT_FALSE(backoff.isInBackOffSince("x", clock.now));

  backoff.next("x", clock.now);
  backoff.next("x", clock.now);
  EXPECT_EQ(backoff.get("x"), 2s);
  backoff.reset("x");
  EXPECT_EQ(backoff.get("x"), 0s);
  EXPECT_FALSE(backoff.isInBackOffSince("x", clock.now));

  backoff.next("old", clock.now);
  clock.step(10s);
  backoff.next("fresh", clock.now);
  clock.step(7s);  // "old" untouched for 17 s > 16 s, "fresh" for 7 s
  backoff.gc();
  EXPECT_EQ(backoff.size(), 1u);
  EXPECT_EQ(backoff.get("old"), 0s);
  EXPECT_EQ(backoff.get("fresh"), 1s);
}

TEST(ExponentialBackoffTest, DoublesToTheCapWithoutJitterAndResets) {
  ExponentialBackoff b(100ms, 1s, 0.5, [] { return 0.0; });
  std::vector<Duration> got;
  for (int i = 0; i < 6; ++i) got.push_back(b.nextDelay());
  EXPECT_EQ(got, (std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
  b.reset();
  EXPECT_EQ(b.nextDelay(), 100ms);
}

TEST(ExponentialBackoffTest, JitterStretchesEachDelayByTheRandomFraction) {
  ExponentialBackoff b(100ms, 1s, 0.2, [] { return 0.5; });
  EXPECT_EQ(b.nextDelay(), 110ms);
  EXPECT_EQ(b.nextDelay(), 220ms);
}

TEST(ExponentialBackoffTest, DefaultRandomSourceStaysWithinTheJitterRange) {
  ExponentialBackoff b(1s, 1s, 0.25);
  for (int i = 0; i < 100; ++i) {
    Duration d = b.nextDelay();
    EXPECT_GE(d, 1s);
    EXPECT_LE(d, 1250ms);
  }
}

}  // namespace
}  // namespace core

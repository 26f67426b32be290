#include "probes/probe_manager.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/probes/probe_manager_fixture.h"

namespace cubelet::testing::prober_test {
namespace {

TEST_F(ProbeManagerTest, FirstProbeOfNewInstanceIsPrompt) {
  mgr->setPod(pod(std::nullopt, probe("ready", 10), std::nullopt));
  EXPECT_FALSE(mgr->ready("u1", "c", "id1"));  // readiness starts as a failure
  runFor(milliseconds(100));
  ASSERT_EQ(checker.count("ready"), 1u);
  EXPECT_EQ(checker.calls[0].at, t0);
  EXPECT_EQ(checker.calls[0].timeout, seconds(2));
  EXPECT_EQ(checker.calls[0].containerId, "id1");
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));
  EXPECT_TRUE(mgr->started("u1", "c", "id1"));
}

TEST_F(ProbeManagerTest, InitialDelayCountsFromStartedAt) {
  auto view = pod(std::nullopt, probe("ready", 10, 3, 1, /*initialDelay=*/5), std::nullopt);
  view.containers[0].startedAt = loop.wallNow() - seconds(2);  // started 2 s ago
  mgr->setPod(view);
  runFor(milliseconds(2900));
  EXPECT_EQ(checker.count("ready"), 0u);
  EXPECT_FALSE(mgr->ready("u1", "c", "id1"));
  runFor(milliseconds(200));
  ASSERT_EQ(checker.count("ready"), 1u);
  EXPECT_EQ(checker.times("ready", t0)[0], 3000);
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));
}

TEST_F(ProbeManagerTest, PeriodIsFixedRateAndSlowChecksSkipTicks) {
  checker.autoComplete = false;
  mgr->setPod(pod(probe("live", 2), std::nullopt, std::nullopt));
  loop.advance(milliseconds(0));
  checker.completeLast(Outcome::kSuccess);  // t=0
  loop.advance(seconds(2));                 // t=2
  loop.advance(milliseconds(1500));         // a check taking 1.5 s: no new start meanwhile
  checker.completeLast(Outcome::kSuccess);  // t=3.5
  loop.advance(milliseconds(500));          // t=4: on the grid, not 3.5 + 2
  ASSERT_EQ(checker.count("live"), 3u);
  // A check outlasting two periods: the ticks at 6 and 8 pass without a start.
  loop.advance(seconds(5));  // t=9
  EXPECT_EQ(checker.count("live"), 3u);
  checker.completeLast(Outcome::kSuccess);
  loop.advance(seconds(1));  // t=10
  EXPECT_EQ(checker.times("live", t0), (std::vector<int64_t>{0, 2000, 4000, 10000}));
}

TEST_F(ProbeManagerTest, StartupProbeGatesLivenessAndReadinessThenStops) {
  checker.script["start"] = {{Outcome::kFailure, "not yet"}, {Outcome::kFailure, "not yet"}};
  mgr->setPod(pod(probe("live", 5), probe("ready", 5), probe("start", 1, 10)));
  runFor(milliseconds(1500));  // startup: failure at 0 and 1
  EXPECT_EQ(checker.count("start"), 2u);
  EXPECT_EQ(checker.count("live"), 0u);
  EXPECT_EQ(checker.count("ready"), 0u);
  EXPECT_FALSE(mgr->started("u1", "c", "id1"));
  EXPECT_FALSE(mgr->ready("u1", "c", "id1"));
  EXPECT_FALSE(mgr->failedProbe("u1", "c", "id1"));

  runFor(milliseconds(600));  // t=2.1: startup succeeded at 2, the others run at once
  EXPECT_TRUE(mgr->started("u1", "c", "id1"));
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));
  EXPECT_EQ(checker.times("live", t0), (std::vector<int64_t>{2000}));
  EXPECT_EQ(checker.times("ready", t0), (std::vector<int64_t>{2000}));

  runFor(seconds(20));
  EXPECT_EQ(checker.count("start"), 3u);  // stopped once it succeeded
  EXPECT_EQ(checker.count("live"), 5u);   // 2, 7, 12, 17, 22
  EXPECT_EQ(checker.count("ready"), 5u);
}

TEST_F(ProbeManagerTest, RestartJitterSpreadsProbesOfContainersThatWereRunning) {
  makeManager(seconds(60), /*seed=*/7);
  const int kPods = 100;
  for (int i = 0; i < kPods; ++i) {
    auto view = pod(std::nullopt, probe("ready", 10), std::nullopt, "id" + std::to_string(i));
    view.uid = "u" + std::to_string(i);
    view.containers[0].startedAt = loop.wallNow() - std::chrono::hours(1);
    mgr->setPod(view);
  }
  // A container that starts after the agent did is probed at once all the same.
  auto fresh = pod(std::nullopt, probe("fresh", 10), std::nullopt, "new");
  fresh.uid = "fresh";
  loop.advance(seconds(1));
  fresh.containers[0].startedAt = loop.wallNow();
  mgr->setPod(fresh);
  loop.advance(milliseconds(0));
  EXPECT_EQ(checker.times("fresh", t0), (std::vector<int64_t>{1000}));

  loop.advance(milliseconds(8999));  // t < 10 s: one period
  std::vector<int64_t> first = checker.times("ready", t0);
  ASSERT_EQ(first.size(), static_cast<size_t>(kPods));
  std::map<int64_t, int> perSecond;
  for (int64_t t : first) perSecond[t / 1000]++;
  EXPECT_EQ(perSecond.size(), 10u) << "every second of the period has some first probes";
  for (auto [second, n] : perSecond) EXPECT_LE(n, 25) << "second " << second;
  EXPECT_LT(perSecond[0], 25);

  // The same seed spreads the same way.
  std::vector<int64_t> again;
  {
    core::SimEventLoop loop2;
    FakeChecker checker2(loop2);
    ProbeManager::Options options;
    options.seed = 7;
    ProbeManager mgr2(loop2, checker2, options);
    for (int i = 0; i < kPods; ++i) {
      auto view = pod(std::nullopt, probe("ready", 10), std::nullopt, "id" + std::to_string(i));
      view.uid = "u" + std::to_string(i);
      view.containers[0].startedAt = loop2.wallNow() - std::chrono::hours(1);
      mgr2.setPod(view);
    }
    loop2.advance(milliseconds(9999));
    again = checker2.times("ready", loop2.monotonicNow() - milliseconds(9999));
  }
  EXPECT_EQ(again, first);
}

TEST_F(ProbeManagerTest, NoJitterAfterTheWindow) {
  makeManager(seconds(60));
  loop.advance(seconds(61));
  auto view = pod(std::nullopt, probe("ready", 10), std::nullopt);
  view.containers[0].startedAt = loop.wallNow() - std::chrono::hours(1);
  mgr->setPod(view);
  loop.advance(milliseconds(0));
  EXPECT_EQ(checker.count("ready"), 1u);
}

TEST_F(ProbeManagerTest, RemovePodCancelsInFlightCheck) {
  checker.autoComplete = false;
  mgr->setPod(pod(probe("live", 1), probe("ready", 1), std::nullopt));
  loop.advance(milliseconds(0));
  ASSERT_EQ(checker.calls.size(), 2u);
  EXPECT_EQ(mgr->workerCount(), 2u);
  mgr->removePod("u1");
  EXPECT_TRUE(checker.calls[0].state->cancelled);
  EXPECT_TRUE(checker.calls[1].state->cancelled);
  EXPECT_EQ(mgr->workerCount(), 0u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
  runFor(seconds(5));
  EXPECT_EQ(checker.calls.size(), 2u);
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(results.empty());
  EXPECT_FALSE(mgr->ready("u1", "c", "id1"));
}

TEST_F(ProbeManagerTest, DestroyingTheManagerCancelsChecksAndTimers) {
  checker.autoComplete = false;
  mgr->setPod(pod(probe("live", 1), std::nullopt, std::nullopt));
  loop.advance(milliseconds(0));
  ASSERT_EQ(checker.calls.size(), 1u);
  mgr.reset();
  EXPECT_TRUE(checker.calls[0].state->cancelled);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
}

TEST_F(ProbeManagerTest, CallbackMayRemoveThePod) {
  checker.script["live"] = {{Outcome::kFailure, "x"}};
  mgr->setOnEvent([this](const std::string& uid, const std::string&, bool, const std::string&,
                         const std::string&) { mgr->removePod(uid); });
  mgr->setPod(pod(probe("live", 1, 1), probe("ready", 1), std::nullopt));
  runFor(seconds(3));
  EXPECT_EQ(mgr->workerCount(), 0u);
  EXPECT_EQ(checker.count("live"), 1u);
}

TEST_F(ProbeManagerTest, SetPodWithTheSameViewChangesNothing) {
  checker.autoComplete = false;
  auto view = pod(probe("live", 3), probe("ready", 3, 3, 2), std::nullopt);
  mgr->setPod(view);
  loop.advance(milliseconds(0));
  checker.complete(0, Outcome::kSuccess);
  checker.complete(1, Outcome::kSuccess);  // readiness: one success of two
  loop.advance(seconds(1));
  for (int i = 0; i < 5; ++i) mgr->setPod(view);
  loop.advance(milliseconds(0));
  EXPECT_EQ(checker.calls.size(), 2u);  // no new probe
  EXPECT_EQ(mgr->workerCount(), 2u);
  loop.advance(seconds(2));  // t=3: both tick on their original schedule
  ASSERT_EQ(checker.calls.size(), 4u);
  EXPECT_EQ(checker.times("ready", t0), (std::vector<int64_t>{0, 3000}));
  checker.complete(2, Outcome::kSuccess);
  checker.complete(3, Outcome::kSuccess);
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));  // the run was kept: this is the second success
}

TEST_F(ProbeManagerTest, RemovedProbeStopsItsWorker) {
  checker.autoComplete = false;
  mgr->setPod(pod(probe("live", 1), probe("ready", 1), std::nullopt));
  loop.advance(milliseconds(0));
  ASSERT_EQ(checker.calls.size(), 2u);
  mgr->setPod(pod(probe("live", 1), std::nullopt, std::nullopt));
  EXPECT_EQ(mgr->workerCount(), 1u);
  EXPECT_FALSE(checker.calls[0].state->cancelled);
  EXPECT_TRUE(checker.calls[1].state->cancelled);
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));  // no readiness probe left

  probes::PodProbes none{"u1", "ns", "web", {}};
  mgr->setPod(none);
  EXPECT_EQ(mgr->workerCount(), 0u);
  EXPECT_TRUE(checker.calls[0].state->cancelled);
}

TEST_F(ProbeManagerTest, ZeroPeriodDoesNotSpin) {
  auto bad = probe("live", 0);
  mgr->setPod(pod(bad, std::nullopt, std::nullopt));
  runFor(seconds(25));
  EXPECT_EQ(checker.count("live"), 3u);  // the API default of 10 s: 0, 10, 20
}

}  // namespace
}  // namespace cubelet::testing::prober_test

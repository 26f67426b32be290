#include "probes/probe_manager.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/probes/probe_manager_fixture.h"

namespace cubelet::testing::prober_test {
namespace {

// One run per period, answered in turn by `outcomes` (S success, W warning, F
// failure, E error); after each answer the latched state is `expected`
// ('R' ready / 'X' liveness failed, '.' otherwise).
struct ThresholdCase {
  const char* name;
  ProbeKind kind;
  int success;
  int failure;
  const char* outcomes;
  const char* expected;
};

void PrintTo(const ThresholdCase& c, std::ostream* os) { *os << c.name; }

class ThresholdTest : public ProbeManagerTest,
                      public ::testing::WithParamInterface<ThresholdCase> {};

TEST_P(ThresholdTest, LatchesAfterConsecutiveRuns) {
  const ThresholdCase& tc = GetParam();
  checker.autoComplete = false;
  auto spec = probe("p", 1, tc.failure, tc.success);
  if (tc.kind == ProbeKind::kReadiness)
    mgr->setPod(pod(std::nullopt, spec, std::nullopt));
  else
    mgr->setPod(pod(spec, std::nullopt, std::nullopt));
  loop.advance(milliseconds(0));
  const std::string outcomes = tc.outcomes;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_EQ(checker.calls.size(), i + 1) << "run " << i;
    Outcome o = outcomes[i] == 'S'   ? Outcome::kSuccess
                : outcomes[i] == 'W' ? Outcome::kWarning
                : outcomes[i] == 'F' ? Outcome::kFailure
                                     : Outcome::kError;
    checker.completeLast(o);
    char state = '.';
    if (tc.kind == ProbeKind::kReadiness && mgr->ready("u1", "c", "id1")) state = 'R';
    if (tc.kind == ProbeKind::kLiveness && mgr->failedProbe("u1", "c", "id1")) state = 'X';
    EXPECT_EQ(state, tc.expected[i])
        << "after run " << i << " (" << outcomes.substr(0, i + 1) << ")";
    loop.advance(seconds(1));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Runs, ThresholdTest,
    ::testing::Values(
        ThresholdCase{"ReadinessSuccess2Failure3", ProbeKind::kReadiness, 2, 3, "SSFFFSS",
                      ".RRR..R"},
        ThresholdCase{"ReadinessFailureRunBroken", ProbeKind::kReadiness, 1, 3, "SFFSFFF",
                      "RRRRRR."},
        ThresholdCase{"WarningCountsAsSuccess", ProbeKind::kReadiness, 2, 3, "WW", ".R"},
        ThresholdCase{"ErrorNeitherCountsNorBreaksRun", ProbeKind::kReadiness, 2, 1, "SESEEF",
                      "..RRR."},
        ThresholdCase{"LivenessFailure3", ProbeKind::kLiveness, 1, 3, "FFSFFF", ".....X"},
        ThresholdCase{"LivenessErrorsIgnored", ProbeKind::kLiveness, 1, 3, "FEFEEF", ".....X"},
        ThresholdCase{"LivenessFailure1", ProbeKind::kLiveness, 1, 1, "SSF", "..X"}),
    [](const ::testing::TestParamInfo<ThresholdCase>& info) { return info.param.name; });

TEST_F(ProbeManagerTest, StartupFailureHoldsUntilNewInstance) {
  checker.script["start"] = {{Outcome::kFailure}, {Outcome::kFailure}};
  mgr->setPod(pod(probe("live", 1), std::nullopt, probe("start", 1, 2)));
  runFor(seconds(5));
  EXPECT_EQ(checker.count("start"), 2u);
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id1"), ProbeKind::kStartup);
  EXPECT_EQ(checker.count("live"), 0u);

  mgr->setPod(pod(probe("live", 1), std::nullopt, probe("start", 1, 2), "id2"));
  runFor(milliseconds(200));  // startup at once, and liveness once it succeeded
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id2"), std::nullopt);
  EXPECT_TRUE(mgr->started("u1", "c", "id2"));
  EXPECT_EQ(checker.count("start"), 3u);
  EXPECT_EQ(checker.count("live"), 1u);
}

TEST_F(ProbeManagerTest, LivenessFailureHoldsUntilNewInstanceThenCountsAfresh) {
  for (int i = 0; i < 5; ++i) checker.script["live"].push_back({Outcome::kFailure, "dead"});
  mgr->setPod(pod(probe("live", 1), std::nullopt, std::nullopt));
  runFor(milliseconds(1500));
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id1"), std::nullopt);  // two failures of three
  runFor(seconds(1));
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id1"), ProbeKind::kLiveness);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].kind, ProbeKind::kLiveness);
  EXPECT_EQ(results[0].result, Result::kFailure);

  runFor(seconds(30));  // on hold: nothing probes the dying container
  EXPECT_EQ(checker.count("live"), 3u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
  // Same view again (the agent has not restarted it yet): still on hold.
  mgr->setPod(pod(probe("live", 1), std::nullopt, std::nullopt));
  runFor(seconds(3));
  EXPECT_EQ(checker.count("live"), 3u);

  // The restarted instance: probing resumes, and two failures do not latch.
  mgr->setPod(pod(probe("live", 1), std::nullopt, std::nullopt, "id2"));
  runFor(milliseconds(1500));
  EXPECT_EQ(checker.count("live"), 5u);
  EXPECT_EQ(checker.calls.back().containerId, "id2");
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id2"), std::nullopt);
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id1"), std::nullopt);  // not the current instance
  runFor(seconds(5));
  EXPECT_EQ(mgr->failedProbe("u1", "c", "id2"), std::nullopt);  // successes from then on
}

TEST_F(ProbeManagerTest, NewInstanceResetsResultAndRun) {
  checker.autoComplete = false;
  auto ready = probe("ready", 1, 3, 2);
  mgr->setPod(pod(std::nullopt, ready, std::nullopt, "a"));
  loop.advance(milliseconds(0));
  checker.completeLast(Outcome::kSuccess);
  loop.advance(seconds(1));
  checker.completeLast(Outcome::kSuccess);
  EXPECT_TRUE(mgr->ready("u1", "c", "a"));
  loop.advance(seconds(1));
  checker.completeLast(Outcome::kSuccess);  // a run of 3

  // A check in flight for the old instance is cancelled by the change.
  loop.advance(seconds(1));
  ASSERT_EQ(checker.calls.size(), 4u);
  mgr->setPod(pod(std::nullopt, ready, std::nullopt, "b"));
  EXPECT_TRUE(checker.calls[3].state->cancelled);
  EXPECT_FALSE(mgr->ready("u1", "c", "b"));
  EXPECT_FALSE(mgr->ready("u1", "c", "a"));
  loop.advance(milliseconds(0));  // the new instance is probed at once
  ASSERT_EQ(checker.calls.size(), 5u);
  EXPECT_EQ(checker.calls[4].containerId, "b");
  checker.completeLast(Outcome::kSuccess);
  EXPECT_FALSE(mgr->ready("u1", "c", "b"));  // the run restarted: one success of two
  loop.advance(seconds(1));
  checker.completeLast(Outcome::kSuccess);
  EXPECT_TRUE(mgr->ready("u1", "c", "b"));
}

TEST_F(ProbeManagerTest, NotRunningMeansNoProbesAndNotReady) {
  mgr->setPod(pod(probe("live", 1), probe("ready", 1), std::nullopt, "", false));
  runFor(seconds(5));
  EXPECT_EQ(checker.calls.size(), 0u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
  EXPECT_FALSE(mgr->ready("u1", "c", ""));
  EXPECT_FALSE(mgr->started("u1", "c", ""));

  mgr->setPod(pod(probe("live", 1), probe("ready", 1), std::nullopt, "id1", true));
  runFor(milliseconds(500));
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));

  // It exits: readiness reads false at once, the timers stop, a check in flight is dropped.
  checker.autoComplete = false;
  runFor(seconds(1));
  ASSERT_EQ(checker.calls.size(), 4u);
  mgr->setPod(pod(probe("live", 1), probe("ready", 1), std::nullopt, "id1", false));
  EXPECT_TRUE(checker.calls[2].state->cancelled);
  EXPECT_TRUE(checker.calls[3].state->cancelled);
  EXPECT_FALSE(mgr->ready("u1", "c", "id1"));
  EXPECT_FALSE(mgr->started("u1", "c", "id1"));
  EXPECT_EQ(loop.armedTimerCount(), 0u);
  runFor(seconds(5));
  EXPECT_EQ(checker.calls.size(), 4u);
}

TEST_F(ProbeManagerTest, WithoutProbesARunningContainerIsStartedAndReady) {
  mgr->setPod(pod(std::nullopt, std::nullopt, std::nullopt));
  EXPECT_EQ(mgr->workerCount(), 0u);
  EXPECT_TRUE(mgr->started("u1", "c", "id1"));
  EXPECT_TRUE(mgr->ready("u1", "c", "id1"));
  EXPECT_FALSE(mgr->ready("u1", "c", "other"));
  EXPECT_FALSE(mgr->ready("u2", "c", "id1"));
}

struct EventCase {
  const char* name;
  ProbeKind kind;
  Outcome outcome;
  bool expectEvent;
  const char* reason;
  const char* message;
};

void PrintTo(const EventCase& c, std::ostream* os) { *os << c.name; }

class EventTest : public ProbeManagerTest, public ::testing::WithParamInterface<EventCase> {};

TEST_P(EventTest, KubeletWording) {
  const EventCase& tc = GetParam();
  checker.autoComplete = false;
  auto spec = probe("p", 10);
  mgr->setPod(pod(tc.kind == ProbeKind::kLiveness ? std::optional(spec) : std::nullopt,
                  tc.kind == ProbeKind::kReadiness ? std::optional(spec) : std::nullopt,
                  tc.kind == ProbeKind::kStartup ? std::optional(spec) : std::nullopt));
  loop.advance(milliseconds(0));
  checker.completeLast(tc.outcome, "details here");
  if (!tc.expectEvent) {
    EXPECT_TRUE(events.empty());
    return;
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].uid, "u1");
  EXPECT_EQ(events[0].container, "c");
  EXPECT_TRUE(events[0].warning);  // the kubelet records ProbeWarning as a Warning too
  EXPECT_EQ(events[0].reason, tc.reason);
  EXPECT_EQ(events[0].message, tc.message);
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, EventTest,
    ::testing::Values(
        EventCase{"LivenessFailed", ProbeKind::kLiveness, Outcome::kFailure, true, "Unhealthy",
                  "Liveness probe failed: details here"},
        EventCase{"ReadinessFailed", ProbeKind::kReadiness, Outcome::kFailure, true, "Unhealthy",
                  "Readiness probe failed: details here"},
        EventCase{"StartupFailed", ProbeKind::kStartup, Outcome::kFailure, true, "Unhealthy",
                  "Startup probe failed: details here"},
        EventCase{"ReadinessWarning", ProbeKind::kReadiness, Outcome::kWarning, true,
                  "ProbeWarning", "Readiness probe warning: details here"},
        EventCase{"LivenessErrored", ProbeKind::kLiveness, Outcome::kError, true, "Unhealthy",
                  "Liveness probe errored and resulted in unknown state: details here"},
        EventCase{"StartupSucceeded", ProbeKind::kStartup, Outcome::kSuccess, false, "", ""}),
    [](const ::testing::TestParamInfo<EventCase>& info) { return info.param.name; });

TEST_F(ProbeManagerTest, EveryFailedRunIsEventedButResultsOnlyOnChange) {
  checker.script["ready"] = {{Outcome::kSuccess},      {Outcome::kSuccess},
                             {Outcome::kFailure, "a"}, {Outcome::kFailure, "b"},
                             {Outcome::kFailure, "c"}, {Outcome::kFailure, "d"}};
  mgr->setPod(pod(std::nullopt, probe("ready", 1), std::nullopt));
  runFor(milliseconds(5500));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].message, "Readiness probe failed: a");
  EXPECT_EQ(events[3].message, "Readiness probe failed: d");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].result, Result::kSuccess);
  EXPECT_EQ(results[1].result, Result::kFailure);
  EXPECT_EQ(results[1].kind, ProbeKind::kReadiness);
  EXPECT_EQ(results[1].container, "c");
}

TEST_F(ProbeManagerTest, CountersByResultSkipErrorsAndGoWithThePod) {
  checker.script["live"] = {
      {Outcome::kSuccess}, {Outcome::kWarning}, {Outcome::kFailure}, {Outcome::kError}};
  mgr->setPod(pod(probe("live", 1), std::nullopt, std::nullopt));
  runFor(milliseconds(3500));
  std::vector<ProbeManager::Counter> counters;
  mgr->forEachCounter([&](const ProbeManager::Counter& c) { counters.push_back(c); });
  ASSERT_EQ(counters.size(), 2u);
  std::map<std::string, uint64_t> byResult;
  for (const auto& c : counters) {
    EXPECT_EQ(c.probeType, "Liveness");
    EXPECT_EQ(c.container, "c");
    EXPECT_EQ(c.pod, "web");
    EXPECT_EQ(c.namespace_, "ns");
    EXPECT_EQ(c.podUid, "u1");
    byResult[c.result] = c.count;
  }
  EXPECT_EQ(byResult["successful"], 2u);  // the warning counts as a success
  EXPECT_EQ(byResult["failed"], 1u);      // the error is not counted

  mgr->removePod("u1");
  size_t left = 0;
  mgr->forEachCounter([&](const ProbeManager::Counter&) { ++left; });
  EXPECT_EQ(left, 0u);
}

}  // namespace
}  // namespace cubelet::testing::prober_test

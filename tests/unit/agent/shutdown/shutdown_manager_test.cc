// The shutdown manager's logic on a simulated loop, with an in-memory Inhibitor:
// the kubelet's grouping and grace periods, the order and timing of the kills, the
// lock's life, cancellation, and the InhibitDelayMaxSec override path.
#include "agent/shutdown/shutdown_manager.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <optional>

#include "tests/fakes/sim_event_loop.h"

namespace agent::shutdown {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

PodPtr makePod(const std::string& name, std::optional<int32_t> priority, int64_t grace = 30) {
  auto p = std::make_shared<api::Pod>();
  p->metadata.namespace_ = "default";
  p->metadata.name = name;
  p->metadata.uid = "uid-" + name;
  p->spec.priority = priority;
  p->spec.terminationGracePeriodSeconds = grace;
  return p;
}

std::vector<std::string> names(const std::vector<PodPtr>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(p->metadata.name);
  return out;
}

TEST(ShutdownConfig, GroupsFromConfigAsTheKubeletMigratesThem) {
  struct Case {
    int64_t totalMs, criticalMs;
    std::vector<ShutdownGroup> want;
  };
  const Case cases[] = {
      {0, 0, {}},
      {0, 10'000, {}},
      {10'000, 20'000, {}},  // critical share larger than the whole: off
      {30'000, 10'000, {{0, 20}, {2000000000, 10}}},
      {30'000, 0, {{0, 30}, {2000000000, 0}}},
      {30'000, 30'000, {{0, 0}, {2000000000, 30}}},
      {2'500, 1'000, {{0, 1}, {2000000000, 1}}},  // whole seconds, truncated
  };
  for (const auto& c : cases) {
    EXPECT_EQ(groupsFromConfig(milliseconds(c.totalMs), milliseconds(c.criticalMs)), c.want)
        << c.totalMs << "/" << c.criticalMs;
  }
  EXPECT_EQ(periodRequested({{0, 20}, {2000000000, 10}}), seconds(30));
}

TEST(ShutdownConfig, GroupByPriority) {
  std::vector<ShutdownGroup> groups = {{0, 20}, {2000000000, 10}};
  auto pods = std::vector<PodPtr>{
      makePod("unset", std::nullopt),
      makePod("negative", -5),
      makePod("zero", 0),
      makePod("high", 1000000000),
      makePod("critical", 2000000000),
      makePod("node-critical", 2000001000),
  };
  auto out = groupByPriority(groups, pods);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].group, groups[0]);
  EXPECT_EQ(names(out[0].pods), (std::vector<std::string>{"unset", "negative", "zero", "high"}));
  EXPECT_EQ(names(out[1].pods), (std::vector<std::string>{"critical", "node-critical"}));

  // With three groups, a pod between two goes to the lower one.
  auto three = groupByPriority({{0, 5}, {100, 5}, {1000, 5}},
                               {makePod("a", 99), makePod("b", 100), makePod("c", 5000)});
  EXPECT_EQ(names(three[0].pods), std::vector<std::string>{"a"});
  EXPECT_EQ(names(three[1].pods), std::vector<std::string>{"b"});
  EXPECT_EQ(names(three[2].pods), std::vector<std::string>{"c"});
}

TEST(ShutdownConfig, PodGracePeriodIsTheShorterOfPodAndGroup) {
  EXPECT_EQ(podGracePeriodSeconds(*makePod("a", 0, 30), {0, 20}), 20);
  EXPECT_EQ(podGracePeriodSeconds(*makePod("a", 0, 5), {0, 20}), 5);
  EXPECT_EQ(podGracePeriodSeconds(*makePod("a", 0, 20), {0, 20}), 20);
  EXPECT_EQ(podGracePeriodSeconds(*makePod("a", 0, 0), {0, 20}), 0);
}

TEST(ShutdownConfig, ShutdownStatus) {
  api::PodStatus s;
  s.phase = "Running";
  s.conditions.push_back({"Ready", "True", "", "", "t0", ""});
  applyShutdownStatus(s, "2024-01-01T00:00:05Z");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.reason, "Terminated");
  EXPECT_EQ(s.message, "Pod was terminated in response to imminent node shutdown.");
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[1],
            (api::PodCondition{"DisruptionTarget", "True", "TerminationByKubelet",
                               "Pod was terminated in response to imminent node shutdown.",
                               "2024-01-01T00:00:05Z", ""}));
  // Applied again later: the condition keeps its transition time.
  applyShutdownStatus(s, "2024-01-01T00:00:09Z");
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[1].lastTransitionTime, "2024-01-01T00:00:05Z");

  api::PodStatus done;
  done.phase = "Succeeded";
  applyShutdownStatus(done, "t");
  EXPECT_EQ(done.phase, "Succeeded");
  EXPECT_EQ(done.reason, "Terminated");
}

TEST(ShutdownConfig, LogindOverrideContent) {
  EXPECT_EQ(logindOverrideContent(seconds(30)),
            "# Kubelet logind override\n[Login]\nInhibitDelayMaxSec=30\n");
  EXPECT_EQ(logindOverrideContent(seconds(2)),
            "# Kubelet logind override\n[Login]\nInhibitDelayMaxSec=2\n");
}

// An Inhibitor in memory; replies are posted to the loop. Locks are real pipes:
// the fake keeps the read end and sees POLLHUP once the manager closes its end.
class FakeInhibitor : public Inhibitor {
 public:
  explicit FakeInhibitor(core::EventLoop& loop) : loop_(loop) {}
  ~FakeInhibitor() override {
    for (int fd : kept_) ::close(fd);
  }

  void currentInhibitDelay(std::function<void(absl::StatusOr<core::Duration>)> done) override {
    ++delayReads;
    loop_.post([this, done] { done(delay); });
  }
  void inhibitShutdown(std::function<void(absl::StatusOr<InhibitLock>)> done) override {
    ++inhibits;
    if (failInhibit) {
      loop_.post([done] { done(absl::PermissionDeniedError("denied")); });
      return;
    }
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    kept_.push_back(fds[0]);
    int w = fds[1];
    loop_.post([done, w] { done(InhibitLock(w)); });
  }
  absl::Status overrideInhibitDelay(core::Duration d) override {
    overrides.push_back(d);
    return absl::OkStatus();
  }
  void reloadLogindConf(std::function<void(absl::Status)> done) override {
    ++reloads;
    if (reloadRaises && !overrides.empty()) delay = overrides.back();
    loop_.post([done] { done(absl::OkStatus()); });
  }
  void monitorShutdown(std::function<void(bool)> onEvent,
                       std::function<void(absl::Status)> done) override {
    onEvent_ = std::move(onEvent);
    loop_.post([done] { done(absl::OkStatus()); });
  }

  void fire(bool active) { onEvent_(active); }
  bool released(size_t i) const {
    struct pollfd p = {kept_.at(i), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
  }

  core::Duration delay = seconds(30);
  bool failInhibit = false;
  bool reloadRaises = true;
  int delayReads = 0, inhibits = 0, reloads = 0;
  std::vector<core::Duration> overrides;

 private:
  core::EventLoop& loop_;
  std::function<void(bool)> onEvent_;
  std::vector<int> kept_;
};

struct Kill {
  std::string pod;
  int64_t grace;
  core::MonoTime at;
  ShutdownCallbacks::StatusFn statusFn;
  std::function<void(absl::Status)> done;
};

class ShutdownManagerSim : public ::testing::Test {
 protected:
  void make(core::Duration total, core::Duration critical) {
    ShutdownCallbacks cb;
    cb.activePods = [this] { return pods; };
    cb.killPod = [this](const PodPtr& pod, int64_t grace, ShutdownCallbacks::StatusFn fn,
                        std::function<void(absl::Status)> done) {
      kills.push_back(
          Kill{pod->metadata.name, grace, loop.monotonicNow(), std::move(fn), std::move(done)});
    };
    cb.syncNodeStatus = [this] { ++nodeSyncs; };
    cb.nodeEvent = [this](const std::string& reason, const std::string& message) {
      events.push_back(reason + ": " + message);
    };
    manager =
        std::make_unique<ShutdownManager>(loop, ShutdownManagerOptions{total, critical},
                                          std::move(cb), [this]() -> absl::StatusOr<InhibitorPtr> {
                                            ++connects;
                                            auto f = std::make_unique<FakeInhibitor>(loop);
                                            f->delay = initialDelay;
                                            inhibitor = f.get();
                                            return InhibitorPtr(std::move(f));
                                          });
  }
  absl::Status startAndWait() {
    std::optional<absl::Status> result;
    manager->start([&](absl::Status s) { result = s; });
    EXPECT_FALSE(result.has_value()) << "done ran inside start()";
    for (int i = 0; i < 10 && !result; ++i) loop.runPending();
    EXPECT_TRUE(result.has_value());
    return result.value_or(absl::UnknownError("no answer"));
  }

  core::SimEventLoop loop;
  core::Duration initialDelay = seconds(30);
  std::vector<PodPtr> pods;
  std::vector<Kill> kills;
  std::vector<std::string> events;
  int nodeSyncs = 0;
  int connects = 0;
  FakeInhibitor* inhibitor = nullptr;
  std::unique_ptr<ShutdownManager> manager;
};

TEST_F(ShutdownManagerSim, DisabledWithoutGracePeriodNeverConnects) {
  make(seconds(0), seconds(0));
  EXPECT_FALSE(manager->enabled());
  EXPECT_TRUE(startAndWait().ok());
  EXPECT_EQ(connects, 0);
  EXPECT_FALSE(manager->lockHeld());
  EXPECT_FALSE(manager->admit().has_value());
}

TEST_F(ShutdownManagerSim, DisabledWhenCriticalShareExceedsTheWhole) {
  make(seconds(10), seconds(20));
  EXPECT_FALSE(manager->enabled());
  EXPECT_TRUE(startAndWait().ok());
  EXPECT_EQ(connects, 0);
}

TEST_F(ShutdownManagerSim, KillsRegularPodsThenCriticalOnesThenReleasesTheLock) {
  make(seconds(20), seconds(10));
  pods = {makePod("web", std::nullopt, 30), makePod("dns", 2000000000, 30), makePod("quick", 0, 3)};
  ASSERT_TRUE(startAndWait().ok());
  EXPECT_TRUE(manager->lockHeld());
  EXPECT_EQ(inhibitor->inhibits, 1);
  EXPECT_TRUE(inhibitor->overrides.empty());  // 30 s allowed >= 20 s requested
  EXPECT_TRUE(manager->shutdownStatus().ok());

  core::MonoTime t0 = loop.monotonicNow();
  inhibitor->fire(true);
  EXPECT_TRUE(manager->shuttingDown());
  EXPECT_EQ(manager->shutdownStatus().message(), "node is shutting down");
  auto rejection = manager->admit();
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->reason, "NodeShutdown");
  EXPECT_EQ(rejection->message, "Pod was rejected as the node is shutting down.");
  EXPECT_EQ(nodeSyncs, 1);
  EXPECT_EQ(events, std::vector<std::string>{"Shutdown: Shutdown manager detected shutdown event"});

  // The regular group first, each with min(pod's, 10 s).
  ASSERT_EQ(kills.size(), 2u);
  EXPECT_EQ(kills[0].pod, "web");
  EXPECT_EQ(kills[0].grace, 10);
  EXPECT_EQ(kills[1].pod, "quick");
  EXPECT_EQ(kills[1].grace, 3);
  api::PodStatus st;
  st.phase = "Running";
  kills[0].statusFn(st);
  EXPECT_EQ(st.phase, "Failed");
  EXPECT_EQ(st.reason, "Terminated");
  EXPECT_EQ(st.message, "Pod was terminated in response to imminent node shutdown.");
  ASSERT_EQ(st.conditions.size(), 1u);
  EXPECT_EQ(st.conditions[0].type, "DisruptionTarget");
  EXPECT_EQ(st.conditions[0].reason, "TerminationByKubelet");

  // The critical pod waits for both regular pods.
  loop.advance(seconds(2));
  kills[1].done(absl::OkStatus());
  loop.runPending();
  EXPECT_EQ(kills.size(), 2u);
  loop.advance(seconds(1));
  kills[0].done(absl::InternalError("stop failed"));  // a failure counts as done too
  loop.runPending();
  ASSERT_EQ(kills.size(), 3u);
  EXPECT_EQ(kills[2].pod, "dns");
  EXPECT_EQ(kills[2].grace, 10);
  EXPECT_EQ(kills[2].at - t0, seconds(3));
  EXPECT_TRUE(manager->lockHeld());

  // The critical pod never reports back: its group's 10 s run out, then the lock goes.
  loop.advance(milliseconds(9999));
  EXPECT_TRUE(manager->lockHeld());
  EXPECT_FALSE(inhibitor->released(0));
  loop.advance(milliseconds(1));
  EXPECT_FALSE(manager->lockHeld());
  EXPECT_TRUE(inhibitor->released(0));
  EXPECT_FALSE(manager->processing());
  // Still shutting down: nothing is admitted until the machine is off.
  EXPECT_TRUE(manager->admit().has_value());
  // A late answer changes nothing.
  kills[2].done(absl::OkStatus());
  loop.runPending();
  EXPECT_EQ(kills.size(), 3u);
}

TEST_F(ShutdownManagerSim, RegularGroupTimesOutBeforeCriticalPodsStart) {
  make(seconds(3), seconds(1));
  pods = {makePod("stuck", std::nullopt), makePod("critical", 2000000000)};
  ASSERT_TRUE(startAndWait().ok());
  core::MonoTime t0 = loop.monotonicNow();
  inhibitor->fire(true);
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].grace, 2);
  loop.advance(seconds(2));
  ASSERT_EQ(kills.size(), 2u);
  EXPECT_EQ(kills[1].pod, "critical");
  EXPECT_EQ(kills[1].grace, 1);
  EXPECT_EQ(kills[1].at - t0, seconds(2));
  kills[1].done(absl::OkStatus());
  loop.runPending();
  EXPECT_FALSE(manager->lockHeld());
  EXPECT_TRUE(inhibitor->released(0));
}

TEST_F(ShutdownManagerSim, NoPodsReleasesAtOnce) {
  make(seconds(20), seconds(10));
  ASSERT_TRUE(startAndWait().ok());
  inhibitor->fire(true);
  EXPECT_TRUE(kills.empty());
  EXPECT_FALSE(manager->lockHeld());
  EXPECT_TRUE(inhibitor->released(0));
}

TEST_F(ShutdownManagerSim, CancellationTakesTheLockAgain) {
  make(seconds(2), seconds(1));
  ASSERT_TRUE(startAndWait().ok());
  inhibitor->fire(true);
  EXPECT_FALSE(manager->lockHeld());
  inhibitor->fire(false);
  EXPECT_FALSE(manager->shuttingDown());
  EXPECT_FALSE(manager->admit().has_value());
  loop.runPending();
  EXPECT_EQ(inhibitor->inhibits, 2);
  EXPECT_TRUE(manager->lockHeld());
  EXPECT_FALSE(inhibitor->released(1));
  EXPECT_EQ(events.back(), "Shutdown: Shutdown manager detected shutdown cancellation");
}

TEST_F(ShutdownManagerSim, CancellationDuringShutdownWaitsForItToFinish) {
  make(seconds(2), seconds(1));
  pods = {makePod("web", std::nullopt)};
  ASSERT_TRUE(startAndWait().ok());
  inhibitor->fire(true);
  inhibitor->fire(false);
  // As in the kubelet, the pods being stopped are stopped first.
  EXPECT_TRUE(manager->shuttingDown());
  EXPECT_EQ(inhibitor->inhibits, 1);
  kills[0].done(absl::OkStatus());
  loop.runPending();
  EXPECT_FALSE(manager->shuttingDown());
  EXPECT_TRUE(inhibitor->released(0));
  EXPECT_EQ(inhibitor->inhibits, 2);
  EXPECT_TRUE(manager->lockHeld());
}

TEST_F(ShutdownManagerSim, RaisesTooSmallInhibitDelay) {
  initialDelay = seconds(5);
  make(seconds(20), seconds(10));
  ASSERT_TRUE(startAndWait().ok());
  EXPECT_EQ(inhibitor->overrides, std::vector<core::Duration>{seconds(20)});
  EXPECT_EQ(inhibitor->reloads, 1);
  EXPECT_EQ(inhibitor->delayReads, 2);
  EXPECT_TRUE(manager->lockHeld());
}

TEST_F(ShutdownManagerSim, FailsWhenLogindKeepsTheSmallDelay) {
  initialDelay = seconds(5);
  make(seconds(20), seconds(10));
  ShutdownManager& m = *manager;
  // The factory made the inhibitor; make its reload ineffective before start runs.
  std::optional<absl::Status> result;
  m.start([&](absl::Status s) { result = s; });
  inhibitor->reloadRaises = false;
  for (int i = 0; i < 10 && !result; ++i) loop.runPending();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result->message().find("unable to update logind InhibitDelayMaxSec to 20s"),
            std::string::npos)
      << *result;
  EXPECT_FALSE(m.lockHeld());
}

TEST_F(ShutdownManagerSim, InhibitFailureFailsStart) {
  make(seconds(2), seconds(1));
  std::optional<absl::Status> result;
  manager->start([&](absl::Status s) { result = s; });
  inhibitor->failInhibit = true;
  for (int i = 0; i < 10 && !result; ++i) loop.runPending();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(manager->lockHeld());
}

}  // namespace
}  // namespace agent::shutdown

// The ProbeManager tests' fixture: a scripted fake Checker on a simulated loop,
// a one-container pod builder, and the events and result changes recorded.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "probes/probe_manager.h"
#include "tests/fakes/sim_event_loop.h"

namespace cubelet::testing::prober_test {

using probes::CheckDone;
using probes::CheckResult;
using probes::Outcome;
using probes::PendingCheck;
using probes::PendingCheckPtr;
using probes::ProbeKind;
using probes::ProbeManager;
using probes::Result;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A Checker that records every check. In auto mode it answers each one on the
// loop (runPending) with the next scripted outcome for its command (default
// success); otherwise the test completes calls with complete(). Destroying the
// handle of an unanswered call marks it cancelled, and a cancelled call is never
// answered.
class FakeChecker : public probes::Checker {
 public:
  struct CallState {
    bool completed = false;
    bool cancelled = false;
  };
  struct Call {
    std::string what;  // the exec command's first word: which probe this is
    std::string containerId;
    core::Duration timeout{};
    core::MonoTime at{};
    CheckDone done;
    std::shared_ptr<CallState> state;
  };
  struct Step {
    Step(Outcome o = Outcome::kSuccess, std::string out = "out")  // NOLINT: implicit
        : outcome(o), output(std::move(out)) {}
    Outcome outcome;
    std::string output;
  };

  explicit FakeChecker(core::SimEventLoop& loop) : loop_(loop) {}

  PendingCheckPtr run(const probes::Action& action, const std::string& containerId,
                      core::Duration timeout, CheckDone done) override {
    auto state = std::make_shared<CallState>();
    std::string what = action.exec ? action.exec->command.at(0) : std::string();
    calls.push_back(Call{what, containerId, timeout, loop_.monotonicNow(), std::move(done), state});
    if (autoComplete) {
      Step step;
      auto& queue = script[what];
      if (!queue.empty()) {
        step = queue.front();
        queue.pop_front();
      }
      size_t i = calls.size() - 1;
      loop_.post([this, i, step] {
        if (!calls[i].state->cancelled) complete(i, step.outcome, step.output);
      });
    }
    return std::make_unique<Handle>(state);
  }

  void complete(size_t i, Outcome outcome, const std::string& output = "out") {
    ASSERT_LT(i, calls.size());
    ASSERT_FALSE(calls[i].state->completed) << "call " << i << " answered twice";
    ASSERT_FALSE(calls[i].state->cancelled) << "call " << i << " was cancelled";
    calls[i].state->completed = true;
    CheckDone done = std::move(calls[i].done);  // calls may grow inside done
    done(CheckResult{outcome, output, 0});
  }
  void completeLast(Outcome outcome, const std::string& output = "out") {
    ASSERT_FALSE(calls.empty());
    complete(calls.size() - 1, outcome, output);
  }

  size_t count(const std::string& what) const {
    return std::count_if(calls.begin(), calls.end(), [&](const Call& c) { return c.what == what; });
  }
  // When each check of `what` started, in ms after `t0`.
  std::vector<int64_t> times(const std::string& what, core::MonoTime t0) const {
    std::vector<int64_t> out;
    for (const Call& c : calls)
      if (c.what == what)
        out.push_back(std::chrono::duration_cast<milliseconds>(c.at - t0).count());
    return out;
  }

  bool autoComplete = true;
  std::map<std::string, std::deque<Step>> script;
  std::vector<Call> calls;

 private:
  class Handle : public PendingCheck {
   public:
    explicit Handle(std::shared_ptr<CallState> s) : s_(std::move(s)) {}
    ~Handle() override {
      if (!s_->completed) s_->cancelled = true;
    }

   private:
    std::shared_ptr<CallState> s_;
  };
  core::SimEventLoop& loop_;
};

inline probes::ProbeSpec probe(const std::string& what, int period = 10, int failure = 3,
                               int success = 1, int initialDelay = 0) {
  probes::ProbeSpec p;
  p.action.exec = probes::ExecSpec{{what}};
  p.periodSeconds = period;
  p.failureThreshold = failure;
  p.successThreshold = success;
  p.initialDelaySeconds = initialDelay;
  p.timeoutSeconds = 2;
  return p;
}

struct Event {
  std::string uid, container;
  bool warning;
  std::string reason, message;
};
struct ResultChange {
  std::string container;
  ProbeKind kind;
  Result result;
};

class ProbeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { makeManager(std::chrono::seconds(0)); }

  void makeManager(core::Duration jitterWindow, uint64_t seed = 42) {
    mgr.reset();
    ProbeManager::Options options;
    options.startupJitterWindow = jitterWindow;
    options.seed = seed;
    mgr = std::make_unique<ProbeManager>(loop, checker, options);
    t0 = loop.monotonicNow();
    mgr->setOnEvent([this](const std::string& uid, const std::string& c, bool warning,
                           const std::string& reason, const std::string& message) {
      events.push_back(Event{uid, c, warning, reason, message});
    });
    mgr->setOnResult([this](const std::string&, const std::string& c, ProbeKind k, Result r) {
      results.push_back(ResultChange{c, k, r});
    });
  }

  // One pod "u1" with one container "c" running as `id`, started now.
  probes::PodProbes pod(std::optional<probes::ProbeSpec> liveness,
                        std::optional<probes::ProbeSpec> readiness,
                        std::optional<probes::ProbeSpec> startup, const std::string& id = "id1",
                        bool running = true) {
    probes::ContainerProbes c;
    c.name = "c";
    c.liveness = std::move(liveness);
    c.readiness = std::move(readiness);
    c.startup = std::move(startup);
    c.containerId = id;
    c.running = running;
    c.startedAt = loop.wallNow();
    return probes::PodProbes{"u1", "ns", "web", {c}};
  }

  // Moves time in small steps, answering auto-completed checks as they come.
  void runFor(core::Duration d, core::Duration step = milliseconds(100)) {
    loop.runPending();
    for (core::Duration done{0}; done < d; done += step) {
      loop.advance(std::min(step, d - done));
      loop.runPending();
    }
  }
  core::SimEventLoop loop;
  FakeChecker checker{loop};
  std::unique_ptr<ProbeManager> mgr;
  core::MonoTime t0;
  std::vector<Event> events;
  std::vector<ResultChange> results;
};

}  // namespace cubelet::testing::prober_test

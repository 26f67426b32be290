// ActionChecker: dispatching an Action to its mechanism.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probes/checks.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/unit/probes/check_test_support.h"

namespace cubelet::testing {
namespace {

using probes::Action;
using probes::CheckDone;
using probes::CheckResult;
using probes::Outcome;
using probes::PendingCheck;
using probes::PendingCheckPtr;
using ::testing::StartsWith;

class FakeExecRunner : public probes::ExecRunner {
 public:
  struct Call {
    std::string containerId;
    std::vector<std::string> command;
    core::Duration timeout;
    CheckDone done;
  };
  PendingCheckPtr exec(const std::string& containerId, const std::vector<std::string>& command,
                       core::Duration timeout, CheckDone done) override {
    calls.push_back({containerId, command, timeout, std::move(done)});
    return std::make_unique<PendingCheck>();
  }
  std::vector<Call> calls;
};

struct SimFixture {
  core::SimEventLoop loop;
  FakeExecRunner exec;
  probes::ActionChecker checker{loop, exec};
  std::vector<CheckResult> results;
  PendingCheckPtr run(const Action& a, core::Duration timeout) {
    return checker.run(a, "c1", timeout,
                       [this](CheckResult r) { results.push_back(std::move(r)); });
  }
};

TEST(ActionCheckerTest, ActionWithErrorEndsInErrorLater) {
  SimFixture f;
  Action a;
  a.error = "port \"web\" not found in container";
  a.httpGet = probes::HttpGetSpec{};  // never attempted
  PendingCheckPtr p = f.run(a, std::chrono::seconds(1));
  EXPECT_TRUE(f.results.empty());  // never inside run()
  f.loop.advance(core::Duration::zero());
  ASSERT_EQ(f.results.size(), 1u);
  EXPECT_EQ(f.results[0].outcome, Outcome::kError);
  EXPECT_EQ(f.results[0].output, "port \"web\" not found in container");
}

TEST(ActionCheckerTest, SleepWaitsItsSecondsBoundedByTheTimeout) {
  struct Case {
    int64_t seconds;
    core::Duration timeout;
    core::Duration expected;
  };
  for (const Case& c : std::vector<Case>{{5, std::chrono::seconds(30), std::chrono::seconds(5)},
                                         {5, std::chrono::seconds(2), std::chrono::seconds(2)},
                                         {0, std::chrono::seconds(2), core::Duration::zero()}}) {
    SimFixture f;
    Action a;
    a.sleep = probes::SleepSpec{c.seconds};
    PendingCheckPtr p = f.run(a, c.timeout);
    EXPECT_TRUE(f.results.empty());
    if (c.expected > core::Duration::zero()) {
      f.loop.advance(c.expected - std::chrono::milliseconds(1));
      EXPECT_TRUE(f.results.empty());
    }
    f.loop.advance(std::chrono::milliseconds(1));
    ASSERT_EQ(f.results.size(), 1u) << c.seconds;
    EXPECT_EQ(f.results[0].outcome, Outcome::kSuccess);
  }
}

TEST(ActionCheckerTest, CancelledSleepNeverCallsBack) {
  SimFixture f;
  Action a;
  a.sleep = probes::SleepSpec{3};
  PendingCheckPtr p = f.run(a, std::chrono::seconds(10));
  f.loop.advance(std::chrono::seconds(1));
  p.reset();
  f.loop.advance(std::chrono::seconds(10));
  EXPECT_TRUE(f.results.empty());
  EXPECT_EQ(f.loop.armedTimerCount(), 0u);
}

TEST(ActionCheckerTest, ExecGoesToTheExecRunner) {
  SimFixture f;
  Action a;
  a.exec = probes::ExecSpec{{"cat", "/tmp/healthy"}};
  PendingCheckPtr p = f.run(a, std::chrono::seconds(3));
  ASSERT_EQ(f.exec.calls.size(), 1u);
  EXPECT_EQ(f.exec.calls[0].containerId, "c1");
  EXPECT_EQ(f.exec.calls[0].command, (std::vector<std::string>{"cat", "/tmp/healthy"}));
  EXPECT_EQ(f.exec.calls[0].timeout, std::chrono::seconds(3));
  f.exec.calls[0].done({Outcome::kFailure, "no such file", 0});
  ASSERT_EQ(f.results.size(), 1u);
  EXPECT_EQ(f.results[0].output, "no such file");
}

TEST(ActionCheckerTest, NoActionIsAnError) {
  SimFixture f;
  PendingCheckPtr p = f.run(Action{}, std::chrono::seconds(1));
  f.loop.advance(core::Duration::zero());
  ASSERT_EQ(f.results.size(), 1u);
  EXPECT_EQ(f.results[0].outcome, Outcome::kError);
}

// The network actions reach their mechanisms (real sockets, real loop).
TEST(ActionCheckerTest, NetworkActionsAreDispatched) {
  auto loop = newLoop();
  FakeExecRunner exec;
  probes::ActionChecker checker(*loop, exec);
  Listener listener;

  Action tcp;
  tcp.tcpSocket = probes::TcpSpec{"127.0.0.1", listener.port()};
  CheckRun run = runCheck(*loop, [&](CheckDone done) {
    return checker.run(tcp, "c1", std::chrono::seconds(2), std::move(done));
  });
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);

  Action http;
  int port = closedPort();
  http.httpGet = probes::HttpGetSpec{"HTTP", "127.0.0.1", port, "/", {}};
  run = runCheck(*loop, [&](CheckDone done) {
    return checker.run(http, "c1", std::chrono::seconds(2), std::move(done));
  });
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_THAT(run.result->output, StartsWith("Get \"http://127.0.0.1:"));

  Action grpc;
  grpc.grpc = probes::GrpcSpec{"127.0.0.1", port, std::nullopt};
  run = runCheck(*loop, [&](CheckDone done) {
    return checker.run(grpc, "c1", std::chrono::milliseconds(300), std::move(done));
  });
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_THAT(run.result->output, StartsWith("timeout: failed to connect service"));
  EXPECT_TRUE(exec.calls.empty());
}

}  // namespace
}  // namespace cubelet::testing

// Graceful node shutdown over real D-Bus: a private dbus-daemon, the fake logind
// peer on it, and the LogindInhibitor + ShutdownManager on an SdEventLoop in real
// time (grace periods of 2 s in all, 1 s for critical pods).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <optional>

#include "agent/shutdown/logind_inhibitor.h"
#include "agent/shutdown/shutdown_manager.h"
#include "core/atomic_file.h"
#include "core/sd_event_loop.h"
#include "tests/fakes/fake_logind.h"
#include "tests/support/private_dbus.h"

namespace agent::shutdown {
namespace {

using cubelet::testing::FakeLogind;
using cubelet::testing::PrivateDbus;
using std::chrono::milliseconds;
using std::chrono::seconds;

PodPtr makePod(const std::string& name, std::optional<int32_t> priority) {
  auto p = std::make_shared<api::Pod>();
  p->metadata.namespace_ = "default";
  p->metadata.name = name;
  p->metadata.uid = "uid-" + name;
  p->spec.priority = priority;
  p->spec.terminationGracePeriodSeconds = 30;
  return p;
}

class LogindShutdown : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-shutdown-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    confDir_ = dir_ + "/logind.conf.d";
    auto bus = PrivateDbus::start();
    ASSERT_TRUE(bus.ok()) << bus.status();
    dbus_ = std::move(*bus);
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
  }
  void TearDown() override {
    manager_.reset();
    timers_.clear();
    conn_.reset();
    logind_.reset();
    loop_.reset();
    dbus_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void startLogind(FakeLogind::Options opts) {
    opts.confDir = confDir_;
    auto f = FakeLogind::create(*loop_, dbus_->address(), opts);
    ASSERT_TRUE(f.ok()) << f.status();
    logind_ = std::move(*f);
    ASSERT_TRUE(runUntil([&] { return logind_->ready() || !logind_->error().empty(); }));
    ASSERT_TRUE(logind_->ready()) << logind_->error();
  }

  void makeManager(core::Duration total, core::Duration critical) {
    ShutdownCallbacks cb;
    cb.activePods = [this] { return pods_; };
    cb.killPod = [this](const PodPtr& pod, int64_t grace, ShutdownCallbacks::StatusFn fn,
                        std::function<void(absl::Status)> done) {
      // A pod that takes 200 ms to stop, reporting its final status as it goes.
      killed_.push_back({pod->metadata.name, grace, loop_->monotonicNow()});
      auto timer = loop_->createTimer([this, pod, fn, done] {
        api::PodStatus st;
        st.phase = "Running";
        fn(st);
        statuses_[pod->metadata.name] = st;
        stopped_.push_back(pod->metadata.name);
        done(absl::OkStatus());
      });
      timer->enableTimer(milliseconds(200));
      timers_.push_back(std::move(timer));
    };
    cb.syncNodeStatus = [this] {
      nodeNotReadySeen_ = std::string(manager_->shutdownStatus().message());
    };
    cb.nodeEvent = [this](const std::string& reason, const std::string& message) {
      events_.push_back(reason + ": " + message);
    };
    manager_ = std::make_unique<ShutdownManager>(
        *loop_, ShutdownManagerOptions{total, critical}, std::move(cb),
        [this]() -> absl::StatusOr<InhibitorPtr> {
          ++connects_;
          auto conn = core::DbusConnection::openAddress(dbus_->address(), *loop_);
          if (!conn.ok()) return conn.status();
          conn_ = std::move(*conn);
          return InhibitorPtr(std::make_unique<LogindInhibitor>(*loop_, *conn_, confDir_));
        });
  }

  absl::Status startManager() {
    std::optional<absl::Status> result;
    manager_->start([&](absl::Status s) { result = s; });
    EXPECT_TRUE(runUntil([&] { return result.has_value(); }));
    return result.value_or(absl::DeadlineExceededError("start never answered"));
  }

  bool runUntil(const std::function<bool()>& done, core::Duration timeout = seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = false;
    core::TimerPtr poll;
    poll = loop_->createTimer([&] {
      if (done()) {
        ok = true;
        loop_->exit();
      } else if (std::chrono::steady_clock::now() > deadline) {
        loop_->exit();
      } else {
        poll->enableTimer(core::Duration(2));
      }
    });
    poll->enableTimer(core::Duration(0));
    EXPECT_TRUE(loop_->run().ok());
    return ok;
  }

  struct Killed {
    std::string pod;
    int64_t grace;
    core::MonoTime at;
  };

  std::string dir_, confDir_;
  std::unique_ptr<PrivateDbus> dbus_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<FakeLogind> logind_;
  core::DbusConnectionPtr conn_;
  std::unique_ptr<ShutdownManager> manager_;
  int connects_ = 0;
  std::vector<PodPtr> pods_;
  std::vector<Killed> killed_;
  std::vector<std::string> stopped_;
  std::map<std::string, api::PodStatus> statuses_;
  std::vector<core::TimerPtr> timers_;
  std::vector<std::string> events_;
  std::string nodeNotReadySeen_;
};

TEST_F(LogindShutdown, TakesTheDelayLockWithTheKubeletsArguments) {
  startLogind({});
  makeManager(seconds(2), seconds(1));
  ASSERT_TRUE(startManager().ok());
  ASSERT_EQ(logind_->inhibitCalls().size(), 1u);
  const auto& call = logind_->inhibitCalls()[0];
  EXPECT_EQ(call.what, "shutdown");
  EXPECT_EQ(call.who, "kubelet");
  EXPECT_EQ(call.why, "Kubelet needs time to handle node shutdown");
  EXPECT_EQ(call.mode, "delay");
  EXPECT_EQ(logind_->propertyReads(), 1u);
  EXPECT_EQ(logind_->heldCount(), 1u);
  EXPECT_TRUE(manager_->lockHeld());
  // logind's 5 s default covers 2 s: no override, no reload.
  EXPECT_TRUE(logind_->killUnitCalls().empty());
  EXPECT_FALSE(std::filesystem::exists(confDir_ + "/99-kubelet.conf"));
}

TEST_F(LogindShutdown, PrepareForShutdownStopsPodsInOrderThenReleasesTheLock) {
  startLogind({});
  pods_ = {makePod("critical", 2000000000), makePod("web", std::nullopt), makePod("db", 100)};
  makeManager(seconds(2), seconds(1));
  ASSERT_TRUE(startManager().ok());
  ASSERT_TRUE(logind_->emitPrepareForShutdown(true).ok());
  ASSERT_TRUE(runUntil([&] { return logind_->released(0); }));

  EXPECT_TRUE(manager_->shuttingDown());
  EXPECT_EQ(nodeNotReadySeen_, "node is shutting down");
  EXPECT_EQ(events_,
            std::vector<std::string>{"Shutdown: Shutdown manager detected shutdown event"});
  ASSERT_EQ(killed_.size(), 3u);
  EXPECT_EQ(killed_[0].pod, "web");
  EXPECT_EQ(killed_[0].grace, 1);
  EXPECT_EQ(killed_[1].pod, "db");
  EXPECT_EQ(killed_[1].grace, 1);
  EXPECT_EQ(killed_[2].pod, "critical");
  EXPECT_EQ(killed_[2].grace, 1);
  // The critical pod was only asked to stop after both regular pods had stopped.
  ASSERT_EQ(stopped_.size(), 3u);
  EXPECT_EQ(stopped_[2], "critical");
  EXPECT_GE(killed_[2].at - killed_[0].at, milliseconds(200));
  for (const auto& [name, st] : statuses_) {
    EXPECT_EQ(st.phase, "Failed") << name;
    EXPECT_EQ(st.reason, "Terminated") << name;
    EXPECT_EQ(st.message, "Pod was terminated in response to imminent node shutdown.") << name;
    ASSERT_EQ(st.conditions.size(), 1u) << name;
    EXPECT_EQ(st.conditions[0].type, "DisruptionTarget");
    EXPECT_EQ(st.conditions[0].reason, "TerminationByKubelet");
  }
  EXPECT_FALSE(manager_->lockHeld());
  EXPECT_EQ(logind_->heldCount(), 0u);
  ASSERT_TRUE(manager_->admit().has_value());
  EXPECT_EQ(manager_->admit()->reason, "NodeShutdown");
}

TEST_F(LogindShutdown, CancelledShutdownTakesTheLockAgain) {
  startLogind({});
  makeManager(seconds(2), seconds(1));
  ASSERT_TRUE(startManager().ok());
  ASSERT_TRUE(logind_->emitPrepareForShutdown(true).ok());
  ASSERT_TRUE(runUntil([&] { return logind_->released(0); }));
  ASSERT_TRUE(logind_->emitPrepareForShutdown(false).ok());
  ASSERT_TRUE(
      runUntil([&] { return logind_->inhibitCalls().size() == 2 && manager_->lockHeld(); }));
  EXPECT_FALSE(manager_->shuttingDown());
  EXPECT_FALSE(manager_->admit().has_value());
  EXPECT_EQ(logind_->heldCount(), 1u);
  EXPECT_FALSE(logind_->released(1));
  EXPECT_EQ(events_.back(), "Shutdown: Shutdown manager detected shutdown cancellation");
}

TEST_F(LogindShutdown, TooSmallInhibitDelayIsRaisedWithADropInAndAReload) {
  startLogind({.inhibitDelayMaxUSec = 1'000'000});
  makeManager(seconds(2), seconds(1));
  ASSERT_TRUE(startManager().ok());
  auto content = core::readFile(confDir_ + "/99-kubelet.conf");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "# Kubelet logind override\n[Login]\nInhibitDelayMaxSec=2\n");
  EXPECT_EQ(std::filesystem::status(confDir_ + "/99-kubelet.conf").permissions(),
            std::filesystem::perms(0644));
  ASSERT_EQ(logind_->killUnitCalls().size(), 1u);
  EXPECT_EQ(logind_->killUnitCalls()[0].unit, "systemd-logind.service");
  EXPECT_EQ(logind_->killUnitCalls()[0].whom, "all");
  EXPECT_EQ(logind_->killUnitCalls()[0].signal, 1);
  EXPECT_EQ(logind_->inhibitDelayMaxUSec(), 2'000'000u);
  EXPECT_EQ(logind_->propertyReads(), 2u);  // read again after the reload
  EXPECT_EQ(logind_->heldCount(), 1u);
}

TEST_F(LogindShutdown, FailsWhenLogindIgnoresTheOverride) {
  startLogind({.inhibitDelayMaxUSec = 1'000'000, .applyReload = false});
  makeManager(seconds(2), seconds(1));
  absl::Status s = startManager();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("current value of InhibitDelayMaxSec (1s) is less than requested"),
            std::string::npos)
      << s;
  EXPECT_TRUE(logind_->inhibitCalls().empty());
  EXPECT_FALSE(manager_->lockHeld());
}

TEST_F(LogindShutdown, ZeroGracePeriodTouchesNothing) {
  startLogind({.inhibitDelayMaxUSec = 1'000'000});
  makeManager(seconds(0), seconds(0));
  ASSERT_TRUE(startManager().ok());
  ASSERT_TRUE(logind_->emitPrepareForShutdown(true).ok());
  // Give a stray subscriber time to react.
  runUntil([] { return false; }, milliseconds(200));
  EXPECT_EQ(connects_, 0);
  EXPECT_EQ(logind_->propertyReads(), 0u);
  EXPECT_TRUE(logind_->inhibitCalls().empty());
  EXPECT_TRUE(logind_->killUnitCalls().empty());
  EXPECT_FALSE(std::filesystem::exists(confDir_));
  EXPECT_FALSE(manager_->shuttingDown());
  EXPECT_TRUE(killed_.empty());
}

TEST_F(LogindShutdown, InhibitorReadsTheDelayAndCancelsCallsOnDestruction) {
  startLogind({.inhibitDelayMaxUSec = 7'500'000});
  auto conn = core::DbusConnection::openAddress(dbus_->address(), *loop_);
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto inhibitor = std::make_unique<LogindInhibitor>(*loop_, **conn, confDir_);
  std::optional<absl::StatusOr<core::Duration>> delay;
  inhibitor->currentInhibitDelay([&](absl::StatusOr<core::Duration> d) { delay = d; });
  ASSERT_TRUE(runUntil([&] { return delay.has_value(); }));
  ASSERT_TRUE(delay->ok()) << delay->status();
  EXPECT_EQ(**delay, milliseconds(7500));

  // A call still in flight when the inhibitor goes never calls back.
  bool called = false;
  inhibitor->inhibitShutdown([&](absl::StatusOr<InhibitLock>) { called = true; });
  inhibitor.reset();
  runUntil([&] { return logind_->inhibitCalls().size() == 1; });
  runUntil([] { return false; }, milliseconds(100));
  EXPECT_FALSE(called);
  // The reply carried an fd that nobody kept: the lock is released at once.
  EXPECT_EQ(logind_->heldCount(), 0u);
}

TEST_F(LogindShutdown, InhibitErrorNamesTheCall) {
  startLogind({});
  logind_->setFailInhibit(true);
  makeManager(seconds(2), seconds(1));
  absl::Status s = startManager();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("failed creating systemd inhibitor"), std::string::npos) << s;
  EXPECT_NE(s.message().find("org.freedesktop.DBus.Error.AccessDenied"), std::string::npos) << s;
}

}  // namespace
}  // namespace agent::shutdown

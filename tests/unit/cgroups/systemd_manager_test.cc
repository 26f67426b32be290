// The systemd cgroup driver against a fake systemd on a private dbus-daemon: the
// unit names and a(sv) properties on the wire, the job handling (JobRemoved,
// failed jobs, UnitExists, NoSuchUnit, jobs that never end) and that nothing
// blocks the loop (the fake answers on the same loop as the manager).
#include "cgroups/systemd_manager.h"

#include <limits>
#include <optional>
#include <string>

#include "core/dbus_connection.h"
#include "core/sd_event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_systemd.h"
#include "tests/support/private_dbus.h"

namespace cubelet::testing {
namespace {

using cgroups::CgroupManager;
using cgroups::CgroupName;
using cgroups::ResourceConfig;
using cgroups::SystemdCgroupManager;
using cgroups::UnitProperty;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kMax = std::to_string(std::numeric_limits<uint64_t>::max());
const CgroupName kKubepods{{"kubepods"}};
const CgroupName kBurstable{{"kubepods", "burstable"}};
const CgroupName kPod{{"kubepods", "burstable", "pod1234-abcd"}};

// A ResourceConfig built field by field (designated initializers that leave
// fields out trip -Wmissing-field-initializers).
struct Rc {
  ResourceConfig rc;
  Rc& weight(uint64_t v) { return rc.cpuWeight = v, *this; }
  Rc& quota(int64_t v) { return rc.cpuQuotaUs = v, *this; }
  Rc& period(std::optional<uint64_t> v) { return rc.cpuPeriodUs = v, *this; }
  Rc& memMax(int64_t v) { return rc.memoryMax = v, *this; }
  Rc& memMin(int64_t v) { return rc.memoryMin = v, *this; }
  Rc& memHigh(int64_t v) { return rc.memoryHigh = v, *this; }
  Rc& pids(int64_t v) { return rc.pidsMax = v, *this; }
  operator ResourceConfig() const { return rc; }  // NOLINT: implicit by design
};

class SystemdManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dbus = PrivateDbus::start();
    ASSERT_TRUE(dbus.ok()) << dbus.status();
    dbus_ = std::move(*dbus);
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    auto fake = FakeSystemd::start(dbus_->address(), *loop_);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = std::move(*fake);
    auto conn = core::DbusConnection::openAddress(dbus_->address(), *loop_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = std::move(*conn);
    mgr_ = makeManager(SystemdCgroupManager::kDefaultJobTimeout);
  }

  void TearDown() override {
    mgr_.reset();
    conn_.reset();
    fake_.reset();
    loop_.reset();
    dbus_.reset();
  }

  std::unique_ptr<SystemdCgroupManager> makeManager(core::Duration jobTimeout) {
    return std::make_unique<SystemdCgroupManager>(*loop_, conn_->bus(), "/sys/fs/cgroup",
                                                  jobTimeout);
  }

  // Starts one call and runs the loop until its Done runs (which must not happen
  // before the call returns); a guard fails the wait after 10 s.
  absl::Status await(const std::function<void(CgroupManager::Done)>& call) {
    std::optional<absl::Status> got;
    core::TimerPtr guard = loop_->createTimer([&] { loop_->exit(); });
    guard->enableTimer(10s);
    call([&](absl::Status s) {
      got = std::move(s);
      loop_->exit();
    });
    EXPECT_FALSE(got.has_value()) << "Done ran before the call returned";
    EXPECT_TRUE(loop_->run().ok());
    if (!got) return absl::DeadlineExceededError("test: the call never completed");
    return *got;
  }
  absl::Status create(const CgroupName& name, const ResourceConfig& rc) {
    return await([&](CgroupManager::Done d) { mgr_->create(name, rc, std::move(d)); });
  }
  absl::Status update(const CgroupName& name, const ResourceConfig& rc) {
    return await([&](CgroupManager::Done d) { mgr_->update(name, rc, std::move(d)); });
  }
  absl::Status destroy(const CgroupName& name) {
    return await([&](CgroupManager::Done d) { mgr_->destroy(name, std::move(d)); });
  }

  std::unique_ptr<PrivateDbus> dbus_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<FakeSystemd> fake_;
  core::DbusConnectionPtr conn_;
  std::unique_ptr<SystemdCgroupManager> mgr_;
};

TEST(DbusConnectionTest, MissingBusIsAnErrorNamingTheAddress) {
  auto loop = core::SdEventLoop::create();
  ASSERT_TRUE(loop.ok());
  auto conn = core::DbusConnection::openAddress("unix:path=/nonexistent/cubelet/bus", **loop);
  ASSERT_FALSE(conn.ok());
  EXPECT_THAT(conn.status().message(), HasSubstr("unix:path=/nonexistent/cubelet/bus"));
}

TEST_F(SystemdManagerTest, DriverNamesAndPaths) {
  EXPECT_EQ(mgr_->driver(), "systemd");
  EXPECT_TRUE(mgr_->managesCgroups());
  // What the kubelet passes as cgroup_parent (cgroupManager.Name = ToSystemd).
  EXPECT_EQ(mgr_->runtimeParent(kPod),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_abcd.slice");
  EXPECT_EQ(mgr_->path(kBurstable), "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice");
  EXPECT_EQ(mgr_->path(CgroupName{}), "/sys/fs/cgroup");
}

TEST_F(SystemdManagerTest, CreatesTheQosHierarchyAsTransientSlices) {
  ResourceConfig top = Rc().weight(79).memMax(-1).pids(4096);
  ASSERT_TRUE(create(kKubepods, top).ok());
  ASSERT_TRUE(create(kBurstable, Rc().weight(4)).ok());
  ResourceConfig pod = Rc().weight(10).quota(50000).period(100000).memMax(128 << 20);
  ASSERT_TRUE(create(kPod, pod).ok());

  auto starts = fake_->calls("StartTransientUnit");
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[0].unit, "kubepods.slice");
  EXPECT_EQ(starts[1].unit, "kubepods-burstable.slice");
  EXPECT_EQ(starts[2].unit, "kubepods-burstable-pod1234_abcd.slice");
  for (const auto& s : starts) EXPECT_EQ(s.mode, "replace");

  const auto& p0 = starts[0].props;
  EXPECT_EQ(p0.at("Description"), "libcontainer container kubepods.slice");
  EXPECT_EQ(p0.at("Wants"), "-.slice");
  EXPECT_EQ(starts[0].types.at("Wants"), "as");
  EXPECT_EQ(starts[1].props.at("Wants"), "kubepods.slice");
  EXPECT_EQ(starts[2].props.at("Wants"), "kubepods-burstable.slice");
  EXPECT_EQ(p0.count("Slice"), 0u) << "slices nest by name, not by Slice=";
  for (const char* acc : {"MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting"}) {
    EXPECT_EQ(p0.at(acc), "true") << acc;
    EXPECT_EQ(starts[0].types.at(acc), "b") << acc;
  }
  EXPECT_EQ(p0.at("DefaultDependencies"), "false");
  EXPECT_EQ(p0.at("CPUWeight"), "79");
  EXPECT_EQ(starts[0].types.at("CPUWeight"), "t");
  EXPECT_EQ(p0.at("MemoryMax"), kMax);
  EXPECT_EQ(starts[0].types.at("MemoryMax"), "t");
  EXPECT_EQ(p0.at("TasksMax"), "4096");
  EXPECT_EQ(p0.count("CPUQuotaPerSecUSec"), 0u) << "unset fields stay off the wire";

  EXPECT_EQ(starts[1].props.at("CPUWeight"), "4");
  const auto& p2 = starts[2].props;
  EXPECT_EQ(p2.at("CPUQuotaPerSecUSec"), "500000");
  EXPECT_EQ(p2.at("CPUQuotaPeriodUSec"), "100000");
  EXPECT_EQ(p2.at("MemoryMax"), std::to_string(128 << 20));
  EXPECT_EQ(fake_->units().size(), 3u);
  // Subscribed once, at construction.
  EXPECT_EQ(fake_->calls("Subscribe").size(), 1u);
}

TEST(SystemdPropertiesTest, CpuQuotaPerSecondRoundsUpToTenMilliseconds) {
  struct Case {
    int64_t quota;
    std::optional<uint64_t> period;
    uint64_t want;
  } cases[] = {
      {50000, 100000, 500000},          // half a CPU
      {12345, 100000, 130000},          // 123450 µs/s → whole percents, rounded up
      {1000, 10000, 100000},            // 10 % over a short period
      {250000, std::nullopt, 2500000},  // the default 100 ms period
      {-1, 100000, std::numeric_limits<uint64_t>::max()},  // "max"
  };
  for (const Case& c : cases) {
    ResourceConfig rc = Rc().quota(c.quota).period(c.period);
    auto props = cgroups::resourceProperties(rc);
    std::optional<uint64_t> got;
    for (const UnitProperty& p : props) {
      if (p.name == "CPUQuotaPerSecUSec") got = std::get<uint64_t>(p.value);
    }
    ASSERT_TRUE(got.has_value()) << c.quota;
    EXPECT_EQ(*got, c.want) << "quota " << c.quota;
  }
}

TEST(SystemdPropertiesTest, MemoryQosAndLimitsInRuncOrder) {
  ResourceConfig rc = Rc().weight(2).memMax(1000).memMin(500).memHigh(-1).pids(-1);
  auto props = cgroups::resourceProperties(rc);
  constexpr uint64_t kInf = std::numeric_limits<uint64_t>::max();
  EXPECT_THAT(
      props,
      ElementsAre(UnitProperty{"MemoryMax", uint64_t{1000}}, UnitProperty{"CPUWeight", uint64_t{2}},
                  UnitProperty{"TasksMax", kInf}, UnitProperty{"MemoryMin", uint64_t{500}},
                  UnitProperty{"MemoryHigh", kInf}));
}

TEST_F(SystemdManagerTest, UpdateSetsRuntimeProperties) {
  ASSERT_TRUE(create(kBurstable, {}).ok());
  ASSERT_TRUE(update(kBurstable, Rc().weight(30).memHigh(1 << 30)).ok());
  auto sets = fake_->calls("SetUnitProperties");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].unit, "kubepods-burstable.slice");
  EXPECT_TRUE(sets[0].runtime);
  EXPECT_THAT(sets[0].propOrder, ElementsAre("CPUWeight", "MemoryHigh"));
  EXPECT_EQ(sets[0].props.at("MemoryHigh"), std::to_string(1 << 30));

  absl::Status missing = update(kPod, Rc().weight(1));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("kubepods-burstable-pod1234_abcd.slice"));
  EXPECT_THAT(missing.message(), HasSubstr("org.freedesktop.systemd1.NoSuchUnit"));
}

TEST_F(SystemdManagerTest, DestroyStopsTheUnitAndAMissingUnitIsSuccess) {
  ASSERT_TRUE(create(kPod, {}).ok());
  ASSERT_TRUE(destroy(kPod).ok());
  auto stops = fake_->calls("StopUnit");
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].unit, "kubepods-burstable-pod1234_abcd.slice");
  EXPECT_EQ(stops[0].mode, "replace");
  EXPECT_TRUE(fake_->units().empty());
  // Gone already: NoSuchUnit, which is what destroy wanted.
  EXPECT_TRUE(destroy(kPod).ok());
  EXPECT_EQ(fake_->calls("StopUnit").size(), 2u);
}

TEST_F(SystemdManagerTest, FailedJobIsAnErrorNamingTheUnit) {
  fake_->setJobResult("kubepods-besteffort.slice", "failed");
  absl::Status s = create(CgroupName{{"kubepods", "besteffort"}}, {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("kubepods-besteffort.slice"));
  EXPECT_THAT(s.message(), HasSubstr("\"failed\""));
  // Reset so that the next attempt can start the unit again, as runc does.
  auto resets = fake_->calls("ResetFailedUnit");
  // The reset is fire-and-forget: let the loop deliver it.
  core::TimerPtr t = loop_->createTimer([&] { loop_->exit(); });
  for (int i = 0; i < 100 && fake_->calls("ResetFailedUnit").empty(); ++i) {
    t->enableTimer(10ms);
    ASSERT_TRUE(loop_->run().ok());
  }
  resets = fake_->calls("ResetFailedUnit");
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].unit, "kubepods-besteffort.slice");
}

TEST_F(SystemdManagerTest, ExistingUnitGetsItsPropertiesSet) {
  fake_->addUnit("kubepods.slice");
  ASSERT_TRUE(create(kKubepods, Rc().weight(100).pids(1000)).ok());
  auto calls = fake_->calls();
  std::vector<std::string> methods;
  for (const auto& c : calls) {
    if (c.method != "Subscribe") methods.push_back(c.method);
  }
  EXPECT_THAT(methods, ElementsAre("StartTransientUnit", "SetUnitProperties"));
  auto sets = fake_->calls("SetUnitProperties");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].unit, "kubepods.slice");
  EXPECT_TRUE(sets[0].runtime);
  EXPECT_THAT(sets[0].propOrder, ElementsAre("CPUWeight", "TasksMax"));
  EXPECT_EQ(sets[0].props.at("TasksMax"), "1000");
}

TEST_F(SystemdManagerTest, JobThatNeverEndsTimesOutWhileTheLoopKeepsRunning) {
  mgr_ = makeManager(300ms);
  fake_->setFinishJobs(false);
  int ticks = 0;
  core::TimerPtr tick;
  tick = loop_->createTimer([&] {
    ++ticks;
    tick->enableTimer(20ms);
  });
  tick->enableTimer(20ms);
  auto start = std::chrono::steady_clock::now();
  absl::Status s = create(kKubepods, {});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(s.message(), HasSubstr("kubepods.slice"));
  EXPECT_THAT(s.message(), HasSubstr("/org/freedesktop/systemd1/job/"));
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  // The loop ran other work all along (a blocking call would have stalled it).
  EXPECT_GE(ticks, 8);
}

TEST_F(SystemdManagerTest, DroppingTheManagerDropsPendingCalls) {
  fake_->setFinishJobs(false);
  bool called = false;
  mgr_->create(kKubepods, {}, [&](absl::Status) { called = true; });
  core::TimerPtr t = loop_->createTimer([&] { loop_->exit(); });
  t->enableTimer(100ms);
  ASSERT_TRUE(loop_->run().ok());
  EXPECT_EQ(fake_->calls("StartTransientUnit").size(), 1u);
  mgr_.reset();
  t->enableTimer(50ms);
  ASSERT_TRUE(loop_->run().ok());
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace cubelet::testing

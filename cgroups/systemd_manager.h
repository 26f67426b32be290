// The systemd cgroup driver: each kubelet cgroup is a transient slice unit made,
// changed and stopped through systemd's D-Bus API (org.freedesktop.systemd1), with
// the properties runc's systemd manager sends for a slice (the kubelet creates its
// cgroups through runc's manager). Nothing blocks: calls are sd_bus_call_async on a
// bus attached to the agent's sd-event loop, a job's end is the Manager's
// JobRemoved signal, and a job that never ends fails after a deadline (a loop
// timer). `Done` always runs on the loop, after the call returns.
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cgroups/cgroup_manager.h"
#include "core/event_loop.h"

namespace cgroups {

// One (name, value) of a unit's a(sv) property array; the alternative picks the
// D-Bus type: s, b, t, as.
struct UnitProperty {
  using Value = std::variant<std::string, bool, uint64_t, std::vector<std::string>>;
  std::string name;
  Value value;
  bool operator==(const UnitProperty&) const = default;
};

// What runc's unifiedManager.Apply sends for a slice with no process: Description
// ("libcontainer container <unit>"), Wants=<parent slice> (slices nest by name, so
// not Slice=), the four accountings on, DefaultDependencies=false.
std::vector<UnitProperty> sliceProperties(const CgroupName& name);
// runc's genV2ResourcesProperties for `rc`: CPUWeight, CPUQuotaPeriodUSec,
// CPUQuotaPerSecUSec (quota*1e6/period rounded up to 10 ms, as systemd keeps whole
// percents; "max" = UINT64_MAX), MemoryMax, MemoryMin, MemoryHigh, TasksMax
// ("max" = UINT64_MAX). Unset fields are left out.
std::vector<UnitProperty> resourceProperties(const ResourceConfig& rc);

class SystemdCgroupManager : public CgroupManager {
 public:
  static constexpr core::Duration kDefaultJobTimeout = std::chrono::seconds(30);

  // `bus` is already attached to `loop` (core/dbus_connection.h) and outlives the
  // manager; `cgroupRoot` is the cgroup2 mount systemd manages ("/sys/fs/cgroup").
  SystemdCgroupManager(core::EventLoop& loop, sd_bus* bus,
                       std::string cgroupRoot = "/sys/fs/cgroup",
                       core::Duration jobTimeout = kDefaultJobTimeout);
  // Pending calls are dropped: their `Done` never runs.
  ~SystemdCgroupManager() override;
  SystemdCgroupManager(const SystemdCgroupManager&) = delete;
  SystemdCgroupManager& operator=(const SystemdCgroupManager&) = delete;

  std::string driver() const override { return "systemd"; }
  bool managesCgroups() const override { return true; }
  // The kubelet hands the runtime cgroupManager.Name(), which for the systemd driver
  // is the full ToSystemd() path ("/kubepods.slice/kubepods-burstable.slice/
  // kubepods-burstable-pod<uid>.slice"); containerd keeps its path.Base as the
  // slice of runc's "slice:cri-containerd:<id>" cgroupsPath.
  std::string runtimeParent(const CgroupName& name) const override { return toSystemd(name); }
  std::string path(const CgroupName& name) const override;
  bool exists(const CgroupName& name) const override;

  // StartTransientUnit(<slice>, "replace", slice + resource properties) and waits
  // for the job; a unit that already exists gets SetUnitProperties instead.
  void create(const CgroupName& name, const ResourceConfig& rc, Done done) override;
  // SetUnitProperties(<slice>, runtime=true, resource properties).
  void update(const CgroupName& name, const ResourceConfig& rc, Done done) override;
  // StopUnit(<slice>, "replace") and waits for the job; no such unit is success.
  void destroy(const CgroupName& name, Done done) override;

 private:
  struct Op;
  using OpPtr = std::unique_ptr<Op>;

  Op& newOp(std::string method, std::string unit, Done done);
  void send(Op& op, sd_bus_message* m);
  static int onReply(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int onJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error* err);
  void handleReply(Op& op, sd_bus_message* m);
  void waitForJob(Op& op, std::string job);
  void jobFinished(Op& op, const std::string& result);
  void setProperties(Op& op, const std::vector<UnitProperty>& props);
  void resetFailed(const std::string& unit);
  void finish(Op& op, absl::Status status);
  void finishLater(Op& op, absl::Status status);

  core::EventLoop& loop_;
  sd_bus* bus_;
  std::string root_;
  core::Duration jobTimeout_;
  sd_bus_slot* jobRemovedSlot_ = nullptr;
  sd_bus_slot* subscribeSlot_ = nullptr;
  uint64_t nextOpId_ = 0;
  std::map<uint64_t, OpPtr> ops_;
  std::map<std::string, Op*> jobs_;  // job object path → the op waiting for it
  // JobRemoved results that came before their job's reply was handled (kept few).
  std::deque<std::pair<std::string, std::string>> earlyResults_;
};

}  // namespace cgroups

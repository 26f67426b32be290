// A fake systemd Manager for tests on a private bus (tests/support/private_dbus.h):
// owns org.freedesktop.systemd1 and serves /org/freedesktop/systemd1's
// org.freedesktop.systemd1.Manager methods the systemd cgroup driver uses
// (StartTransientUnit, SetUnitProperties, StopUnit, ResetFailedUnit, Subscribe).
// It records every call with its properties decoded, keeps the set of loaded units
// (a second start is UnitExists, stopping an unknown unit is NoSuchUnit), and ends
// each job with JobRemoved right after the method's reply, with a result the test
// picks per unit. Runs on the test's SdEventLoop through its own bus connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dbus_connection.h"
#include "core/sd_event_loop.h"

namespace cubelet::testing {

struct FakeSystemdCall {
  std::string method;    // "StartTransientUnit", "SetUnitProperties", ...
  std::string unit;      // "" for Subscribe
  std::string mode;      // "replace" for start/stop
  bool runtime = false;  // SetUnitProperties' runtime flag
  // Property values as text ("true", "18446744073709551615", "a.slice,b.slice" for
  // "as") and their D-Bus signatures ("b", "t", "s", "as").
  std::map<std::string, std::string> props;
  std::map<std::string, std::string> types;
  std::vector<std::string> propOrder;
};

class FakeSystemd {
 public:
  // Connects to the bus at `address` and takes the name (synchronously: done
  // before this returns, so the code under test finds systemd at once).
  static absl::StatusOr<std::unique_ptr<FakeSystemd>> start(const std::string& address,
                                                            core::SdEventLoop& loop);
  ~FakeSystemd();

  // The JobRemoved result for jobs on `unit` ("done" unless set; e.g. "failed").
  void setJobResult(const std::string& unit, std::string result) { results_[unit] = result; }
  // false: jobs are queued but never end (no JobRemoved).
  void setFinishJobs(bool finish) { finishJobs_ = finish; }
  // Marks a unit as already loaded, as if started earlier.
  void addUnit(const std::string& unit) { units_.insert(unit); }

  const std::vector<FakeSystemdCall>& calls() const { return calls_; }
  // Calls of one method, in order.
  std::vector<FakeSystemdCall> calls(const std::string& method) const;
  const std::set<std::string>& units() const { return units_; }

 private:
  FakeSystemd() = default;
  static int onStartTransientUnit(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int onSetUnitProperties(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int onStopUnit(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int onResetFailedUnit(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int onSubscribe(sd_bus_message* m, void* userdata, sd_bus_error* err);
  // Replies with a new job's path, then ends the job (unless told not to).
  int replyWithJob(sd_bus_message* m, const std::string& unit);

  core::DbusConnectionPtr conn_;
  sd_bus_slot* vtableSlot_ = nullptr;
  std::vector<FakeSystemdCall> calls_;
  std::set<std::string> units_;
  std::map<std::string, std::string> results_;
  bool finishJobs_ = true;
  uint32_t nextJob_ = 1;
};

}  // namespace cubelet::testing

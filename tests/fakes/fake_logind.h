// A systemd-logind stand-in on a private bus (tests/support/private_dbus.h), so the
// graceful-shutdown code makes real D-Bus calls: it owns org.freedesktop.login1
// (Manager: property InhibitDelayMaxUSec, method Inhibit returning a real fd,
// signal PrepareForShutdown) and org.freedesktop.systemd1 (Manager.KillUnit, the
// kubelet's way to make logind reload). Like logind, it keeps the read end of a
// pipe per inhibitor and hands out the write end: when every copy of the client's
// end is closed, the kept end sees POLLHUP and the lock counts as released.
// A KillUnit("systemd-logind.service", _, SIGHUP) re-reads the *.conf drop-ins of
// the configured directory for [Login] InhibitDelayMaxSec, as a logind reload does.
//
// Runs on the same SdEventLoop as the code under test; everything is asynchronous.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dbus_connection.h"
#include "core/sd_event_loop.h"

namespace cubelet::testing {

class FakeLogind {
 public:
  struct Options {
    uint64_t inhibitDelayMaxUSec = 5'000'000;  // logind's default: 5 s
    // Where a reload reads drop-ins from; empty: a reload changes nothing.
    std::string confDir{};
    // Whether KillUnit(SIGHUP) re-reads the drop-ins (false: a logind that
    // ignores the override).
    bool applyReload = true;
  };
  struct InhibitCall {
    std::string what, who, why, mode;
    std::string sender;  // the caller's unique bus name
  };
  struct KillUnitCall {
    std::string unit, whom;
    int32_t signal = 0;
  };

  // Connects to `address` and requests both names; ready() once they are owned.
  static absl::StatusOr<std::unique_ptr<FakeLogind>> create(core::SdEventLoop& loop,
                                                            const std::string& address,
                                                            Options options);
  ~FakeLogind();
  FakeLogind(const FakeLogind&) = delete;
  FakeLogind& operator=(const FakeLogind&) = delete;

  bool ready() const { return namesOwned_ == 2; }
  // An error while requesting the names, if any.
  const std::string& error() const { return error_; }

  void setInhibitDelayMaxUSec(uint64_t usec) { delayUSec_ = usec; }
  uint64_t inhibitDelayMaxUSec() const { return delayUSec_; }
  // Makes the next Inhibit calls fail with org.freedesktop.DBus.Error.AccessDenied.
  void setFailInhibit(bool fail) { failInhibit_ = fail; }

  // Broadcasts PrepareForShutdown(active) from /org/freedesktop/login1.
  absl::Status emitPrepareForShutdown(bool active);

  const std::vector<InhibitCall>& inhibitCalls() const { return inhibitCalls_; }
  const std::vector<KillUnitCall>& killUnitCalls() const { return killUnitCalls_; }
  size_t propertyReads() const { return propertyReads_; }
  // Whether the client has closed (every copy of) inhibitor `i`'s fd.
  bool released(size_t i) const;
  // Inhibitors handed out and not released yet.
  size_t heldCount() const;

 private:
  FakeLogind(core::SdEventLoop& loop, Options options);
  void reload();
  static int onInhibit(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int onKillUnit(sd_bus_message* m, void* userdata, sd_bus_error* err);
  static int getDelay(sd_bus* bus, const char* path, const char* interface, const char* property,
                      sd_bus_message* reply, void* userdata, sd_bus_error* err);
  static int onNameAcquired(sd_bus_message* m, void* userdata, sd_bus_error* err);

  core::SdEventLoop& loop_;
  Options options_;
  core::DbusConnectionPtr conn_;
  std::vector<sd_bus_slot*> slots_;
  int namesOwned_ = 0;
  std::string error_;
  uint64_t delayUSec_;
  bool failInhibit_ = false;
  std::vector<InhibitCall> inhibitCalls_;
  std::vector<KillUnitCall> killUnitCalls_;
  std::vector<int> keptFds_;  // read ends, one per inhibitor
  size_t propertyReads_ = 0;
};

}  // namespace cubelet::testing

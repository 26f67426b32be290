// A D-Bus connection (sd-bus) attached to the agent's sd-event loop: messages are
// read, written and dispatched by the loop, so every method call made on it is
// asynchronous (sd_bus_call_async) and every reply, signal and method handler runs
// on the loop thread. Used for systemd (the systemd cgroup driver) and logind
// (graceful node shutdown), and by the tests' fake peers on a private bus.
#pragma once

#include <systemd/sd-bus.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/sd_event_loop.h"

namespace core {

class DbusConnection {
 public:
  // The system bus ($DBUS_SYSTEM_BUS_ADDRESS, else unix:path=/run/dbus/system_bus_socket).
  static absl::StatusOr<std::unique_ptr<DbusConnection>> openSystem(SdEventLoop& loop);
  // A bus daemon at `address` ("unix:path=/tmp/x/bus"), as a bus client (it says
  // Hello and gets a unique name).
  static absl::StatusOr<std::unique_ptr<DbusConnection>> openAddress(const std::string& address,
                                                                     SdEventLoop& loop);
  // Detaches from the loop, writes what is still queued and closes.
  ~DbusConnection();
  DbusConnection(const DbusConnection&) = delete;
  DbusConnection& operator=(const DbusConnection&) = delete;

  sd_bus* bus() const { return bus_; }
  const std::string& address() const { return address_; }

 private:
  DbusConnection(sd_bus* bus, std::string address) : bus_(bus), address_(std::move(address)) {}
  sd_bus* bus_;
  std::string address_;
};

using DbusConnectionPtr = std::unique_ptr<DbusConnection>;

}  // namespace core

#include "core/dbus_connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace core {

namespace {

constexpr char kDefaultSystemBus[] = "unix:path=/run/dbus/system_bus_socket";

}  // namespace

absl::StatusOr<std::unique_ptr<DbusConnection>> DbusConnection::openSystem(SdEventLoop& loop) {
  const char* env = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  return openAddress(env != nullptr && *env != '\0' ? env : kDefaultSystemBus, loop);
}

absl::StatusOr<std::unique_ptr<DbusConnection>> DbusConnection::openAddress(
    const std::string& address, SdEventLoop& loop) {
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r < 0) return errnoStatus(-r, absl::StrCat("D-Bus ", address, ": sd_bus_new"));
  // Owned from here on: every error path below closes it.
  std::unique_ptr<DbusConnection> conn(new DbusConnection(bus, address));
  r = sd_bus_set_address(bus, address.c_str());
  if (r < 0) return errnoStatus(-r, absl::StrCat("D-Bus ", address, ": set address"));
  r = sd_bus_set_bus_client(bus, 1);
  if (r < 0) return errnoStatus(-r, absl::StrCat("D-Bus ", address, ": set bus client"));
  // Hello and the connection's authentication finish on the loop; calls made
  // before then are queued by sd-bus.
  r = sd_bus_start(bus);
  if (r < 0) return errnoStatus(-r, absl::StrCat("D-Bus ", address, ": connect"));
  r = sd_bus_attach_event(bus, loop.raw(), SD_EVENT_PRIORITY_NORMAL);
  if (r < 0) return errnoStatus(-r, absl::StrCat("D-Bus ", address, ": attach to event loop"));
  return conn;
}

DbusConnection::~DbusConnection() {
  if (bus_ == nullptr) return;
  sd_bus_detach_event(bus_);
  sd_bus_flush_close_unref(bus_);
}

}  // namespace core

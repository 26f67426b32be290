// A private D-Bus daemon for tests: its own dbus-daemon on a unix socket in a
// fresh temp dir, with a policy that lets every client own any name and call
// anything. Tests point fakes (systemd, logind) and the code under test at it, so
// tests run in parallel and need no system bus.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cubelet::testing {

class PrivateDbus {
 public:
  // Starts /usr/bin/dbus-daemon and waits (up to 10 s) for it to print its address.
  static absl::StatusOr<std::unique_ptr<PrivateDbus>> start();
  // Kills the daemon, reaps it and removes the temp dir.
  ~PrivateDbus();
  PrivateDbus(const PrivateDbus&) = delete;
  PrivateDbus& operator=(const PrivateDbus&) = delete;

  // What clients connect to: "unix:path=<dir>/bus,guid=...".
  const std::string& address() const { return address_; }
  const std::string& dir() const { return dir_; }

 private:
  PrivateDbus() = default;
  std::string dir_;
  std::string address_;
  pid_t pid_ = -1;
};

}  // namespace cubelet::testing

// Opening a TCP connection for the HTTP and TCP checks without blocking the loop:
// IP literals are connected at once; a host name is resolved on a short-lived
// thread of its own (rare: the agent fills in the pod IP). Errors are worded as
// Go's net.Dial words them, since the kubelet's probe output quotes those.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/event_loop.h"

namespace probes {

// "host:port", with IPv6 literals in brackets (Go's net.JoinHostPort).
std::string joinHostPort(const std::string& host, int32_t port);

// Go's time.Duration formatting ("500ms", "1s", "1.5s", "1m30s") for messages.
std::string goDuration(core::Duration d);

struct DialResult {
  int fd = -1;        // connected, non-blocking, close-on-exec; the receiver owns it
  std::string error;  // set when fd < 0, e.g. "dial tcp 127.0.0.1:1: connect: connection refused"
};

// One connection attempt in flight. `done` runs once, on the loop, never inside
// start(); destroying the Dialer cancels the attempt (no callback, fds closed).
// The caller bounds the attempt with its own deadline.
class Dialer {
 public:
  using Done = std::function<void(DialResult)>;
  static std::unique_ptr<Dialer> start(core::EventLoop& loop, const std::string& host, int32_t port,
                                       Done done);
  virtual ~Dialer() = default;
};

}  // namespace probes

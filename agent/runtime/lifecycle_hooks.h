// Running a container's lifecycle hooks (postStart, preStop) from the blocking
// runtime layer. The runtime manager calls a HookRunner on worker-pool threads;
// the real one (agent/health/hook_runner.h) does exec through CRI on the
// calling thread and HTTP on the event loop.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "agent/api/pod.h"
#include "core/event_loop.h"

namespace agent::runtime {

// The kubelet's reasons and waiting reason for hooks.
inline constexpr char kFailedPostStartHook[] = "FailedPostStartHook";
inline constexpr char kFailedPreStopHook[] = "FailedPreStopHook";
inline constexpr char kPostStartHookError[] = "PostStartHookError";

// How long a postStart hook may run. The kubelet gives exec hooks no timeout at
// all; a bound keeps a stuck hook from holding a pool thread for ever.
inline constexpr core::Duration kPostStartHookTimeout = std::chrono::minutes(2);

class HookRunner {
 public:
  virtual ~HookRunner() = default;
  // Runs `handler` for the container and blocks until it is done or `timeout`
  // has passed. Called on worker-pool threads, never on the event loop.
  // On failure the status message is the kubelet's event message ("Exec
  // lifecycle hook ([sh -c exit 1]) for Container \"c\" in Pod ... failed -
  // error: ..."); the code is DeadlineExceeded when the timeout cut the hook
  // short (the kubelet records no event then).
  virtual absl::Status run(const api::Pod& pod, const api::Container& container,
                           const std::string& containerId, const std::string& podIP,
                           const api::Handler& handler, core::Duration timeout) = 0;
};

}  // namespace agent::runtime

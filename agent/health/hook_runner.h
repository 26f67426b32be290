// The real runtime::HookRunner: lifecycle hooks as the kubelet's handler
// runner (pkg/kubelet/lifecycle/handlers.go) runs them. Called on worker-pool
// threads: exec is a CRI ExecSync on the calling thread (never another pool
// job, which a busy pool could leave waiting for ever); httpGet runs on the
// event loop and the caller waits for it; sleep sleeps the calling thread.
#pragma once

#include <string>

#include "agent/runtime/lifecycle_hooks.h"
#include "core/event_loop.h"
#include "cri/runtime_service.h"

namespace agent::health {

// The User-Agent of hook requests, as the kubelet's "kube-lifecycle/<major>.<minor>".
inline constexpr char kLifecycleUserAgent[] = "kube-lifecycle/1.30";

class LifecycleHookRunner : public runtime::HookRunner {
 public:
  LifecycleHookRunner(core::EventLoop& loop, cri::RuntimeService& runtime)
      : loop_(loop), runtime_(runtime) {}

  // Exec fails on a runtime error or a non-zero exit; httpGet only when no
  // response came (any status code is fine, as in the kubelet); sleep never,
  // unless the timeout is shorter than the sleep.
  absl::Status run(const api::Pod& pod, const api::Container& container,
                   const std::string& containerId, const std::string& podIP,
                   const api::Handler& handler, core::Duration timeout) override;

 private:
  absl::Status runExec(const api::Pod& pod, const api::Container& container,
                       const std::string& containerId, const api::ExecAction& exec,
                       core::Duration timeout);
  absl::Status runHttp(const api::Pod& pod, const api::Container& container,
                       const std::string& podIP, const api::Handler& handler,
                       core::Duration timeout);

  core::EventLoop& loop_;
  cri::RuntimeService& runtime_;
};

}  // namespace agent::health

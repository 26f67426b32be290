// The runtime's network readiness, as the kubelet's updateRuntimeUp keeps it in its
// runtimeState: CRI Status (on the worker pool) at once on start(), then every
// `period` while the network is ready, and faster while it is not (`fastInitial`
// doubling up to `period`), so that pods start promptly once the runtime has loaded a
// CNI config. The error is the kubelet's "container runtime network not ready:
// NetworkReady=false reason:... message:..."; a failed Status call changes nothing.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "cri/runtime_service.h"

namespace agent::cni {

struct NetworkReadinessOptions {
  core::Duration period = std::chrono::seconds(5);
  core::Duration fastInitial = std::chrono::milliseconds(500);
};

class NetworkReadiness {
 public:
  NetworkReadiness(core::EventLoop& loop, core::WorkerPool& pool, cri::RuntimeService& runtime,
                   NetworkReadinessOptions opts = {});
  ~NetworkReadiness();
  NetworkReadiness(const NetworkReadiness&) = delete;
  NetworkReadiness& operator=(const NetworkReadiness&) = delete;

  // Called on the loop with the new error ("" = ready) after the first answer and on
  // every change.
  void setOnChanged(std::function<void(const std::string& error)> cb) {
    onChanged_ = std::move(cb);
  }
  void start();
  // Checks again soon and fast (e.g. after the CNI config was written).
  void checkSoon();

  // A Status answer obtained elsewhere (the node status's runtime facts): taken as
  // if this check had made it, so pods and the node's Ready condition agree.
  void observe(std::string error);

  bool known() const { return known_; }
  bool ready() const { return known_ && error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  void check();
  void onStatus(bool ok, std::string error);
  // Records an answer; true when it changed what is known.
  bool record(std::string error);
  void announce();

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  cri::RuntimeService& runtime_;
  NetworkReadinessOptions opts_;
  std::function<void(const std::string&)> onChanged_;
  core::TimerPtr timer_;
  core::Duration fastDelay_;
  bool inFlight_ = false;
  bool again_ = false;  // checkSoon() while a check was in flight
  bool known_ = false;
  std::string error_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::cni

#include "agent/cni/network_readiness.h"

#include <algorithm>

#include "agent/node/node_status.h"
#include "core/log.h"

namespace agent::cni {

NetworkReadiness::NetworkReadiness(core::EventLoop& loop, core::WorkerPool& pool,
                                   cri::RuntimeService& runtime, NetworkReadinessOptions opts)
    : loop_(loop), pool_(pool), runtime_(runtime), opts_(opts), fastDelay_(opts.fastInitial) {}

NetworkReadiness::~NetworkReadiness() { *alive_ = false; }

void NetworkReadiness::start() {
  timer_ = loop_.createTimer([this] { check(); });
  check();
}

void NetworkReadiness::checkSoon() {
  if (!timer_) return;
  fastDelay_ = opts_.fastInitial;
  if (inFlight_) {
    again_ = true;
    return;
  }
  timer_->enableTimer(core::Duration(0));
}

void NetworkReadiness::check() {
  if (inFlight_) return;
  inFlight_ = true;
  again_ = false;
  auto alive = alive_;
  pool_.submit([this, &loop = loop_, &rt = runtime_, alive] {
    auto st = rt.status(false);
    bool ok = st.ok();
    std::string error;
    if (ok) {
      // The same words as the node's Ready condition (node::observeRuntime).
      node::RuntimeFacts facts;
      facts.statusOk = true;
      for (const auto& c : st->status().conditions()) {
        facts.conditions.push_back({c.type(), c.status(), c.reason(), c.message()});
      }
      node::RuntimeHealth health;
      node::observeRuntime(health, facts, core::WallTime{});
      error = std::move(health.networkError);
    } else {
      VLOG(2) << "CRI Status for network readiness: " << st.status().message();
    }
    loop.post([this, alive, ok, error = std::move(error)]() mutable {
      if (*alive) onStatus(ok, std::move(error));
    });
  });
}

void NetworkReadiness::observe(std::string error) {
  if (!record(std::move(error))) return;
  // Not ready any more: look again fast from now on.
  if (!error_.empty() && timer_ && !inFlight_) {
    fastDelay_ = opts_.fastInitial;
    timer_->enableTimer(fastDelay_);
  }
  announce();
}

bool NetworkReadiness::record(std::string error) {
  bool changed = !known_ || error != error_;
  known_ = true;
  error_ = std::move(error);
  return changed;
}

void NetworkReadiness::announce() {
  if (error_.empty()) {
    LOG_INFO << "Container runtime network is ready";
  } else {
    LOG_WARNING << error_;
  }
  if (onChanged_) onChanged_(error_);
}

void NetworkReadiness::onStatus(bool ok, std::string error) {
  inFlight_ = false;
  bool changed = ok && record(std::move(error));
  core::Duration next = opts_.period;
  if (again_) {
    next = core::Duration(0);
  } else if (!ok || !error_.empty()) {
    next = fastDelay_;
    fastDelay_ = std::min(fastDelay_ * 2, opts_.period);
  } else {
    fastDelay_ = opts_.fastInitial;
  }
  timer_->enableTimer(next);
  if (changed) announce();
}

}  // namespace agent::cni

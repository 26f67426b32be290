#include "agent/shutdown/shutdown_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/events/event_reasons.h"
#include "agent/status/pod_status_compute.h"
#include "core/log.h"

namespace agent::shutdown {

namespace {

std::string seconds(core::Duration d) {
  return absl::StrCat(std::chrono::duration<double>(d).count(), "s");
}

std::string podName(const api::Pod& pod) {
  return absl::StrCat(pod.metadata.namespace_, "/", pod.metadata.name);
}

}  // namespace

std::vector<ShutdownGroup> groupsFromConfig(core::Duration shutdownGracePeriod,
                                            core::Duration shutdownGracePeriodCriticalPods) {
  if (shutdownGracePeriod <= core::Duration(0)) return {};
  core::Duration regular = shutdownGracePeriod - shutdownGracePeriodCriticalPods;
  if (regular < core::Duration(0)) return {};
  core::Duration critical = shutdownGracePeriod - regular;
  if (critical < core::Duration(0)) return {};
  // The kubelet truncates each period to whole seconds.
  auto wholeSeconds = [](core::Duration d) {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
  };
  return {{kDefaultPriority, wholeSeconds(regular)},
          {kSystemCriticalPriority, wholeSeconds(critical)}};
}

core::Duration periodRequested(const std::vector<ShutdownGroup>& groups) {
  int64_t sum = 0;
  for (const auto& g : groups) sum += g.gracePeriodSeconds;
  return std::chrono::seconds(sum);
}

std::vector<PodGroup> groupByPriority(const std::vector<ShutdownGroup>& groups,
                                      const std::vector<PodPtr>& pods) {
  std::vector<PodGroup> out;
  out.reserve(groups.size());
  for (const auto& g : groups) out.push_back(PodGroup{g, {}});
  if (out.empty()) return out;
  for (const auto& pod : pods) {
    int32_t priority = pod->spec.priority.value_or(0);
    // The first group whose priority is not below the pod's...
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const PodGroup& g) { return g.group.priority >= priority; });
    size_t index = static_cast<size_t>(it - out.begin());
    // ...then step down to the highest group not above it.
    if (index == out.size()) {
      index = out.size() - 1;
    } else if (index > 0 && out[index].group.priority > priority) {
      --index;
    }
    out[index].pods.push_back(pod);
  }
  return out;
}

int64_t podGracePeriodSeconds(const api::Pod& pod, const ShutdownGroup& group) {
  int64_t grace = group.gracePeriodSeconds;
  if (pod.spec.terminationGracePeriodSeconds <= grace)
    grace = pod.spec.terminationGracePeriodSeconds;
  return grace;
}

void applyShutdownStatus(api::PodStatus& status, const std::string& now) {
  // A pod that already succeeded keeps its phase.
  if (status.phase != "Succeeded") status.phase = "Failed";
  status.reason = kNodeShutdownReason;
  status.message = kNodeShutdownMessage;
  api::PodCondition c;
  c.type = kDisruptionTarget;
  c.status = "True";
  c.reason = kTerminationByKubelet;
  c.message = kNodeShutdownMessage;
  c.lastTransitionTime = now;
  // podutil.UpdatePodCondition: the transition time moves only when the status does.
  for (auto& existing : status.conditions) {
    if (existing.type != kDisruptionTarget) continue;
    if (existing.status == c.status) c.lastTransitionTime = existing.lastTransitionTime;
    existing = std::move(c);
    return;
  }
  status.conditions.push_back(std::move(c));
}

ShutdownManager::ShutdownManager(core::EventLoop& loop, ShutdownManagerOptions options,
                                 ShutdownCallbacks callbacks, InhibitorFactory connect)
    : loop_(loop),
      options_(options),
      callbacks_(std::move(callbacks)),
      connect_(std::move(connect)),
      groups_(
          groupsFromConfig(options.shutdownGracePeriod, options.shutdownGracePeriodCriticalPods)) {
  groupTimer_ = loop_.createTimer([this] {
    const auto& g = podGroups_[groupIndex_].group;
    LOG_INFO << "Shutdown manager pod killing time out: gracePeriod=" << g.gracePeriodSeconds
             << "s priority=" << g.priority;
    ++generation_;  // late kill callbacks of this group no longer count
    runGroup(groupIndex_ + 1);
  });
}

ShutdownManager::~ShutdownManager() { *alive_ = false; }

void ShutdownManager::start(std::function<void(absl::Status)> done) {
  auto finish = [alive = alive_, this, done = std::move(done)](absl::Status s) {
    if (!*alive) return;
    if (!s.ok()) {
      lock_.release();
      inhibitor_.reset();
    }
    done(std::move(s));
  };
  if (!enabled()) {
    LOG_INFO << "No graceful configuration specified, node shutdown will be immediate";
    loop_.post([finish] { finish(absl::OkStatus()); });
    return;
  }
  LOG_INFO << "Creating node shutdown manager: shutdownGracePeriodRequested="
           << seconds(options_.shutdownGracePeriod) << " shutdownGracePeriodCriticalPods="
           << seconds(options_.shutdownGracePeriodCriticalPods);
  absl::StatusOr<InhibitorPtr> inhibitor = connect_();
  if (!inhibitor.ok()) {
    loop_.post([finish, s = inhibitor.status()] { finish(s); });
    return;
  }
  inhibitor_ = std::move(*inhibitor);
  checkInhibitDelay([this, finish](absl::Status s) {
    if (!s.ok()) return finish(std::move(s));
    acquireLock([this, finish](absl::Status s) {
      if (!s.ok()) return finish(std::move(s));
      inhibitor_->monitorShutdown(
          [alive = alive_, this](bool active) {
            if (*alive) onPrepareForShutdown(active);
          },
          [finish](absl::Status s) {
            if (!s.ok()) {
              return finish(absl::Status(
                  s.code(), absl::StrCat("failed to monitor shutdown: ", s.message())));
            }
            finish(absl::OkStatus());
          });
    });
  });
}

void ShutdownManager::checkInhibitDelay(std::function<void(absl::Status)> done) {
  core::Duration requested = periodRequested(groups_);
  inhibitor_->currentInhibitDelay([alive = alive_, this, requested, done = std::move(done)](
                                      absl::StatusOr<core::Duration> current) mutable {
    if (!*alive) return;
    if (!current.ok()) return done(current.status());
    if (requested <= *current) return done(absl::OkStatus());
    // logind would cut the delay short: raise InhibitDelayMaxSec, reload, re-check.
    LOG_INFO << "logind InhibitDelayMaxSec is " << seconds(*current)
             << ", less than the requested shutdown grace period " << seconds(requested)
             << ": writing a logind override and reloading logind";
    if (absl::Status s = inhibitor_->overrideInhibitDelay(requested); !s.ok()) {
      return done(absl::Status(
          s.code(),
          absl::StrCat("unable to override inhibit delay by shutdown manager: ", s.message())));
    }
    inhibitor_->reloadLogindConf(
        [alive, this, requested, done = std::move(done)](absl::Status s) mutable {
          if (!*alive) return;
          if (!s.ok()) return done(std::move(s));
          inhibitor_->currentInhibitDelay(
              [requested, done = std::move(done)](absl::StatusOr<core::Duration> updated) {
                if (!updated.ok()) return done(updated.status());
                if (requested > *updated) {
                  return done(absl::FailedPreconditionError(absl::StrCat(
                      "node shutdown manager was unable to update logind InhibitDelayMaxSec to ",
                      seconds(requested),
                      " (ShutdownGracePeriod), current value of "
                      "InhibitDelayMaxSec (",
                      seconds(*updated), ") is less than requested ShutdownGracePeriod")));
                }
                done(absl::OkStatus());
              });
        });
  });
}

void ShutdownManager::acquireLock(std::function<void(absl::Status)> done) {
  inhibitor_->inhibitShutdown(
      [alive = alive_, this, done = std::move(done)](absl::StatusOr<InhibitLock> lock) {
        if (!*alive) return;
        if (!lock.ok()) return done(lock.status());
        lock_ = std::move(*lock);  // releases a lock still held
        done(absl::OkStatus());
      });
}

absl::Status ShutdownManager::shutdownStatus() const {
  if (shuttingDown_) return absl::UnavailableError(kNodeShuttingDownError);
  return absl::OkStatus();
}

std::optional<ShutdownManager::Rejection> ShutdownManager::admit() const {
  if (!shuttingDown_) return std::nullopt;
  return Rejection{kNodeShutdownNotAdmittedReason, kNodeShutdownNotAdmittedMessage};
}

void ShutdownManager::onPrepareForShutdown(bool active) {
  if (processing_) {
    queued_.push_back(active);
    return;
  }
  handleEvent(active);
}

void ShutdownManager::handleEvent(bool active) {
  LOG_INFO << "Shutdown manager detected new shutdown event: "
           << (active ? "shutdown" : "cancelled");
  if (callbacks_.nodeEvent) {
    callbacks_.nodeEvent(std::string(events::reasons::kNodeShutdown),
                         active ? kShutdownDetectedEvent : kShutdownCancelledEvent);
  }
  shuttingDown_ = active;
  if (!active) {
    acquireLock([](absl::Status s) {
      if (!s.ok()) LOG_ERROR << "Shutdown manager could not take the inhibitor lock again: " << s;
    });
    return;
  }
  if (callbacks_.syncNodeStatus) callbacks_.syncNodeStatus();
  processShutdown();
}

void ShutdownManager::processShutdown() {
  LOG_INFO << "Shutdown manager processing shutdown event";
  processing_ = true;
  std::vector<PodPtr> pods =
      callbacks_.activePods ? callbacks_.activePods() : std::vector<PodPtr>{};
  podGroups_ = groupByPriority(groups_, pods);
  runGroup(0);
}

void ShutdownManager::runGroup(size_t index) {
  // Groups without pods are not waited for.
  while (index < podGroups_.size() && podGroups_[index].pods.empty()) ++index;
  if (index >= podGroups_.size()) {
    finishShutdown();
    return;
  }
  groupIndex_ = index;
  const PodGroup& g = podGroups_[index];
  uint64_t generation = ++generation_;
  outstanding_ = g.pods.size();
  groupTimer_->enableTimer(std::chrono::seconds(g.group.gracePeriodSeconds));
  std::string now = status::rfc3339(loop_.wallNow());
  for (const PodPtr& pod : g.pods) {
    int64_t grace = podGracePeriodSeconds(*pod, g.group);
    LOG_INFO << "Shutdown manager killing pod " << podName(*pod) << " with gracePeriod " << grace;
    // `done` may come at once or from another thread: count it on the loop.
    auto done = [alive = alive_, this, generation, name = podName(*pod)](absl::Status s) {
      loop_.post([alive, this, generation, name, s = std::move(s)] {
        if (!*alive) return;
        if (s.ok()) {
          LOG_INFO << "Shutdown manager finished killing pod " << name;
        } else {
          LOG_WARNING << "Shutdown manager failed killing pod " << name << ": " << s;
        }
        groupFinished(generation);
      });
    };
    callbacks_.killPod(
        pod, grace, [now](api::PodStatus& status) { applyShutdownStatus(status, now); },
        std::move(done));
  }
}

void ShutdownManager::groupFinished(uint64_t generation) {
  if (generation != generation_ || outstanding_ == 0) return;
  if (--outstanding_ > 0) return;
  groupTimer_->disableTimer();
  runGroup(groupIndex_ + 1);
}

void ShutdownManager::finishShutdown() {
  ++generation_;
  groupTimer_->disableTimer();
  podGroups_.clear();
  lock_.release();
  processing_ = false;
  LOG_INFO << "Shutdown manager completed processing shutdown event, node will shutdown shortly";
  while (!processing_ && !queued_.empty()) {
    bool next = queued_.front();
    queued_.pop_front();
    handleEvent(next);
  }
}

}  // namespace agent::shutdown

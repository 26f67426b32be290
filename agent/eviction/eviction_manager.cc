#include "agent/eviction/eviction_manager.h"

#include <algorithm>
#include <utility>

#include "core/log.h"

namespace agent::eviction {
namespace {

std::string podKey(const api::Pod& p) { return p.metadata.namespace_ + "/" + p.metadata.name; }

}  // namespace

EvictionManager::EvictionManager(core::EventLoop& loop, EvictionManagerOptions opts,
                                 EvictionManagerDeps deps)
    : loop_(loop), opts_(std::move(opts)), deps_(std::move(deps)) {
  timer_ = loop_.createTimer([this] {
    if (!cleanupUids_.empty()) {
      pollCleanup();
    } else {
      synchronize();
    }
  });
}

EvictionManager::~EvictionManager() { *alive_ = false; }

void EvictionManager::start() { synchronize(); }

node::PressureFlags EvictionManager::pressure() const {
  node::PressureFlags f;
  for (NodeCondition c : conditions_) {
    if (c == NodeCondition::kMemoryPressure) f.memory = true;
    if (c == NodeCondition::kDiskPressure) f.disk = true;
    if (c == NodeCondition::kPIDPressure) f.pid = true;
  }
  return f;
}

void EvictionManager::scheduleNext(core::Duration after) {
  syncing_ = false;
  timer_->enableTimer(after);
}

void EvictionManager::event(const api::Pod* pod, std::string_view reason, std::string_view message,
                            const std::map<std::string, std::string>& annotations) {
  if (deps_.recordEvent) deps_.recordEvent(pod, reason, message, annotations);
}

void EvictionManager::synchronize() {
  if (syncing_) return;
  if (opts_.thresholds.empty() && !opts_.localStorageCapacityIsolation) {
    return scheduleNext(opts_.monitoringInterval);
  }
  syncing_ = true;
  VLOG(3) << "Eviction manager: synchronize housekeeping";
  std::weak_ptr<bool> alive = alive_;
  deps_.collect([this, alive](absl::StatusOr<Observations> r) {
    if (alive.expired()) return;
    onObservations(std::move(r));
  });
}

void EvictionManager::onObservations(absl::StatusOr<Observations> result) {
  if (!result.ok()) {
    LOG_ERROR << "Eviction manager: failed to get summary stats: " << result.status().message();
    return scheduleNext(opts_.monitoringInterval);
  }
  current_ = std::move(*result);
  const Observations& obs = current_;
  core::MonoTime now = loop_.monotonicNow();

  // Thresholds met now, plus those met before whose minimum reclaim is not yet reached.
  std::vector<Threshold> thresholds = thresholdsMet(opts_.thresholds, obs, false);
  if (!thresholdsMet_.empty()) {
    thresholds = mergeThresholds(std::move(thresholds), thresholdsMet(thresholdsMet_, obs, true));
  }
  ThresholdsObservedAt firstObservedAt =
      thresholdsFirstObservedAt(thresholds, thresholdsFirstObservedAt_, now);
  ConditionsObservedAt lastObservedAt =
      nodeConditionsLastObservedAt(nodeConditions(thresholds), conditionsLastObservedAt_, now);
  std::vector<NodeCondition> conditions =
      nodeConditionsObservedSince(lastObservedAt, opts_.pressureTransitionPeriod, now);
  if (conditions != conditions_) {
    LOG_INFO << "Eviction manager: node conditions now " << formatConditions(conditions);
  }
  thresholds = thresholdsMetGracePeriod(firstObservedAt, now);

  conditions_ = std::move(conditions);
  thresholdsFirstObservedAt_ = std::move(firstObservedAt);
  conditionsLastObservedAt_ = std::move(lastObservedAt);
  thresholdsMet_ = thresholds;
  thresholds = thresholdsUpdatedStats(thresholds, obs, lastObservations_);
  lastObservations_ = obs.signals;

  if (opts_.localStorageCapacityIsolation) {
    std::vector<std::string> evicted = localStorageEviction();
    if (!evicted.empty()) return waitForCleanup(std::move(evicted));
  }
  if (thresholds.empty()) {
    VLOG(3) << "Eviction manager: no resources are starved";
    return scheduleNext(opts_.monitoringInterval);
  }

  sortByEvictionPriority(thresholds);
  Threshold toReclaim = thresholds.front();
  std::string_view resource = signalResource(toReclaim.signal);
  LOG_INFO << "Eviction manager: attempting to reclaim " << resource;
  event(nullptr, "EvictionThresholdMet",
        std::string("Attempting to reclaim ") + std::string(resource));

  std::vector<NodeReclaim> steps = nodeReclaimFor(toReclaim.signal, obs.dedicatedImageFs);
  reclaimThenEvict(0, std::move(steps), std::move(toReclaim), std::move(thresholds));
}

void EvictionManager::reclaimThenEvict(size_t step, std::vector<NodeReclaim> steps,
                                       Threshold threshold, std::vector<Threshold> thresholds) {
  std::weak_ptr<bool> alive = alive_;
  if (step < steps.size()) {
    const auto& fn = steps[step] == NodeReclaim::kDeleteAllUnusedContainers
                         ? deps_.deleteAllUnusedContainers
                         : deps_.deleteUnusedImages;
    if (!fn)
      return reclaimThenEvict(step + 1, std::move(steps), std::move(threshold),
                              std::move(thresholds));
    fn([this, alive, step, steps, threshold, thresholds](absl::Status st) mutable {
      if (alive.expired()) return;
      if (!st.ok()) {
        LOG_INFO << "Eviction manager: unexpected error when attempting to reduce "
                 << signalResource(threshold.signal) << " pressure: " << st.message();
      }
      reclaimThenEvict(step + 1, std::move(steps), std::move(threshold), std::move(thresholds));
    });
    return;
  }
  if (steps.empty()) return evictRanked(threshold, thresholds);
  // Node-level reclaim ran: observe again and evict only if a threshold (with its
  // minimum reclaim) is still met.
  deps_.collect([this, alive, threshold, thresholds](absl::StatusOr<Observations> r) {
    if (alive.expired()) return;
    if (!r.ok()) {
      LOG_ERROR << "Eviction manager: failed to get summary stats after resource reclaim: "
                << r.status().message();
      return evictRanked(threshold, thresholds);
    }
    if (thresholdsMet(opts_.thresholds, *r, true).empty()) {
      LOG_INFO << "Eviction manager: able to reduce " << signalResource(threshold.signal)
               << " pressure without evicting pods.";
      return scheduleNext(opts_.monitoringInterval);
    }
    evictRanked(threshold, thresholds);
  });
}

void EvictionManager::evictRanked(const Threshold& threshold,
                                  const std::vector<Threshold>& thresholds) {
  std::string_view resource = signalResource(threshold.signal);
  LOG_INFO << "Eviction manager: must evict pod(s) to reclaim " << resource;
  std::vector<const api::Pod*> pods = deps_.activePods();
  if (pods.empty()) {
    LOG_ERROR << "Eviction manager: eviction thresholds have been met, but no pods are active "
                 "to evict";
    return scheduleNext(opts_.monitoringInterval);
  }
  rankForSignal(threshold.signal, pods, current_);
  // At most one pod per cycle.
  for (const api::Pod* pod : pods) {
    if (isCriticalPod(*pod)) {
      LOG_ERROR << "Eviction manager: cannot evict a critical pod " << podKey(*pod);
      continue;
    }
    EvictionMessage m = evictionMessage(resource, *pod, current_, thresholds);
    PodEvictionStatus status;
    status.message = m.message;
    status.gracePeriodSeconds = threshold.hard() ? 0 : opts_.maxPodGracePeriodSeconds;
    status.conditions.push_back(
        api::PodCondition{"DisruptionTarget", "True", "TerminationByKubelet", m.message, "", ""});
    event(pod, kReason, m.message, m.annotations);
    LOG_INFO << "Eviction manager: evicting pod " << podKey(*pod) << ": " << m.message;
    std::string uid = pod->metadata.uid;
    deps_.evictPod(*pod, status);
    return waitForCleanup({uid});
  }
  LOG_INFO << "Eviction manager: unable to evict any pods from the node";
  scheduleNext(opts_.monitoringInterval);
}

std::vector<std::string> EvictionManager::localStorageEviction() {
  std::vector<std::string> evicted;
  for (const api::Pod* pod : deps_.activePods()) {
    auto usage = current_.pods.find(pod->metadata.uid);
    if (usage == current_.pods.end()) continue;
    std::optional<std::string> message =
        localStorageEvictionMessage(*pod, usage->second, current_.dedicatedImageFs);
    if (!message) continue;
    if (isCriticalPod(*pod)) {
      LOG_ERROR << "Eviction manager: cannot evict a critical pod " << podKey(*pod);
      continue;
    }
    PodEvictionStatus status;
    status.message = *message;
    event(pod, kReason, *message);
    LOG_INFO << "Eviction manager: evicting pod " << podKey(*pod) << ": " << *message;
    evicted.push_back(pod->metadata.uid);
    deps_.evictPod(*pod, status);
  }
  return evicted;
}

void EvictionManager::waitForCleanup(std::vector<std::string> uids) {
  cleanupUids_ = std::move(uids);
  cleanupDeadline_ = loop_.monotonicNow() + opts_.podCleanupTimeout;
  timer_->enableTimer(opts_.podCleanupPollInterval);
}

void EvictionManager::pollCleanup() {
  bool all = std::all_of(cleanupUids_.begin(), cleanupUids_.end(), [this](const std::string& u) {
    return !deps_.podCleanedUp || deps_.podCleanedUp(u);
  });
  if (!all && loop_.monotonicNow() < cleanupDeadline_) {
    timer_->enableTimer(opts_.podCleanupPollInterval);
    return;
  }
  if (all) {
    LOG_INFO << "Eviction manager: pods successfully cleaned up";
  } else {
    LOG_INFO << "Eviction manager: timed out waiting for pods to be cleaned up";
  }
  cleanupUids_.clear();
  // The kubelet synchronizes again at once after an eviction.
  syncing_ = false;
  synchronize();
}

}  // namespace agent::eviction

// The eviction manager (pkg/kubelet/eviction/eviction_manager.go) on the event loop:
// every monitoring interval it observes the node (an async source the agent fills
// from its stats), decides which thresholds are met and which node conditions hold
// (kept for the pressure transition period after pressure ends), enforces the pods'
// local storage limits, and, when a threshold is met past its grace period, first
// reclaims node-level resources (dead containers, then unused images, for disk
// signals) and re-observes; if still short it evicts at most one pod, ranked as the
// kubelet ranks them, then waits (up to 30 s) for that pod to be cleaned up before the
// next cycle. Events: "EvictionThresholdMet" on the node, "Evicted" on the pod.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/api/pod_status.h"
#include "agent/eviction/admission.h"
#include "agent/eviction/helpers.h"
#include "agent/eviction/observations.h"
#include "agent/eviction/thresholds.h"
#include "agent/node/node_status.h"
#include "core/event_loop.h"

namespace agent::eviction {

// How an evicted pod ends: killed with `gracePeriodSeconds` (0 for a hard threshold and
// for local storage limits, evictionMaxPodGracePeriod for a soft one), then reported
// with phase Failed, reason Evicted and the message, plus `conditions` (a
// DisruptionTarget condition, reason TerminationByKubelet, for threshold evictions).
struct PodEvictionStatus {
  std::string phase = "Failed";
  std::string reason = kReason;
  std::string message;
  int64_t gracePeriodSeconds = 0;
  std::vector<api::PodCondition> conditions;  // lastTransitionTime left to the status code
};

struct EvictionManagerOptions {
  std::vector<Threshold> thresholds;                                  // parseThresholds()
  core::Duration pressureTransitionPeriod = std::chrono::minutes(5);  // evictionPressure...
  core::Duration monitoringInterval = std::chrono::seconds(10);       // housekeeping period
  int64_t maxPodGracePeriodSeconds = 0;                               // evictionMaxPodGracePeriod
  bool localStorageCapacityIsolation = true;                          // localStorageCapacity...
  core::Duration podCleanupTimeout = std::chrono::seconds(30);
  core::Duration podCleanupPollInterval = std::chrono::seconds(1);
};

// What the manager calls. Every callback is called on the loop, and must call back on
// the loop.
struct EvictionManagerDeps {
  using ObservationsDone = std::function<void(absl::StatusOr<Observations>)>;
  using Done = std::function<void(absl::Status)>;

  // Takes fresh observations (the summary with updated stats) and calls back once.
  std::function<void(ObservationsDone)> collect;
  // The pods the kubelet considers active (admitted, not terminal); pointers are used
  // only during the call that fetched them.
  std::function<std::vector<const api::Pod*>()> activePods;
  // Kills the pod and records its final status (TerminatePodAbnormally / killPodNow).
  std::function<void(const api::Pod&, const PodEvictionStatus&)> evictPod;
  // podResourcesAreReclaimed: the evicted pod's containers are gone and its volumes
  // unmounted. Unset: treated as cleaned up at the first poll.
  std::function<bool(const std::string& uid)> podCleanedUp;
  // containerGC.DeleteAllUnusedContainers and imageGC.DeleteUnusedImages; unset ones
  // are skipped.
  std::function<void(Done)> deleteAllUnusedContainers;
  std::function<void(Done)> deleteUnusedImages;
  // A Warning event: on the pod, or on the node when `pod` is null. `annotations` are the
  // event's (offending_containers, ...), empty when there are none.
  std::function<void(const api::Pod* pod, std::string_view reason, std::string_view message,
                     const std::map<std::string, std::string>& annotations)>
      recordEvent;
};

class EvictionManager {
 public:
  EvictionManager(core::EventLoop& loop, EvictionManagerOptions opts, EvictionManagerDeps deps);
  ~EvictionManager();
  EvictionManager(const EvictionManager&) = delete;
  EvictionManager& operator=(const EvictionManager&) = delete;

  // Runs the first cycle now, then one every monitoring interval.
  void start();

  // The node conditions now (for node status and admission).
  const std::vector<NodeCondition>& conditions() const { return conditions_; }
  node::PressureFlags pressure() const;

  // The admit handler over the current conditions.
  std::optional<pods::Rejection> admit(const api::Pod& pod,
                                       const std::vector<Toleration>& tolerations) const {
    return admitUnderPressure(pod, tolerations, conditions_);
  }

 private:
  void synchronize();
  void onObservations(absl::StatusOr<Observations> result);
  void reclaimThenEvict(size_t step, std::vector<NodeReclaim> steps, Threshold threshold,
                        std::vector<Threshold> thresholds);
  void evictRanked(const Threshold& threshold, const std::vector<Threshold>& thresholds);
  std::vector<std::string> localStorageEviction();
  void waitForCleanup(std::vector<std::string> uids);
  void pollCleanup();
  void scheduleNext(core::Duration after);
  void event(const api::Pod* pod, std::string_view reason, std::string_view message,
             const std::map<std::string, std::string>& annotations = {});

  core::EventLoop& loop_;
  EvictionManagerOptions opts_;
  EvictionManagerDeps deps_;
  core::TimerPtr timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool syncing_ = false;

  // The kubelet's managerImpl state.
  std::vector<NodeCondition> conditions_;
  ConditionsObservedAt conditionsLastObservedAt_;
  ThresholdsObservedAt thresholdsFirstObservedAt_;
  std::vector<Threshold> thresholdsMet_;
  std::map<Signal, SignalObservation> lastObservations_;
  // The observations of the cycle in progress (ranking uses them after a reclaim).
  Observations current_;

  // Pods evicted and not yet cleaned up, and when to stop waiting for them.
  std::vector<std::string> cleanupUids_;
  core::MonoTime cleanupDeadline_{};
};

}  // namespace agent::eviction

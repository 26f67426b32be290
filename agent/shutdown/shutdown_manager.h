// Graceful node shutdown, as the kubelet's nodeshutdown manager does it on Linux:
// with shutdownGracePeriod set, the agent holds a logind "delay" inhibitor lock;
// on PrepareForShutdown(true) it marks the node shutting down (Ready=False
// "node is shutting down", new pods rejected with reason NodeShutdown), kills the
// pods one priority group at a time (regular pods first within
// shutdownGracePeriod - shutdownGracePeriodCriticalPods, then pods of priority
// >= 2000000000 within shutdownGracePeriodCriticalPods), each reported Failed with
// reason "Terminated", and then releases the lock so the machine powers off. On
// PrepareForShutdown(false) (the shutdown was cancelled) it takes the lock again.
//
// Everything runs on the event loop. The pod list, the killing and the node
// status sync are callbacks the agent wires to its pod workers and node status.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/api/pod_status.h"
#include "agent/shutdown/logind_inhibitor.h"
#include "core/event_loop.h"

namespace agent::shutdown {

// The kubelet's texts (nodeshutdown_manager_linux.go, nodestatus setters).
inline constexpr char kNodeShutdownReason[] = "Terminated";
inline constexpr char kNodeShutdownMessage[] =
    "Pod was terminated in response to imminent node shutdown.";
inline constexpr char kNodeShutdownNotAdmittedReason[] = "NodeShutdown";
inline constexpr char kNodeShutdownNotAdmittedMessage[] =
    "Pod was rejected as the node is shutting down.";
// ShutdownStatus()'s error: the Ready condition's message while shutting down
// (reason KubeletNotReady, as for every NotReady cause).
inline constexpr char kNodeShuttingDownError[] = "node is shutting down";
// The DisruptionTarget pod condition (PodDisruptionConditions, GA in 1.31).
inline constexpr char kDisruptionTarget[] = "DisruptionTarget";
inline constexpr char kTerminationByKubelet[] = "TerminationByKubelet";
// The events on the Node (reason "Shutdown", type Normal).
inline constexpr char kShutdownDetectedEvent[] = "Shutdown manager detected shutdown event";
inline constexpr char kShutdownCancelledEvent[] = "Shutdown manager detected shutdown cancellation";

// scheduling.DefaultPriorityWhenNoDefaultClassExists and SystemCriticalPriority.
inline constexpr int32_t kDefaultPriority = 0;
inline constexpr int32_t kSystemCriticalPriority = 2000000000;

// One kubeletconfig.ShutdownGracePeriodByPodPriority entry.
struct ShutdownGroup {
  int32_t priority = 0;
  int64_t gracePeriodSeconds = 0;
  bool operator==(const ShutdownGroup&) const = default;
};

// The kubelet's migrateConfig: shutdownGracePeriod and
// shutdownGracePeriodCriticalPods as two priority groups (default, critical),
// lowest priority first. Empty (graceful shutdown off) when shutdownGracePeriod is
// 0 or smaller than the critical pods' share.
std::vector<ShutdownGroup> groupsFromConfig(core::Duration shutdownGracePeriod,
                                            core::Duration shutdownGracePeriodCriticalPods);

// The time logind must allow: the sum of the groups' periods.
core::Duration periodRequested(const std::vector<ShutdownGroup>& groups);

using PodPtr = std::shared_ptr<const api::Pod>;

struct PodGroup {
  ShutdownGroup group;
  std::vector<PodPtr> pods;
};

// The kubelet's groupByPriority: each pod goes to the group with the highest
// priority not above its own (spec.priority, unset = 0); pods below the lowest
// group go to the lowest, pods above the highest to the highest. `groups` must be
// sorted by priority.
std::vector<PodGroup> groupByPriority(const std::vector<ShutdownGroup>& groups,
                                      const std::vector<PodPtr>& pods);

// The grace period a pod gets in `group`: the group's, or the pod's own
// terminationGracePeriodSeconds when that is not longer.
int64_t podGracePeriodSeconds(const api::Pod& pod, const ShutdownGroup& group);

// What a pod killed for the shutdown reports: phase Failed, reason Terminated,
// the message, and the DisruptionTarget condition stamped `now` (RFC 3339).
void applyShutdownStatus(api::PodStatus& status, const std::string& now);

struct ShutdownManagerOptions {
  core::Duration shutdownGracePeriod{0};
  core::Duration shutdownGracePeriodCriticalPods{0};
};

struct ShutdownCallbacks {
  // The pods to stop (the kubelet's active pods: admitted, not terminal).
  std::function<std::vector<PodPtr>()> activePods;
  // Stops `pod` with `gracePeriodSeconds`, makes its final status go through
  // `statusFn` (phase, reason, message, conditions) and calls `done` once its
  // containers are stopped (or stopping failed). May call `done` at once.
  using StatusFn = std::function<void(api::PodStatus&)>;
  std::function<void(const PodPtr& pod, int64_t gracePeriodSeconds, StatusFn statusFn,
                     std::function<void(absl::Status)> done)>
      killPod;
  // Recomputes and sends the node status now (Ready turns False).
  std::function<void()> syncNodeStatus;
  // A Normal event on the Node: reason, message.
  std::function<void(const std::string& reason, const std::string& message)> nodeEvent;
};

class ShutdownManager {
 public:
  // Opens the connection to logind; called only when graceful shutdown is
  // configured, so with shutdownGracePeriod 0 the agent never touches the bus.
  using InhibitorFactory = std::function<absl::StatusOr<InhibitorPtr>()>;

  ShutdownManager(core::EventLoop& loop, ShutdownManagerOptions options,
                  ShutdownCallbacks callbacks, InhibitorFactory connect);
  ~ShutdownManager();
  ShutdownManager(const ShutdownManager&) = delete;
  ShutdownManager& operator=(const ShutdownManager&) = delete;

  bool enabled() const { return !groups_.empty(); }
  // Checks logind's InhibitDelayMaxSec (raising it with a drop-in and a reload
  // when it is too small), takes the inhibitor lock and subscribes to
  // PrepareForShutdown. `done` gets the outcome on the loop (OK at once, without
  // touching the bus, when disabled). On failure nothing is held; the kubelet
  // logs it and runs on without graceful shutdown.
  void start(std::function<void(absl::Status)> done);

  // The kubelet's ShutdownStatus: "node is shutting down" while it is; OK otherwise.
  absl::Status shutdownStatus() const;
  bool shuttingDown() const { return shuttingDown_; }
  // The shutdown admit handler: a rejection reason and message while shutting down.
  struct Rejection {
    std::string reason;
    std::string message;
  };
  std::optional<Rejection> admit() const;

  // For tests and logs.
  bool lockHeld() const { return lock_.held(); }
  bool processing() const { return processing_; }
  const std::vector<ShutdownGroup>& groups() const { return groups_; }

 private:
  void checkInhibitDelay(std::function<void(absl::Status)> done);
  void acquireLock(std::function<void(absl::Status)> done);
  void onPrepareForShutdown(bool active);
  void handleEvent(bool active);
  void processShutdown();
  void runGroup(size_t index);
  void groupFinished(uint64_t generation);
  void finishShutdown();

  core::EventLoop& loop_;
  ShutdownManagerOptions options_;
  ShutdownCallbacks callbacks_;
  InhibitorFactory connect_;
  std::vector<ShutdownGroup> groups_;
  InhibitorPtr inhibitor_;
  InhibitLock lock_;
  bool shuttingDown_ = false;

  // The shutdown in progress: events that arrive meanwhile wait for it, as the
  // kubelet's single watch goroutine handles one event at a time.
  bool processing_ = false;
  std::deque<bool> queued_;
  std::vector<PodGroup> podGroups_;
  size_t groupIndex_ = 0;
  size_t outstanding_ = 0;
  uint64_t generation_ = 0;  // which group the kill callbacks belong to
  core::TimerPtr groupTimer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::shutdown

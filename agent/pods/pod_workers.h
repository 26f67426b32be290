// Pod workers: one small state machine per pod, all on the event loop. A worker
// decides (computePodActions plus restart and image-pull backoff) on the loop,
// hands the blocking CRI work to the worker pool as one job, and takes the
// pod's fresh runtime state back from it. At most one job per pod is in flight;
// triggers that arrive meanwhile collapse into one more sync afterwards (the
// kubelet keeps only the latest pending update, too).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/api/pod.h"
#include "agent/runtime/runtime_manager.h"
#include "core/backoff.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"

namespace agent::pods {

struct WorkerSettings {
  core::Duration crashLoopBackOffBase = std::chrono::seconds(10);
  core::Duration crashLoopBackOffMax = std::chrono::seconds(300);
  core::Duration errorRetry = std::chrono::seconds(10);  // after a failed sync
  core::Duration resync = std::chrono::seconds(60);      // syncFrequency
};

// What status computation and the HTTP endpoints read about a pod.
struct PodView {
  std::shared_ptr<const api::Pod> pod;  // null for a pod being removed
  const runtime::PodRuntimeStatus* runtime = nullptr;
  const std::map<std::string, runtime::WaitingReason>* waiting = nullptr;
  std::string sandboxError;
  std::string resizeError;  // the last in-place resize's error, empty when none
  core::WallTime firstSeen;
  // The pod is being stopped for good (deleted, past its activeDeadlineSeconds,
  // or terminal in the API): its containers are not restarted.
  bool terminating = false;
  // Every container and the sandbox have stopped since termination was requested.
  bool terminated = false;
  // Set when the agent itself ended the pod: the pod's status reason and message.
  std::string terminalReason;
  std::string terminalMessage;
};

class PodWorkers {
 public:
  PodWorkers(core::EventLoop& loop, core::WorkerPool& pool, runtime::RuntimeManager& runtime,
             WorkerSettings settings);
  ~PodWorkers();

  // The complete desired set from the sources: new pods start, changed ones
  // sync, missing ones are stopped and removed.
  void setDesiredPods(const std::vector<std::shared_ptr<const api::Pod>>& pods);
  // Starts the PLEG: a relist every `period`. Pods sync only after the first
  // relist, so that an agent restart never starts a second sandbox.
  void start(core::Duration relistPeriod);

  void forEachPod(const std::function<void(const PodView&)>& fn) const;
  // The desired spec of a pod, or null when it is unknown or being removed.
  std::shared_ptr<const api::Pod> pod(const std::string& uid) const;
  // Until every source has listed its pods once, a pod found in the runtime that
  // no source wants may still be wanted: it is left alone. On by default.
  void setSourcesReady(bool ready);
  // Where the pods' events go (the kubelet's reasons); `container` is empty for
  // an event about the whole pod.
  using EventSink = std::function<void(const api::Pod& pod, const std::string& container,
                                       const runtime::ContainerEvent& event)>;
  void setEventSink(EventSink sink) { events_ = std::move(sink); }
  // Syncs the pod again now (e.g. a ConfigMap it waits for appeared).
  void resync(const std::string& uid);
  // The agent ends a pod for good (eviction, node shutdown): its containers are
  // killed within `gracePeriodSeconds` (at most the pod's own), and the pod is
  // reported Failed with `reason` and `message`. False for an unknown pod or one
  // already terminating for another reason.
  bool terminate(const std::string& uid, std::string reason, std::string message,
                 int64_t gracePeriodSeconds);
  // Where a sync gets the API objects its containers' environment and image
  // pulls need; without one, pods get none (standalone mode).
  void setEnvSourcesProvider(std::function<runtime::EnvSourcesPtr(const api::Pod&)> f) {
    envSources_ = std::move(f);
  }
  // Which running containers failed a liveness or startup probe (to be killed
  // and restarted); without one, no container is killed for its health.
  void setProbeVerdict(runtime::ProbeVerdict verdict) { verdict_ = std::move(verdict); }
  // Whether a sidecar's startup probe succeeded (the next init container waits for it).
  void setStartupCheck(runtime::StartupCheck started) { startup_ = std::move(started); }
  // Called on the loop after a pod's state may have changed (for status writers).
  void setOnPodChanged(std::function<void(const std::string& uid)> cb) {
    onChanged_ = std::move(cb);
  }
  // The pod's set-up volumes, or null while they are not ready: no sandbox is
  // created and no container started until they are (the kubelet's
  // WaitForAttachAndMount). Without one, pods get no volume mounts.
  void setVolumes(std::function<::volumes::PodMountsPtr(const std::string& uid)> f) {
    volumes_ = std::move(f);
  }
  // Gates pods without hostNetwork on the runtime's network, as the kubelet's syncPod
  // does: while it is not ready such a pod gets no sandbox and no container start
  // (running containers are left alone) and a NetworkNotReady Warning event once per
  // distinct error. After requireNetworkStatus() they wait silently until the first
  // setNetworkStatus(); "" there means ready, and the waiting pods sync at once.
  void requireNetworkStatus() { networkGated_ = true; }
  void setNetworkStatus(std::string error);
  // Called when the worker of a pod is dropped: no source wants it and the
  // runtime holds nothing of it any more (its volumes may go now).
  void setOnPodRemoved(std::function<void(const std::string& uid)> cb) {
    onRemoved_ = std::move(cb);
  }
  // Called once when a terminating pod has stopped everything (the status
  // manager then reports the final status and deletes a deleted pod).
  void setOnPodTerminated(std::function<void(const std::string& uid)> cb) {
    onTerminated_ = std::move(cb);
  }
  // Called once after the first relist: every pod in the runtime has a worker now.
  void setOnFirstRelist(std::function<void()> cb) { onFirstRelist_ = std::move(cb); }
  bool relisted() const { return runtimeSeen_; }
  // Timings for the kubelet's metrics, called on the loop: each successful relist
  // (how long it took; the time since the previous one started) and each pod sync
  // ("create" for a pod's first, "sync" after; how long the runtime work took).
  struct Timings {
    std::function<void(core::Duration took, core::Duration interval)> relist;
    std::function<void(const char* operation, core::Duration took)> sync;
  };
  void setTimings(Timings t) { timings_ = std::move(t); }
  // When the last relist finished (for /healthz's syncloop check).
  core::MonoTime lastRelist() const { return lastRelist_; }
  size_t podCount() const { return pods_.size(); }

 private:
  struct Worker;
  void sync(Worker& w);
  void dispatchSync(Worker& w, runtime::PodActions actions,
                    std::vector<runtime::ContainerStart> starts, ::volumes::PodMountsPtr mounts);
  // Stops the pod's containers and sandboxes; `remove` also removes them.
  void dispatchKill(Worker& w, bool remove);
  void onSyncDone(const std::string& uid, runtime::SyncResult result, core::MonoTime at);
  void onKillDone(const std::string& uid, absl::Status status,
                  std::optional<runtime::PodRuntimeStatus> fresh, core::MonoTime at);
  void finishJob(Worker& w);
  void relist();
  void onRelist(absl::StatusOr<std::vector<runtime::RuntimeManager::RelistedPod>> result,
                core::MonoTime startedAt);
  // Backoff gate for one container start; false (with a waiting reason and a
  // retry timer) while the container is in CrashLoopBackOff or ImagePullBackOff.
  bool admitStart(Worker& w, const api::Container& c);
  void scheduleRetry(Worker& w, core::Duration after);
  // Arms the activeDeadlineSeconds timer, or ends the pod when it is past it.
  void checkActiveDeadline(Worker& w);
  bool isTerminating(const Worker& w) const;
  void syncTerminating(Worker& w);
  core::MonoTime toMono(int64_t wallNs) const;
  Worker& workerFor(const std::string& uid);

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  runtime::RuntimeManager& runtime_;
  WorkerSettings settings_;
  core::Backoff crashBackoff_;
  core::Backoff imageBackoff_;
  std::unordered_map<std::string, std::unique_ptr<Worker>> pods_;
  core::TimerPtr relistTimer_;
  core::Duration relistPeriod_{1000};
  bool relisting_ = false;
  bool runtimeSeen_ = false;
  bool sourcesReady_ = true;
  uint64_t relistCount_ = 0;
  core::MonoTime lastRelist_{};
  core::MonoTime lastRelistStart_{};
  Timings timings_;
  std::function<void(const std::string&)> onChanged_;
  std::function<void(const std::string&)> onTerminated_;
  std::function<runtime::EnvSourcesPtr(const api::Pod&)> envSources_;
  std::function<::volumes::PodMountsPtr(const std::string&)> volumes_;
  std::function<void(const std::string&)> onRemoved_;
  std::function<void()> onFirstRelist_;
  bool networkGated_ = false;  // requireNetworkStatus() was called
  bool networkKnown_ = false;  // setNetworkStatus() was called since
  std::string networkError_;   // "" = ready
  // False (and the pod's event recorded) while `w` may not start anything for lack of
  // a network.
  bool networkAllows(Worker& w);
  runtime::ProbeVerdict verdict_;
  runtime::StartupCheck startup_;
  EventSink events_;
  void emit(const api::Pod& pod, const std::string& container, bool warning, std::string reason,
            std::string message);
  // Jobs capture this token; once the workers are gone their results are dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::pods

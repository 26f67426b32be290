#include "agent/pods/pod_workers.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "core/log.h"

namespace agent::pods {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;
using runtime::PodRuntimeStatus;

struct PodWorkers::Worker {
  std::string uid;
  std::shared_ptr<const api::Pod> pod;  // desired spec; null once the pod is gone from sources
  PodRuntimeStatus runtime;
  std::string fingerprint;
  core::MonoTime runtimeAt{};
  bool working = false;
  bool pending = false;
  bool synced = false;  // a sync was dispatched before (metrics: "create" vs "sync")
  std::map<std::string, runtime::WaitingReason> waiting;
  std::map<std::string, core::MonoTime> imagePullFailedAt;  // image -> last failure
  std::string sandboxError;
  core::WallTime firstSeen;
  core::TimerPtr retry;
  core::MonoTime retryAt{};
  std::optional<int64_t> gracePeriodSeconds;  // from the last spec seen
  // The last spec seen, kept once the pod is gone from sources: which containers
  // are sidecars, so that they stop last.
  std::shared_ptr<const api::Pod> lastPod;
  bool terminated = false;     // onTerminated_ was called
  std::string terminalReason;  // the agent ended the pod (DeadlineExceeded)
  std::string terminalMessage;
  std::optional<int64_t> graceOverride;  // terminate(): at most this long
  core::TimerPtr deadline;               // activeDeadlineSeconds
  bool networkBlocked = false;           // waits for the runtime's network
  std::string networkEventMessage;       // the last NetworkNotReady event's message
  std::string resizeError;               // the last in-place resize's error
};

namespace {

std::string podDesc(const api::Pod& p) { return p.metadata.namespace_ + "/" + p.metadata.name; }

std::string backoffKey(const api::Pod& p, const api::Container& c) {
  return p.metadata.name + "_" + p.metadata.namespace_ + "_" + p.metadata.uid + "_" + c.name + "_" +
         runtime::containerHash(c);
}

bool sandboxReady(const PodRuntimeStatus& s) {
  return std::any_of(s.sandboxes.begin(), s.sandboxes.end(),
                     [](const auto& sb) { return sb.state == runtime::SandboxState::kReady; });
}

std::string formatDuration(core::Duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s >= 60) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

bool isTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

// RFC 3339 "2024-01-02T03:04:05Z" (fractions ignored) to wall time.
std::optional<core::WallTime> parseRfc3339(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return core::WallTime(std::chrono::seconds(timegm(&tm)));
}

constexpr char kDeadlineExceeded[] = "DeadlineExceeded";
// The kubelet's NetworkNotReadyErrorMsg and event reason (events.NetworkNotReady).
constexpr char kNetworkNotReadyErrorMsg[] = "network is not ready";
constexpr char kNetworkNotReady[] = "NetworkNotReady";

}  // namespace

PodWorkers::PodWorkers(core::EventLoop& loop, core::WorkerPool& pool,
                       runtime::RuntimeManager& runtime, WorkerSettings settings)
    : loop_(loop),
      pool_(pool),
      runtime_(runtime),
      settings_(settings),
      crashBackoff_(loop, settings.crashLoopBackOffBase, settings.crashLoopBackOffMax),
      imageBackoff_(loop, settings.crashLoopBackOffBase, settings.crashLoopBackOffMax) {}

PodWorkers::~PodWorkers() { *alive_ = false; }

PodWorkers::Worker& PodWorkers::workerFor(const std::string& uid) {
  auto& slot = pods_[uid];
  if (!slot) {
    slot = std::make_unique<Worker>();
    slot->uid = uid;
    slot->firstSeen = loop_.wallNow();
  }
  return *slot;
}

core::MonoTime PodWorkers::toMono(int64_t wallNs) const {
  auto wall = core::WallTime(
      std::chrono::duration_cast<core::WallTime::duration>(std::chrono::nanoseconds(wallNs)));
  return loop_.monotonicNow() -
         std::chrono::duration_cast<core::MonoTime::duration>(loop_.wallNow() - wall);
}

void PodWorkers::setDesiredPods(const std::vector<std::shared_ptr<const api::Pod>>& pods) {
  std::unordered_map<std::string, const std::shared_ptr<const api::Pod>*> want;
  for (const auto& p : pods) want[p->metadata.uid] = &p;
  for (auto& [uid, w] : pods_) {
    if (w->pod && !want.count(uid)) {
      LOG_INFO << "Pod " << podDesc(*w->pod) << " (" << uid
               << ") removed from sources; stopping it";
      w->lastPod = std::move(w->pod);
      w->pod.reset();
      sync(*w);
    }
  }
  for (const auto& [uid, p] : want) {
    Worker& w = workerFor(uid);
    if (w.pod == *p) continue;
    if (!w.pod) LOG_INFO << "Pod " << podDesc(**p) << " (" << uid << ") added";
    w.pod = *p;
    w.gracePeriodSeconds = w.pod->metadata.deletionGracePeriodSeconds
                               ? w.pod->metadata.deletionGracePeriodSeconds
                               : w.pod->spec.terminationGracePeriodSeconds;
    checkActiveDeadline(w);
    if (onChanged_) onChanged_(uid);
    // onChanged_ may not remove workers; `w` is still valid.
    sync(w);
  }
}

void PodWorkers::start(core::Duration relistPeriod) {
  relistPeriod_ = relistPeriod;
  relistTimer_ = loop_.createTimer([this] { relist(); });
  relist();
}

void PodWorkers::forEachPod(const std::function<void(const PodView&)>& fn) const {
  for (const auto& [uid, w] : pods_) {
    PodView v;
    v.pod = w->pod;
    v.runtime = &w->runtime;
    v.waiting = &w->waiting;
    v.sandboxError = w->sandboxError;
    v.resizeError = w->resizeError;
    v.firstSeen = w->firstSeen;
    v.terminating = w->pod && isTerminating(*w);
    v.terminated = w->terminated;
    v.terminalReason = w->terminalReason;
    v.terminalMessage = w->terminalMessage;
    fn(v);
  }
}

std::shared_ptr<const api::Pod> PodWorkers::pod(const std::string& uid) const {
  auto it = pods_.find(uid);
  return it == pods_.end() ? nullptr : it->second->pod;
}

void PodWorkers::emit(const api::Pod& pod, const std::string& container, bool warning,
                      std::string reason, std::string message) {
  if (events_) events_(pod, container, {warning, std::move(reason), std::move(message)});
}

void PodWorkers::setSourcesReady(bool ready) {
  bool was = sourcesReady_;
  sourcesReady_ = ready;
  if (!ready || was) return;
  std::vector<std::string> orphans;
  for (const auto& [uid, w] : pods_) {
    if (!w->pod) orphans.push_back(uid);
  }
  for (const auto& uid : orphans) resync(uid);
}

void PodWorkers::resync(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it != pods_.end()) sync(*it->second);
}

bool PodWorkers::terminate(const std::string& uid, std::string reason, std::string message,
                           int64_t gracePeriodSeconds) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || !it->second->pod) return false;
  Worker& w = *it->second;
  if (!w.terminalReason.empty() || w.terminated) return false;
  LOG_INFO << "Pod " << podDesc(*w.pod) << " (" << uid << ") ended by the agent: " << reason << ": "
           << message;
  w.terminalReason = std::move(reason);
  w.terminalMessage = std::move(message);
  w.graceOverride = std::max<int64_t>(0, gracePeriodSeconds);
  if (w.deadline) w.deadline->disableTimer();
  if (onChanged_) onChanged_(uid);
  it = pods_.find(uid);
  if (it != pods_.end()) sync(*it->second);
  return true;
}

bool PodWorkers::isTerminating(const Worker& w) const {
  return w.pod->metadata.deletionTimestamp || isTerminalPhase(w.pod->statusPhase) ||
         !w.terminalReason.empty();
}

void PodWorkers::checkActiveDeadline(Worker& w) {
  if (!w.pod || !w.pod->spec.activeDeadlineSeconds || isTerminating(w)) {
    if (w.deadline) w.deadline->disableTimer();
    return;
  }
  // The deadline runs from the pod's startTime: the API's after an agent restart.
  core::WallTime start = w.firstSeen;
  if (auto api = parseRfc3339(w.pod->statusStartTime)) start = std::min(start, *api);
  core::WallTime end = start + std::chrono::seconds(*w.pod->spec.activeDeadlineSeconds);
  core::WallTime now = loop_.wallNow();
  if (now >= end) {
    LOG_INFO << "Pod " << podDesc(*w.pod) << " (" << w.uid
             << ") passed its activeDeadlineSeconds; stopping it";
    w.terminalReason = kDeadlineExceeded;
    w.terminalMessage = "Pod was active on the node longer than the specified deadline";
    if (w.deadline) w.deadline->disableTimer();
    return;
  }
  if (!w.deadline) {
    std::string uid = w.uid;
    w.deadline = loop_.createTimer([this, uid] {
      auto it = pods_.find(uid);
      if (it == pods_.end()) return;
      if (onChanged_) onChanged_(uid);
      it = pods_.find(uid);
      if (it != pods_.end()) sync(*it->second);
    });
  }
  w.deadline->enableTimer(std::chrono::duration_cast<core::Duration>(end - now) +
                          core::Duration(1));
}

void PodWorkers::syncTerminating(Worker& w) {
  if (w.runtime.hasRunningContainer() || sandboxReady(w.runtime)) {
    // killPod emits the Killing events (and FailedPreStopHook).
    dispatchKill(w, /*remove=*/false);
    return;
  }
  if (w.terminated) return;
  w.terminated = true;
  LOG_INFO << "Pod " << podDesc(*w.pod) << " (" << w.uid << ") terminated";
  if (onChanged_) onChanged_(w.uid);
  if (onTerminated_) onTerminated_(w.uid);
}

void PodWorkers::scheduleRetry(Worker& w, core::Duration after) {
  if (!w.retry) {
    std::string uid = w.uid;
    w.retry = loop_.createTimer([this, uid] {
      auto it = pods_.find(uid);
      if (it != pods_.end()) sync(*it->second);
    });
  }
  // Keep the earliest deadline when several reasons ask for a retry.
  after = std::max(after, core::Duration(1));
  core::MonoTime at = loop_.monotonicNow() + after;
  if (w.retry->enabled() && w.retryAt <= at) return;
  w.retryAt = at;
  w.retry->enableTimer(after);
}

bool PodWorkers::admitStart(Worker& w, const api::Container& c) {
  const api::Pod& pod = *w.pod;
  auto imgFail = w.imagePullFailedAt.find(c.image);
  if (imgFail != w.imagePullFailedAt.end()) {
    std::string key = pod.metadata.uid + "_" + c.image;
    if (imageBackoff_.isInBackOffSince(key, imgFail->second)) {
      core::Duration left = imageBackoff_.get(key) - std::chrono::duration_cast<core::Duration>(
                                                         loop_.monotonicNow() - imgFail->second);
      emit(pod, c.name, false, "BackOff", "Back-off pulling image \"" + c.image + "\"");
      w.waiting[c.name] = {runtime::kImagePullBackOff,
                           "Back-off pulling image \"" + c.image + "\""};
      scheduleRetry(w, left);
      return false;
    }
  }
  // Restarts of a container that ran before wait out the crash-loop backoff,
  // measured from when its last instance finished.
  const ContainerRuntimeStatus* last = nullptr;
  for (const auto* s : w.runtime.containersNamed(c.name)) {
    if (s->state == ContainerState::kExited) {
      last = s;
      break;
    }
  }
  if (!last) return true;
  std::string key = backoffKey(pod, c);
  core::MonoTime finished = toMono(last->finishedAtNs);
  if (crashBackoff_.isInBackOffSince(key, finished)) {
    core::Duration backoff = crashBackoff_.get(key);
    core::Duration left =
        backoff - std::chrono::duration_cast<core::Duration>(loop_.monotonicNow() - finished);
    emit(pod, c.name, true, "BackOff",
         "Back-off restarting failed container " + c.name + " in pod " + pod.metadata.name + "_" +
             pod.metadata.namespace_ + "(" + pod.metadata.uid + ")");
    w.waiting[c.name] = {runtime::kCrashLoopBackOff,
                         "back-off " + formatDuration(backoff) + " restarting failed container=" +
                             c.name + " pod=" + pod.metadata.name + "_" + pod.metadata.namespace_ +
                             "(" + pod.metadata.uid + ")"};
    scheduleRetry(w, left);
    return false;
  }
  crashBackoff_.next(key, finished);
  return true;
}

void PodWorkers::sync(Worker& w) {
  if (w.working) {
    w.pending = true;
    return;
  }
  if (!runtimeSeen_) return;  // the first relist will sync every pod
  if (!w.pod) {
    if (!sourcesReady_) return;
    if (w.runtime.sandboxes.empty() && w.runtime.containers.empty()) {
      std::string uid = w.uid;
      pods_.erase(uid);
      if (onChanged_) onChanged_(uid);
      if (onRemoved_) onRemoved_(uid);
      return;
    }
    dispatchKill(w, /*remove=*/true);
    return;
  }
  checkActiveDeadline(w);
  if (isTerminating(w)) {
    syncTerminating(w);
    return;
  }
  const api::Pod& pod = *w.pod;
  runtime::PodActions actions = runtime::computePodActions(pod, w.runtime, verdict_, startup_);
  // A finished pod (nothing to keep, nothing to restart) whose sandbox is already
  // down needs no further calls.
  if (actions.killPod && !actions.createSandbox && !sandboxReady(w.runtime) &&
      !w.runtime.hasRunningContainer()) {
    return;
  }
  std::vector<runtime::ContainerStart> starts;
  auto waitingBefore = w.waiting;
  // Init containers in spec order (sidecars being restarted, the next of the
  // sequence); each one in backoff is left for a later sync.
  for (size_t i : actions.initContainersToStart) {
    if (admitStart(w, pod.spec.initContainers[i])) starts.push_back({i, true});
  }
  for (size_t i : actions.containersToStart) {
    if (admitStart(w, pod.spec.containers[i])) starts.push_back({i, false});
  }
  for (size_t i : actions.ephemeralContainersToStart) {
    if (admitStart(w, pod.spec.ephemeralContainers[i])) starts.push_back({i, false, true});
  }
  if ((actions.createSandbox || !starts.empty()) && !networkAllows(w)) {
    // The runtime's network is not ready: setNetworkStatus resyncs the pod.
    actions.createSandbox = false;
    actions.initContainersToStart.clear();
    actions.containersToStart.clear();
    starts.clear();
  }
  ::volumes::PodMountsPtr mounts;
  if (volumes_ && (actions.createSandbox || !starts.empty())) {
    mounts = volumes_(w.uid);
    if (!mounts) {
      // Volumes not set up yet: the volume manager resyncs the pod when they are.
      VLOG(3) << "pod " << podDesc(pod) << ": waiting for volumes";
      actions.createSandbox = false;
      actions.initContainersToStart.clear();
      actions.containersToStart.clear();
      starts.clear();
    }
  }
  if (!actions.killPod && !actions.createSandbox && actions.containersToKill.empty() &&
      starts.empty() && actions.resize.empty()) {
    // Entering a backoff changes what the status says even though nothing runs.
    if (w.waiting != waitingBefore && onChanged_) onChanged_(w.uid);
    return;
  }
  dispatchSync(w, std::move(actions), std::move(starts), std::move(mounts));
}

bool PodWorkers::networkAllows(Worker& w) {
  w.networkBlocked = false;
  if (!networkGated_ || w.pod->spec.hostNetwork) return true;
  if (networkKnown_ && networkError_.empty()) {
    w.networkEventMessage.clear();
    return true;
  }
  w.networkBlocked = true;
  if (!networkKnown_) return false;  // the first Status answer is on its way
  std::string message = std::string(kNetworkNotReadyErrorMsg) + ": " + networkError_;
  if (w.networkEventMessage != message) {
    w.networkEventMessage = message;
    VLOG(2) << "pod " << podDesc(*w.pod) << ": " << message;
    emit(*w.pod, "", true, kNetworkNotReady, message);
  }
  return false;
}

void PodWorkers::setNetworkStatus(std::string error) {
  bool wasReady = networkKnown_ && networkError_.empty();
  networkKnown_ = true;
  networkError_ = std::move(error);
  bool ready = networkError_.empty();
  if (ready && wasReady) return;
  // Waiting pods start now; with a new error they get its event.
  std::vector<std::string> blocked;
  for (const auto& [uid, w] : pods_) {
    if (w->networkBlocked) blocked.push_back(uid);
  }
  for (const auto& uid : blocked) resync(uid);
}

void PodWorkers::dispatchSync(Worker& w, runtime::PodActions actions,
                              std::vector<runtime::ContainerStart> starts,
                              ::volumes::PodMountsPtr mounts) {
  w.working = true;
  w.pending = false;
  auto req = std::make_shared<runtime::SyncRequest>();
  req->pod = w.pod;
  req->actions = std::move(actions);
  req->status = w.runtime;
  req->starts = std::move(starts);
  if (envSources_) req->envSources = envSources_(*w.pod);
  req->mounts = std::move(mounts);
  std::string uid = w.uid;
  auto alive = alive_;
  // Jobs reach the loop and the runtime manager (which outlive the workers)
  // through references of their own: the workers may be gone when a job runs.
  const char* operation = w.synced ? "sync" : "create";
  w.synced = true;
  pool_.submit([this, &loop = loop_, &rt = runtime_, req, uid, alive, operation] {
    core::MonoTime began = loop.monotonicNow();
    runtime::SyncResult res = rt.syncPod(*req);
    core::MonoTime at = loop.monotonicNow();
    loop.post([this, uid, alive, res = std::move(res), at, began, operation]() mutable {
      if (!*alive) return;
      if (timings_.sync) {
        timings_.sync(operation, std::chrono::duration_cast<core::Duration>(at - began));
      }
      onSyncDone(uid, std::move(res), at);
    });
  });
}

void PodWorkers::dispatchKill(Worker& w, bool remove) {
  w.working = true;
  w.pending = false;
  auto req = std::make_shared<runtime::KillRequest>();
  req->status = w.runtime;
  req->pod = w.pod;  // null for a pod only the runtime knows: hooks from annotations
  if (!w.pod) req->lastSpec = w.lastPod;
  req->remove = remove;
  req->reason = remove ? "pod removed" : "pod terminating";
  // The spec's grace period; for a pod found only in the runtime, the one its
  // containers were started with (the kubelet's annotation).
  int64_t grace = 30;
  if (w.gracePeriodSeconds) {
    grace = *w.gracePeriodSeconds;
  } else {
    for (const auto& c : w.runtime.containers) {
      if (c.gracePeriodSeconds) grace = *c.gracePeriodSeconds;
    }
    LOG_INFO << "Pod " << w.runtime.namespace_ << "/" << w.runtime.name << " (" << w.uid
             << ") is in the runtime but no source wants it; removing it";
  }
  if (w.graceOverride) grace = std::min(grace, *w.graceOverride);
  req->gracePeriodSeconds = grace;
  std::string uid = w.uid;
  auto alive = alive_;
  pool_.submit([this, &loop = loop_, &rt = runtime_, req, uid, alive] {
    runtime::KillResult k = rt.killPod(*req);
    auto fresh = rt.getPodStatus(uid);
    core::MonoTime at = loop.monotonicNow();
    std::optional<PodRuntimeStatus> f;
    if (fresh.ok()) f = std::move(*fresh);
    loop.post([this, uid, alive, req, k = std::move(k), f = std::move(f), at]() mutable {
      if (!*alive) return;
      // A pod without a spec is named by what the runtime's labels say.
      std::shared_ptr<const api::Pod> pod = req->pod;
      if (!pod && !k.events.empty()) {
        auto p = std::make_shared<api::Pod>();
        p->metadata.name = req->status.name;
        p->metadata.namespace_ = req->status.namespace_;
        p->metadata.uid = req->status.uid;
        pod = std::move(p);
      }
      for (const auto& e : k.events) {
        emit(*pod, e.container, e.event.warning, e.event.reason, e.event.message);
      }
      onKillDone(uid, k.status, std::move(f), at);
    });
  });
}

void PodWorkers::onSyncDone(const std::string& uid, runtime::SyncResult res, core::MonoTime at) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Worker& w = *it->second;
  if (res.fresh) {
    w.runtime = std::move(*res.fresh);
    w.fingerprint = runtime::RuntimeManager::fingerprint(w.runtime);
    w.runtimeAt = at;
  }
  w.sandboxError = res.sandboxError;
  bool failed = !res.sandboxError.empty() || !res.resizeError.empty();
  // A failed resize is retried on every sync; its event is sent when the error changes.
  if (res.resizeError != w.resizeError) {
    w.resizeError = res.resizeError;
    if (w.pod && !res.resizeError.empty()) {
      emit(*w.pod, "", true, runtime::kResizeError,
           runtime::podResizeErrorMessage(*w.pod, res.resizeError));
    }
  }
  for (const auto& warning : res.warnings) LOG_WARNING << "pod " << uid << ": " << warning;
  if (w.pod) {
    for (const auto& e : res.events) {
      emit(*w.pod, e.container, e.event.warning, e.event.reason, e.event.message);
    }
  }
  for (const auto& s : res.starts) {
    if (w.pod) {
      for (const auto& e : s.events) emit(*w.pod, s.name, e.warning, e.reason, e.message);
    }
    if (s.reason.empty()) {
      w.waiting.erase(s.name);
      w.imagePullFailedAt.erase(s.image);
      continue;
    }
    failed = true;
    w.waiting[s.name] = {s.reason, s.message};
    if (s.reason == runtime::kErrImagePull) {
      std::string key = uid + "_" + s.image;
      imageBackoff_.next(key, at);
      w.imagePullFailedAt[s.image] = at;
    }
  }
  // After a failure, try again soon; otherwise the periodic resync (the
  // kubelet's syncFrequency) is the safety net behind the PLEG's events.
  scheduleRetry(w, failed ? settings_.errorRetry : settings_.resync);
  finishJob(w);
}

void PodWorkers::onKillDone(const std::string& uid, absl::Status status,
                            std::optional<PodRuntimeStatus> fresh, core::MonoTime at) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Worker& w = *it->second;
  if (fresh) {
    w.runtime = std::move(*fresh);
    w.fingerprint = runtime::RuntimeManager::fingerprint(w.runtime);
    w.runtimeAt = at;
  }
  if (!status.ok()) {
    LOG_WARNING << "stopping pod " << uid << ": " << status.message();
    scheduleRetry(w, settings_.errorRetry);
  }
  finishJob(w);
}

void PodWorkers::finishJob(Worker& w) {
  w.working = false;
  std::string uid = w.uid;
  if (onChanged_) onChanged_(uid);
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Worker& again = *it->second;
  // A removed pod keeps going until the runtime has nothing left of it, a
  // terminating one until everything has stopped.
  if (again.pending || !again.pod || (isTerminating(again) && !again.terminated)) sync(again);
}

void PodWorkers::relist() {
  if (relisting_) return;
  relisting_ = true;
  auto known = std::make_shared<std::unordered_map<std::string, std::string>>();
  for (const auto& [uid, w] : pods_) known->emplace(uid, w->fingerprint);
  core::MonoTime startedAt = loop_.monotonicNow();
  auto alive = alive_;
  pool_.submit([this, &loop = loop_, &rt = runtime_, known, startedAt, alive] {
    auto res = rt.relist(*known);
    loop.post([this, res = std::move(res), startedAt, alive]() mutable {
      if (*alive) onRelist(std::move(res), startedAt);
    });
  });
}

void PodWorkers::onRelist(absl::StatusOr<std::vector<runtime::RuntimeManager::RelistedPod>> result,
                          core::MonoTime startedAt) {
  relisting_ = false;
  relistTimer_->enableTimer(relistPeriod_);
  if (!result.ok()) {
    LOG_WARNING << "PLEG relist failed (is the container runtime up?): "
                << result.status().message();
    return;
  }
  lastRelist_ = loop_.monotonicNow();
  if (timings_.relist) {
    core::Duration interval =
        lastRelistStart_ == core::MonoTime{}
            ? core::Duration(0)
            : std::chrono::duration_cast<core::Duration>(startedAt - lastRelistStart_);
    timings_.relist(std::chrono::duration_cast<core::Duration>(lastRelist_ - startedAt), interval);
  }
  lastRelistStart_ = startedAt;
  // Backoff entries of containers that stopped failing long ago are forgotten.
  if (++relistCount_ % 60 == 0) {
    crashBackoff_.gc();
    imageBackoff_.gc();
  }
  bool first = !runtimeSeen_;
  runtimeSeen_ = true;
  std::unordered_map<std::string, bool> present;
  std::vector<std::string> changed;
  for (auto& rp : *result) {
    present[rp.uid] = true;
    Worker& w = workerFor(rp.uid);
    if (!rp.status || w.runtimeAt > startedAt) continue;  // unchanged, or older than we know
    w.runtime = std::move(*rp.status);
    w.fingerprint = rp.fingerprint;
    w.runtimeAt = startedAt;
    changed.push_back(rp.uid);
  }
  // Pods whose every trace vanished from the runtime.
  for (auto& [uid, w] : pods_) {
    if (present.count(uid) || w->runtimeAt > startedAt) continue;
    if (!w->runtime.sandboxes.empty() || !w->runtime.containers.empty()) {
      w->runtime = PodRuntimeStatus{};
      w->runtime.uid = uid;
      w->fingerprint.clear();
      w->runtimeAt = startedAt;
      changed.push_back(uid);
    }
  }
  if (first) {
    std::vector<std::string> all;
    for (const auto& [uid, w] : pods_) all.push_back(uid);
    changed = std::move(all);
  }
  for (const auto& uid : changed) {
    auto it = pods_.find(uid);
    if (it == pods_.end()) continue;
    if (onChanged_) onChanged_(uid);
    it = pods_.find(uid);
    if (it != pods_.end()) sync(*it->second);
  }
  if (first && onFirstRelist_) onFirstRelist_();
}

}  // namespace agent::pods

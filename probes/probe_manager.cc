#include "probes/probe_manager.h"

#include <algorithm>
#include <utility>

#include "core/log.h"

namespace probes {

namespace {

constexpr int kKinds = 3;
constexpr ProbeKind kAllKinds[kKinds] = {ProbeKind::kStartup, ProbeKind::kLiveness,
                                         ProbeKind::kReadiness};

int slot(ProbeKind kind) { return static_cast<int>(kind); }

// The value a worker's results manager holds for an instance before any run
// crossed a threshold (the kubelet's worker.initialValue).
Result initialResult(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kLiveness:
      return Result::kSuccess;
    case ProbeKind::kReadiness:
      return Result::kFailure;
    case ProbeKind::kStartup:
      return Result::kUnknown;
  }
  return Result::kUnknown;
}

// The API server's defaults for values left at zero or made negative (static
// pods skip API validation): a zero period must not spin the loop.
ProbeSpec normalized(ProbeSpec s) {
  if (s.periodSeconds <= 0) s.periodSeconds = 10;
  if (s.timeoutSeconds <= 0) s.timeoutSeconds = 1;
  if (s.successThreshold <= 0) s.successThreshold = 1;
  if (s.failureThreshold <= 0) s.failureThreshold = 3;
  if (s.initialDelaySeconds < 0) s.initialDelaySeconds = 0;
  return s;
}

const std::optional<ProbeSpec>& specOf(const ContainerProbes& c, ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kLiveness:
      return c.liveness;
    case ProbeKind::kReadiness:
      return c.readiness;
    case ProbeKind::kStartup:
      break;
  }
  return c.startup;
}

}  // namespace

// One probe of one container: its timer, the check in flight, and the kubelet
// worker's run counting for the container's current instance.
struct ProbeManager::Worker {
  Worker(ProbeManager& m, ContainerEntry& c, ProbeKind k, ProbeSpec s, bool jitterFirst)
      : mgr(m),
        ctr(c),
        spec(std::move(s)),
        kind(k),
        latched(initialResult(k)),
        jitter(jitterFirst) {
    timer = mgr.loop_.createTimer([this] { tick(); });
  }

  // Whether this worker probes now (the kubelet worker's doProbe early returns).
  bool active() const;
  // A new container instance: back to the initial value, counting from zero.
  void reset() {
    pending.reset();
    timer->disableTimer();
    latched = initialResult(kind);
    lastRun = Result::kUnknown;
    run = 0;
    onHold = false;
    probed = false;
  }
  // Arms the timer when probing should go on, stops everything when it should not.
  void sync();
  void tick();
  void done(CheckResult result);

  ProbeManager& mgr;
  ContainerEntry& ctr;
  ProbeSpec spec;
  core::TimerPtr timer;
  PendingCheckPtr pending;
  core::MonoTime lastStart{};
  uint64_t successes = 0;  // prober_probe_total{result="successful"}
  uint64_t failures = 0;   // prober_probe_total{result="failed"}
  int32_t run = 0;         // how many runs in a row had lastRun's result
  ProbeKind kind;
  Result latched;
  Result lastRun = Result::kUnknown;
  bool onHold = false;  // a latched liveness/startup failure: wait for a new instance
  bool probed = false;  // a run started for the current instance
  bool jitter;          // the first run may wait the restart jitter
};

struct ProbeManager::ContainerEntry {
  explicit ContainerEntry(PodEntry& p) : pod(p) {}
  Worker* worker(ProbeKind kind) const { return workers[slot(kind)].get(); }
  // Without a startup probe a container counts as started at once.
  bool started() const {
    Worker* s = worker(ProbeKind::kStartup);
    return s == nullptr || s->latched == Result::kSuccess;
  }
  void syncWorkers() {
    for (auto& w : workers)
      if (w) w->sync();
  }

  PodEntry& pod;
  std::string name;
  std::string containerId;
  core::WallTime startedAt{};
  bool running = false;
  std::unique_ptr<Worker> workers[kKinds];
};

struct ProbeManager::PodEntry {
  std::string uid;
  std::string namespace_;
  std::string name;
  // unique_ptr: workers hold references to their container.
  std::vector<std::unique_ptr<ContainerEntry>> containers;
};

bool ProbeManager::Worker::active() const {
  if (!ctr.running || ctr.containerId.empty() || onHold) return false;
  // Startup stops once it succeeded for the instance; the others wait for it.
  if (kind == ProbeKind::kStartup) return latched != Result::kSuccess;
  return ctr.started();
}

void ProbeManager::Worker::sync() {
  if (!active()) {
    timer->disableTimer();
    pending.reset();
    return;
  }
  if (timer->enabled() || pending) return;
  timer->enableTimer(mgr.nextProbeDelay(*this));
}

void ProbeManager::Worker::tick() {
  if (!active()) return sync();
  const core::Duration period = std::chrono::seconds(spec.periodSeconds);
  timer->enableTimer(period);
  // The kubelet's worker probes synchronously and its ticker drops the ticks
  // that pass meanwhile: a slow check skips ticks rather than piling up.
  if (pending) {
    VLOG(3) << probeKindName(kind) << " probe of " << ctr.pod.name << "/" << ctr.name
            << " still running; tick skipped";
    return;
  }
  lastStart = mgr.loop_.monotonicNow();
  probed = true;
  pending =
      mgr.checker_.run(spec.action, ctr.containerId, std::chrono::seconds(spec.timeoutSeconds),
                       [this](CheckResult r) { done(std::move(r)); });
}

void ProbeManager::Worker::done(CheckResult result) {
  // The check is over. Its handle goes later, not inside its own callback.
  if (pending) mgr.loop_.post([p = std::shared_ptr<PendingCheck>(std::move(pending))] {});

  // Callbacks below may remove the pod (and this worker) or re-enter the manager:
  // everything they need is copied first and nothing of *this is used after them.
  ProbeManager& m = mgr;
  const std::string uid = ctr.pod.uid;
  const std::string container = ctr.name;
  const ProbeKind k = kind;
  const std::string kindName = probeKindName(kind);
  std::string reason;
  std::string message;
  Result runResult = Result::kSuccess;
  switch (result.outcome) {
    case Outcome::kError:
      // The kubelet throws such a result away: no run counted, no metric.
      reason = "Unhealthy";
      message = kindName + " probe errored and resulted in unknown state: " + result.output;
      break;
    case Outcome::kWarning:
      reason = "ProbeWarning";
      message = kindName + " probe warning: " + result.output;
      break;
    case Outcome::kFailure:
      reason = "Unhealthy";
      message = kindName + " probe failed: " + result.output;
      runResult = Result::kFailure;
      break;
    case Outcome::kSuccess:
      break;
  }

  bool changed = false;
  if (result.outcome != Outcome::kError) {
    (runResult == Result::kSuccess ? successes : failures)++;
    if (lastRun == runResult) {
      run++;
    } else {
      lastRun = runResult;
      run = 1;
    }
    const bool latch =
        runResult == Result::kFailure ? run >= spec.failureThreshold : run >= spec.successThreshold;
    if (latch) {
      changed = latched != runResult;
      latched = runResult;
      if (runResult == Result::kFailure && kind != ProbeKind::kReadiness) {
        // Killed and restarted by the agent; probing resumes with the next instance.
        onHold = true;
        run = 0;
        LOG_INFO << kindName << " probe of " << ctr.pod.namespace_ << "/" << ctr.pod.name << "/"
                 << container << " failed " << spec.failureThreshold
                 << " times; the container will be restarted";
      }
      // A startup success lets liveness and readiness start; a hold stops this one.
      if (changed || onHold) ctr.syncWorkers();
    }
  }
  VLOG(3) << kindName << " probe of " << ctr.pod.name << "/" << container << ": outcome "
          << static_cast<int>(result.outcome) << " run " << run << " latched "
          << static_cast<int>(latched);
  const Result latchedNow = latched;

  if (!reason.empty() && m.onEvent_) m.onEvent_(uid, container, true, reason, message);
  if (changed && m.onResult_) m.onResult_(uid, container, k, latchedNow);
}

ProbeManager::ProbeManager(core::EventLoop& loop, Checker& checker, Options options)
    : loop_(loop),
      checker_(checker),
      options_(options),
      createdAt_(loop.monotonicNow()),
      createdWall_(loop.wallNow()),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

ProbeManager::~ProbeManager() { pods_.clear(); }

core::Duration ProbeManager::nextProbeDelay(Worker& w) {
  const core::Duration period = std::chrono::seconds(w.spec.periodSeconds);
  core::Duration delay = std::chrono::ceil<core::Duration>(
      w.ctr.startedAt + std::chrono::seconds(w.spec.initialDelaySeconds) - loop_.wallNow());
  if (w.probed) {
    delay = std::max(
        delay, std::chrono::ceil<core::Duration>(w.lastStart + period - loop_.monotonicNow()));
  } else if (w.jitter) {
    w.jitter = false;
    // Containers that ran before the agent did: an agent restart must not probe
    // them all at once. New instances are probed promptly.
    if (w.ctr.startedAt < createdWall_) {
      std::uniform_real_distribution<double> fraction(0.0, 1.0);
      delay = std::max(delay, core::Duration(static_cast<int64_t>(
                                  fraction(rng_) * static_cast<double>(period.count()))));
    }
  }
  return std::max(delay, core::Duration::zero());
}

void ProbeManager::setPod(const PodProbes& view) {
  std::unique_ptr<PodEntry>& entry = pods_[view.uid];
  if (!entry) {
    entry = std::make_unique<PodEntry>();
    entry->uid = view.uid;
  }
  PodEntry& pod = *entry;
  if (pod.namespace_ != view.namespace_) pod.namespace_ = view.namespace_;
  if (pod.name != view.name) pod.name = view.name;

  std::erase_if(pod.containers, [&](const std::unique_ptr<ContainerEntry>& c) {
    return std::none_of(view.containers.begin(), view.containers.end(),
                        [&](const ContainerProbes& want) { return want.name == c->name; });
  });

  const bool jitterWindow = loop_.monotonicNow() - createdAt_ < options_.startupJitterWindow;
  for (const ContainerProbes& want : view.containers) {
    auto it = std::find_if(pod.containers.begin(), pod.containers.end(),
                           [&](const auto& c) { return c->name == want.name; });
    ContainerEntry* c = nullptr;
    if (it != pod.containers.end()) {
      c = it->get();
    } else {
      c = pod.containers.emplace_back(std::make_unique<ContainerEntry>(pod)).get();
      c->name = want.name;
    }
    const bool newInstance = c->containerId != want.containerId;
    const bool startedAtChanged = c->startedAt != want.startedAt;
    if (newInstance) c->containerId = want.containerId;
    c->running = want.running;
    c->startedAt = want.startedAt;

    for (ProbeKind kind : kAllKinds) {
      std::unique_ptr<Worker>& w = c->workers[slot(kind)];
      const std::optional<ProbeSpec>& spec = specOf(want, kind);
      if (!spec) {
        w.reset();
        continue;
      }
      ProbeSpec s = normalized(*spec);
      if (w && w->spec == s) {
        if (newInstance) {
          w->reset();
        } else if (startedAtChanged && !w->probed) {
          w->timer->disableTimer();  // recomputes the initial delay below
        }
        continue;
      }
      // Probes are immutable in the API; a changed one (a static pod edited in
      // place) starts over like the kubelet's new worker would.
      w = std::make_unique<Worker>(*this, *c, kind, std::move(s), jitterWindow);
    }
    c->syncWorkers();
  }
}

void ProbeManager::removePod(const std::string& uid) { pods_.erase(uid); }

ProbeManager::ContainerEntry* ProbeManager::findContainer(const std::string& uid,
                                                          const std::string& container,
                                                          const std::string& containerId) const {
  auto pod = pods_.find(uid);
  if (pod == pods_.end() || containerId.empty()) return nullptr;
  for (const auto& c : pod->second->containers) {
    if (c->name != container) continue;
    if (!c->running || c->containerId != containerId) return nullptr;
    return c.get();
  }
  return nullptr;
}

bool ProbeManager::started(const std::string& uid, const std::string& container,
                           const std::string& containerId) const {
  const ContainerEntry* c = findContainer(uid, container, containerId);
  return c != nullptr && c->started();
}

bool ProbeManager::ready(const std::string& uid, const std::string& container,
                         const std::string& containerId) const {
  const ContainerEntry* c = findContainer(uid, container, containerId);
  if (c == nullptr || !c->started()) return false;
  const Worker* r = c->worker(ProbeKind::kReadiness);
  return r == nullptr || r->latched == Result::kSuccess;
}

std::optional<ProbeKind> ProbeManager::failedProbe(const std::string& uid,
                                                   const std::string& container,
                                                   const std::string& containerId) const {
  const ContainerEntry* c = findContainer(uid, container, containerId);
  if (c == nullptr) return std::nullopt;
  // The kubelet's computePodActions looks at liveness first, then startup.
  for (ProbeKind kind : {ProbeKind::kLiveness, ProbeKind::kStartup}) {
    const Worker* w = c->worker(kind);
    if (w != nullptr && w->latched == Result::kFailure) return kind;
  }
  return std::nullopt;
}

void ProbeManager::forEachCounter(const std::function<void(const Counter&)>& fn) const {
  for (const auto& [uid, pod] : pods_) {
    for (const auto& c : pod->containers) {
      for (ProbeKind kind : kAllKinds) {
        const Worker* w = c->worker(kind);
        if (w == nullptr) continue;
        // Like the kubelet's counter vector, a series exists once it counted a run.
        for (auto [result, count] : {std::pair<const char*, uint64_t>{"successful", w->successes},
                                     std::pair<const char*, uint64_t>{"failed", w->failures}}) {
          if (count == 0) continue;
          fn(Counter{probeKindName(kind), result, c->name, pod->name, pod->namespace_, uid, count});
        }
      }
    }
  }
}

size_t ProbeManager::workerCount() const {
  size_t n = 0;
  for (const auto& [uid, pod] : pods_)
    for (const auto& c : pod->containers)
      for (const auto& w : c->workers) n += w != nullptr;
  return n;
}

}  // namespace probes

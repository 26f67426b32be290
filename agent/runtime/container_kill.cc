// RuntimeManager: stopping containers and pods the kubelet's way (killContainer,
// killPodWithSyncResult), with the lifecycle hooks that go with starting and
// stopping them.
#include <algorithm>
#include <chrono>
#include <thread>

#include "agent/runtime/hook_annotations.h"
#include "agent/runtime/runtime_manager.h"
#include "agent/runtime/sidecars.h"
#include "core/atomic_file.h"
#include "core/log.h"

namespace agent::runtime {
namespace {

// The kubelet's minimumGracePeriodInSeconds: a container always gets this long
// to stop before it is killed, whatever a hook took.
constexpr int64_t kMinimumGracePeriodSeconds = 2;

const api::Container* findSpec(const api::Pod& pod, const std::string& name) {
  for (const auto* list : {&pod.spec.containers, &pod.spec.initContainers}) {
    for (const auto& c : *list) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

std::string podIPOf(const PodRuntimeStatus& status, const ContainerRuntimeStatus& c) {
  for (const auto& sb : status.sandboxes) {
    if (sb.id == c.sandboxId) return sb.ip;
  }
  const SandboxRuntimeStatus* latest = status.latestSandbox();
  return latest ? latest->ip : "";
}

std::string podDesc(const api::Pod& pod) {
  return pod.metadata.namespace_ + "/" + pod.metadata.name;
}

}  // namespace

void RuntimeManager::runPostStartHook(const api::Pod& pod, const api::Container& c,
                                      const std::string& id, const std::string& podIP,
                                      ContainerStartResult* r) {
  if (!hooks_) {
    VLOG(1) << "no hook runner: skipping the postStart hook of " << c.name << " in "
            << podDesc(pod);
    return;
  }
  absl::Status s = hooks_->run(pod, c, id, podIP, *c.lifecycle->postStart, kPostStartHookTimeout);
  if (s.ok()) return;
  std::string message(s.message());
  LOG_WARNING << "postStart hook of " << c.name << " in " << podDesc(pod) << " failed: " << message;
  r->events.push_back({true, kFailedPostStartHook, message});
  ContainerRuntimeStatus started;
  started.id = id;
  started.name = c.name;
  int64_t grace =
      pod.metadata.deletionGracePeriodSeconds.value_or(pod.spec.terminationGracePeriodSeconds);
  if (absl::Status k = killContainer(pod, started, podIP, kFailedPostStartHook, grace, &r->events);
      !k.ok()) {
    LOG_WARNING << "kill container " << c.name << " (" << id
                << ") after its postStart hook failed: " << k.message();
  }
  // The container shows waiting PostStartHookError until it is started again.
  r->reason = kPostStartHookError;
  r->message = std::move(message);
}

absl::Status RuntimeManager::killContainer(const api::Pod& pod, const ContainerRuntimeStatus& c,
                                           const std::string& podIP, const std::string& message,
                                           int64_t gracePeriodSeconds,
                                           std::vector<ContainerEvent>* events,
                                           TerminationOrdering* ordering) {
  api::Container restored;
  const api::Container* spec = findSpec(pod, c.name);
  if (!spec) {
    restored = restoredContainerSpec(c);
    spec = &restored;
  }
  std::string why = message.empty() ? "Stopping container " + c.name : message;
  LOG_INFO << "Killing container " << c.name << " (" << c.id << ") of pod " << podDesc(pod) << ": "
           << why;
  events->push_back({false, "Killing", why});

  int64_t grace = gracePeriodSeconds;
  if (spec->lifecycle && spec->lifecycle->preStop && grace > 0) {
    if (!hooks_) {
      VLOG(1) << "no hook runner: skipping the preStop hook of " << c.name << " in "
              << podDesc(pod);
    } else {
      auto start = std::chrono::steady_clock::now();
      absl::Status s = hooks_->run(pod, *spec, c.id, podIP, *spec->lifecycle->preStop,
                                   std::chrono::seconds(grace));
      // Whole seconds, as the kubelet counts them.
      grace -=
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
              .count();
      if (absl::IsDeadlineExceeded(s)) {
        VLOG(2) << "preStop hook of " << c.name << " in " << podDesc(pod)
                << " did not complete within the grace period";
      } else if (!s.ok()) {
        LOG_WARNING << "preStop hook of " << c.name << " in " << podDesc(pod)
                    << " failed: " << s.message();
        events->push_back({true, kFailedPreStopHook, std::string(s.message())});
      }
    }
  }
  // A sidecar waits for the app containers and the sidecars after it to stop, for
  // at most what is left of its grace period.
  if (ordering && grace > 0) grace -= ordering->waitForTurn(c.name, grace);
  grace = std::max(grace, kMinimumGracePeriodSeconds);
  absl::Status s = runtime_.stopContainer(c.id, grace);
  if (ordering) ordering->containerTerminated(c.name);
  if (!s.ok() && !cri::isNotFound(s)) return s;
  return absl::OkStatus();
}

KillResult RuntimeManager::killPod(const KillRequest& req) {
  KillResult res;
  std::vector<const ContainerRuntimeStatus*> running;
  for (const auto& c : req.status.containers) {
    if (c.state == ContainerState::kRunning || c.state == ContainerState::kUnknown)
      running.push_back(&c);
  }
  // Without a spec, the pod's identity is what the runtime's labels say; hooks
  // come from the containers' annotations.
  api::Pod identity;
  if (!req.pod) {
    identity.metadata.name = req.status.name;
    identity.metadata.namespace_ = req.status.namespace_;
    identity.metadata.uid = req.status.uid;
  }
  const api::Pod& pod = req.pod ? *req.pod : identity;
  // Containers stop in parallel, each with the whole grace period (less what its
  // own preStop hook takes), as the kubelet does; the threads live only as long
  // as the hooks and stop calls. Sidecars stop last, in reverse order
  // (terminationOrdering; only with a spec, which says which they are).
  std::optional<TerminationOrdering> ordering;
  if (const api::Pod* spec = req.pod ? req.pod.get() : req.lastSpec.get()) {
    std::vector<std::string> names;
    for (const auto* c : running) names.push_back(c->name);
    ordering.emplace(*spec, names);
  }
  std::vector<absl::Status> results(running.size());
  std::vector<std::vector<ContainerEvent>> events(running.size());
  auto kill = [&](size_t i) {
    const ContainerRuntimeStatus& c = *running[i];
    results[i] = killContainer(pod, c, podIPOf(req.status, c), "", req.gracePeriodSeconds,
                               &events[i], ordering ? &*ordering : nullptr);
  };
  std::vector<std::thread> stoppers;
  for (size_t i = 1; i < running.size(); ++i) stoppers.emplace_back(kill, i);
  if (!running.empty()) kill(0);
  for (auto& t : stoppers) t.join();
  absl::Status first = absl::OkStatus();
  for (size_t i = 0; i < results.size(); ++i) {
    for (auto& e : events[i]) res.events.push_back({running[i]->name, std::move(e)});
    if (!results[i].ok()) {
      LOG_WARNING << "stop container " << running[i]->name << " (" << running[i]->id
                  << "): " << results[i].message();
      if (first.ok()) first = results[i];
    }
  }
  for (const auto& s : req.status.sandboxes) {
    if (absl::Status st = runtime_.stopPodSandbox(s.id); !st.ok() && !cri::isNotFound(st)) {
      LOG_WARNING << "stop sandbox " << s.id << ": " << st.message();
      if (first.ok()) first = st;
    }
  }
  if (!first.ok() || !req.remove) {
    res.status = first;
    return res;
  }

  for (const auto& c : req.status.containers) removeContainerAndLogs(c, req.status);
  for (const auto& s : req.status.sandboxes) {
    if (absl::Status st = runtime_.removePodSandbox(s.id); !st.ok() && !cri::isNotFound(st)) {
      LOG_WARNING << "remove sandbox " << s.id << ": " << st.message();
      if (first.ok()) first = st;
    }
  }
  if (first.ok() && !req.status.uid.empty()) {
    // The pod is gone for good: its logs go with it. Its directory holds its
    // volumes; the volume manager unmounts and removes it once the pod is gone.
    const PodRuntimeStatus& p = req.status;
    std::string logDir = opts_.podLogsDir + "/" + p.namespace_ + "_" + p.name + "_" + p.uid;
    if (absl::Status s = core::removeAll(logDir); !s.ok()) LOG_WARNING << s.message();
  }
  res.status = first;
  return res;
}

}  // namespace agent::runtime

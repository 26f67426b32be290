#include "agent/runtime/sidecars.h"

#include <algorithm>
#include <chrono>

#include "core/log.h"

namespace agent::runtime {

bool isSidecar(const api::Container& c) { return c.restartPolicy.value_or("") == "Always"; }

bool isSidecarName(const api::Pod& pod, const std::string& name) {
  for (const auto& c : pod.spec.initContainers) {
    if (c.name == name) return isSidecar(c);
  }
  return false;
}

bool computeInitContainerActions(const api::Pod& pod, const PodRuntimeStatus& status,
                                 const ProbeVerdict& verdict, const StartupCheck& started,
                                 PodActions* a) {
  const auto& inits = pod.spec.initContainers;
  if (inits.empty()) return true;

  // A created or running app container means the init containers all ran at some
  // point, even if the runtime no longer has them: only sidecars are kept running.
  bool podHasInitialized = false;
  for (const auto& c : pod.spec.containers) {
    const auto* s = status.findContainer(c.name);
    if (s && (s->state == ContainerState::kCreated || s->state == ContainerState::kRunning)) {
      podHasInitialized = true;
      break;
    }
  }
  bool previouslyInitialized = podHasInitialized;
  bool restartOnFailure = pod.spec.restartPolicy != "Never";
  std::vector<size_t> toStart;  // newest index first; reversed at the end
  auto kill = [&](const ContainerRuntimeStatus& s, std::string message,
                  std::optional<int64_t> grace = std::nullopt) {
    a->containersToKill.push_back({s.id, s.name, std::move(message), grace});
  };

  // Backwards: the newest init container that ran tells where the sequence is (older
  // ones may have been removed); the sidecars before it are kept running.
  for (size_t i = inits.size(); i-- > 0;) {
    const api::Container& c = inits[i];
    const bool sidecar = isSidecar(c);
    const ContainerRuntimeStatus* s = status.findContainer(c.name);
    if (!s) {
      // Its record is gone; a sidecar of an initialized sequence runs again.
      if (previouslyInitialized && sidecar) toStart.push_back(i);
      continue;
    }
    if (previouslyInitialized && !sidecar) continue;  // done long ago

    switch (s->state) {
      case ContainerState::kCreated:
        // Created and started are one step: it is stuck, start it again.
        toStart.push_back(i);
        break;
      case ContainerState::kRunning: {
        if (!sidecar) break;  // a regular init container: wait for it to finish
        if (c.startupProbe && !(started && started(pod, c, *s))) {
          std::optional<ProbeFailure> failed = verdict ? verdict(pod, c, *s) : std::nullopt;
          if (failed && failed->probe == "startup") {
            kill(*s, "Init container " + c.name + " failed startup probe",
                 failed->gracePeriodSeconds);
            toStart.push_back(i);
          }
          break;  // the next init container waits for the startup probe
        }
        if (i == inits.size() - 1) {
          podHasInitialized = true;
        } else if (!previouslyInitialized) {
          toStart.push_back(i + 1);  // initialized for the first time: the next one starts
        }
        if (s->hash != containerHash(c)) {
          kill(*s, "Init container " + c.name + " definition changed");
          toStart.push_back(i);
          break;
        }
        if (c.livenessProbe && verdict) {
          if (std::optional<ProbeFailure> failed = verdict(pod, c, *s);
              failed && failed->probe == "liveness") {
            kill(*s, "Init container " + c.name + " failed liveness probe",
                 failed->gracePeriodSeconds);
            toStart.push_back(i);
          }
        }
        break;
      }
      case ContainerState::kExited:
        if (sidecar) {
          toStart.push_back(i);  // whatever the pod's restart policy
          break;
        }
        if (isInitContainerFailed(*s)) {
          if (!restartOnFailure) {
            a->killPod = true;
            a->initContainersToStart.clear();
            return false;
          }
          toStart.push_back(i);
          break;
        }
        if (i == inits.size() - 1) {
          podHasInitialized = true;
        } else {
          toStart.push_back(i + 1);
        }
        break;
      case ContainerState::kUnknown:
        if (!sidecar && !restartOnFailure) {
          a->killPod = true;
          a->initContainersToStart.clear();
          return false;
        }
        kill(*s, "Init container is in \"unknown\" state, try killing it before restart");
        toStart.push_back(i);
        break;
    }
    previouslyInitialized = true;
  }
  if (!previouslyInitialized) toStart.push_back(0);  // nothing ran yet
  std::reverse(toStart.begin(), toStart.end());
  a->initContainersToStart = std::move(toStart);
  return podHasInitialized;
}

TerminationOrdering::TerminationOrdering(const api::Pod& pod,
                                         const std::vector<std::string>& runningNames)
    : running_(runningNames.begin(), runningNames.end()) {
  std::vector<std::string> apps;
  for (const auto& c : pod.spec.containers) apps.push_back(c.name);
  // Sidecars stop in reverse order: each waits for every app container and for the
  // sidecar after it.
  std::string later;
  for (size_t i = pod.spec.initContainers.size(); i-- > 0;) {
    const api::Container& c = pod.spec.initContainers[i];
    if (!isSidecar(c)) continue;
    std::vector<std::string>& pre = prereqs_[c.name];
    pre = apps;
    if (!later.empty()) pre.push_back(later);
    later = c.name;
  }
}

int64_t TerminationOrdering::waitForTurn(const std::string& name, int64_t gracePeriodSeconds) {
  if (gracePeriodSeconds <= 0) return 0;
  auto it = prereqs_.find(name);
  if (it == prereqs_.end()) return 0;
  const std::vector<std::string>& pre = it->second;
  auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, start + std::chrono::seconds(gracePeriodSeconds), [&] {
    return std::none_of(pre.begin(), pre.end(),
                        [&](const std::string& p) { return running_.count(p) > 0; });
  });
  // Whole seconds, as the kubelet truncates them.
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
      .count();
}

void TerminationOrdering::containerTerminated(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(name);
  }
  cv_.notify_all();
}

}  // namespace agent::runtime

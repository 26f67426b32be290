#include "agent/runtime/pod_actions.h"

#include "agent/cm/pod_resources.h"
#include "agent/runtime/sidecars.h"
#include "core/log.h"

namespace agent::runtime {
namespace {

bool shouldRestartOnFailure(const api::Pod& pod) { return pod.spec.restartPolicy != "Never"; }

bool containerSucceeded(const api::Container& c, const PodRuntimeStatus& status) {
  const auto* s = status.findContainer(c.name);
  return s && s->state == ContainerState::kExited && s->exitCode == 0;
}

// Whether the sandbox must be (re)created, and with which attempt number.
bool podSandboxChanged(const api::Pod& pod, const PodRuntimeStatus& status, uint32_t* attempt,
                       std::string* sandboxId) {
  *attempt = 0;
  if (status.sandboxes.empty()) return true;
  int ready = 0;
  for (const auto& s : status.sandboxes) {
    if (s.state == SandboxState::kReady) ++ready;
  }
  const SandboxRuntimeStatus& latest = status.sandboxes.front();
  *sandboxId = latest.id;
  *attempt = latest.attempt + 1;
  if (ready > 1) return true;  // more than one ready sandbox: start over with one
  if (latest.state != SandboxState::kReady) return true;
  if (latest.hostNetwork != pod.spec.hostNetwork) return true;
  if (!pod.spec.hostNetwork && latest.ip.empty()) return true;
  *attempt = latest.attempt;
  return false;
}

}  // namespace

std::string containerHash(const api::Container& c) { return c.specHash; }

bool isInitContainerFailed(const ContainerRuntimeStatus& s) {
  if (s.state == ContainerState::kExited && s.exitCode != 0) return true;
  return s.state == ContainerState::kUnknown;
}

bool shouldContainerBeRestarted(const api::Container& c, const api::Pod& pod,
                                const PodRuntimeStatus& status) {
  if (pod.metadata.deletionTimestamp) return false;
  const auto* s = status.findContainer(c.name);
  if (!s) return true;
  if (s->state == ContainerState::kRunning) return false;
  if (s->state == ContainerState::kUnknown || s->state == ContainerState::kCreated) return true;
  if (pod.spec.restartPolicy == "Never") return false;
  if (pod.spec.restartPolicy == "OnFailure" && s->exitCode == 0) return false;
  return true;
}

InitProgress findNextInitContainerToRun(const api::Pod& pod, const PodRuntimeStatus& status) {
  InitProgress p;
  const auto& inits = pod.spec.initContainers;
  if (inits.empty()) {
    p.done = true;
    return p;
  }
  // A running app container means initialization finished earlier.
  for (const auto& c : pod.spec.containers) {
    const auto* s = status.findContainer(c.name);
    if (s && s->state == ContainerState::kRunning) {
      p.done = true;
      return p;
    }
  }
  for (size_t i = inits.size(); i-- > 0;) {
    const auto* s = status.findContainer(inits[i].name);
    if (s && isInitContainerFailed(*s)) {
      p.lastFailed = s;
      p.next = i;
      return p;
    }
  }
  for (size_t i = inits.size(); i-- > 0;) {
    const auto* s = status.findContainer(inits[i].name);
    if (!s) continue;
    if (s->state == ContainerState::kRunning) return p;  // still running
    if (s->state == ContainerState::kExited) {
      if (i == inits.size() - 1) {
        p.done = true;
        return p;
      }
      p.next = i + 1;
      return p;
    }
  }
  p.next = 0;
  return p;
}

namespace {

PodActions computeContainerActions(const api::Pod& pod, const PodRuntimeStatus& status,
                                   const ProbeVerdict& verdict, const StartupCheck& started) {
  PodActions a;
  uint32_t attempt = 0;
  std::string sandboxId;
  bool createSandbox = podSandboxChanged(pod, status, &attempt, &sandboxId);
  a.killPod = createSandbox;
  a.createSandbox = createSandbox;
  a.sandboxId = sandboxId;
  a.attempt = attempt;

  if (createSandbox) {
    // The sandbox is gone but the pod must not restart: it is finished.
    if (!shouldRestartOnFailure(pod) && attempt != 0 && !status.containers.empty()) {
      a.createSandbox = false;
      return a;
    }
    for (size_t i = 0; i < pod.spec.containers.size(); ++i) {
      if (pod.spec.restartPolicy == "OnFailure" &&
          containerSucceeded(pod.spec.containers[i], status))
        continue;
      a.containersToStart.push_back(i);
    }
    if (a.containersToStart.empty()) {
      a.createSandbox = false;
      return a;
    }
    if (!pod.spec.initContainers.empty()) {
      a.containersToStart.clear();
      a.initContainersToStart = {0};
    }
    return a;
  }

  // Init containers (sidecars included): the next of the sequence, and the sidecars
  // kept running (sidecars.cc). Until initialized, app containers wait.
  bool initialized = computeInitContainerActions(pod, status, verdict, started, &a);
  if (a.killPod || !initialized) return a;

  // The API keeps a pod's QoS class through resizes; should a spec change it anyway,
  // its cgroups would no longer match: such a change is not applied.
  bool resizable = inPlaceResizeAllowed(pod);
  if (resizable && cm::qosClassOf(podAsRunning(pod, status)) != cm::qosClassOf(pod)) {
    VLOG(2) << "pod " << pod.metadata.namespace_ << "/" << pod.metadata.name
            << ": resources would change the QoS class; not resized";
    resizable = false;
  }
  size_t keep = 0;
  for (size_t i = 0; i < pod.spec.containers.size(); ++i) {
    const api::Container& c = pod.spec.containers[i];
    const auto* s = status.findContainer(c.name);
    if (!s || s->state != ContainerState::kRunning) {
      if (shouldContainerBeRestarted(c, pod, status)) {
        a.containersToStart.push_back(i);
        if (s && s->state == ContainerState::kUnknown) {
          a.containersToKill.push_back({s->id, c.name, "container in unknown state"});
        }
      }
      continue;
    }
    if (s->hash != containerHash(c)) {
      // A changed spec always restarts the container, whatever the restart policy.
      a.containersToStart.push_back(i);
      a.containersToKill.push_back(
          {s->id, c.name, "Container " + c.name + " definition changed, will be restarted"});
      continue;
    }
    if (std::optional<ProbeFailure> failed = verdict ? verdict(pod, c, *s) : std::nullopt) {
      // Killed in any case; started again unless the restart policy says Never.
      std::string message = "Container " + c.name + " failed " + failed->probe + " probe";
      if (shouldRestartOnFailure(pod)) {
        message += ", will be restarted";
        a.containersToStart.push_back(i);
      }
      a.containersToKill.push_back({s->id, c.name, message, failed->gracePeriodSeconds});
      continue;
    }
    if (resizable && computeContainerResize(pod, i, *s, &a.resize) == ResizeNeed::kRestart) {
      a.containersToStart.push_back(i);
      a.containersToKill.push_back({s->id, c.name, resizeRestartMessage(c.name)});
      continue;
    }
    ++keep;
  }
  if (keep == 0 && a.containersToStart.empty()) {
    a.killPod = true;
    // Sidecars do not keep a finished pod alive: they are stopped, not restarted.
    a.initContainersToStart.clear();
  }
  return a;
}

}  // namespace

PodActions computePodActions(const api::Pod& pod, const PodRuntimeStatus& status,
                             const ProbeVerdict& verdict, const StartupCheck& started) {
  PodActions a = computeContainerActions(pod, status, verdict, started);
  // Ephemeral containers start even before initialization is complete, each once (no
  // status yet): they are never restarted, and nothing above kills them for a spec
  // change. Not into a sandbox being replaced or a pod being stopped or deleted.
  if (a.killPod || a.createSandbox || pod.metadata.deletionTimestamp) return a;
  for (size_t i = 0; i < pod.spec.ephemeralContainers.size(); ++i) {
    if (!status.findContainer(pod.spec.ephemeralContainers[i].name)) {
      a.ephemeralContainersToStart.push_back(i);
    }
  }
  return a;
}

}  // namespace agent::runtime

#include "agent/status/pod_status_compute.h"

#include <algorithm>
#include <ctime>

#include "agent/runtime/pod_actions.h"
#include "agent/runtime/pod_resize.h"
#include "agent/runtime/sidecars.h"

namespace agent::status {
namespace {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;

constexpr char kContainerCreating[] = "ContainerCreating";
constexpr char kPodInitializing[] = "PodInitializing";

std::map<std::string, std::string> quantities(const std::map<std::string, api::Quantity>& l) {
  std::map<std::string, std::string> out;
  for (const auto& [k, q] : l) out[k] = q.str();
  return out;
}

// containerStatuses[].resources (and allocatedResources with the gate): what the
// container runs with, as the kubelet with InPlacePodVerticalScaling reports it.
void setResources(const StatusInput& in, const api::Container& spec,
                  const ContainerRuntimeStatus& cur, api::ContainerStatus& st) {
  api::ResourceRequirements r = runtime::statusResources(spec, cur);
  if (!r.limits.empty() || !r.requests.empty()) {
    st.resources = api::StatusResources{quantities(r.limits), quantities(r.requests)};
  }
  if (in.allocatedStatus) st.allocatedResources = quantities(spec.resources.requests);
}

api::ContainerState convertState(const ContainerRuntimeStatus& c) {
  api::ContainerState s;
  switch (c.state) {
    case ContainerState::kRunning:
      s.running = api::ContainerStateRunning{rfc3339FromNs(c.startedAtNs)};
      break;
    case ContainerState::kExited: {
      api::ContainerStateTerminated t;
      t.exitCode = c.exitCode;
      t.reason = c.reason.empty() ? (c.exitCode == 0 ? "Completed" : "Error") : c.reason;
      t.message = c.message;
      t.startedAt = c.startedAtNs ? rfc3339FromNs(c.startedAtNs) : "";
      t.finishedAt = c.finishedAtNs ? rfc3339FromNs(c.finishedAtNs) : "";
      t.containerID = "containerd://" + c.id;
      s.terminated = t;
      break;
    }
    case ContainerState::kCreated:
      s.waiting = api::ContainerStateWaiting{};
      break;
    case ContainerState::kUnknown:
      s.terminated = api::ContainerStateTerminated{
          137, 0,  "ContainerStatusUnknown", "The container could not be located",
          "",  "", "containerd://" + c.id};
      break;
  }
  return s;
}

// Whether a container that is not running is started again: sidecars are, whatever
// the pod's restart policy, until the pod is deleted.
bool willRestart(const StatusInput& in, const api::Container& spec, bool app) {
  if (!app && runtime::isSidecar(spec)) {
    const auto* s = in.runtime->findContainer(spec.name);
    return !in.pod->metadata.deletionTimestamp && !(s && s->state == ContainerState::kRunning);
  }
  return runtime::shouldContainerBeRestarted(spec, *in.pod, *in.runtime);
}

// `previous`: the same list (init or app) of the previous status, or null. `app`: the
// app containers (the ones resized in place, whose resources the status shows).
std::vector<api::ContainerStatus> containerStatuses(
    const StatusInput& in, const std::vector<api::Container>& specs, const char* defaultReason,
    const std::vector<api::ContainerStatus>* previous, bool app) {
  std::vector<api::ContainerStatus> out;
  for (const auto& spec : specs) {
    api::ContainerStatus st = {};  // value-initialized: GCC 12 -O2 sees its optional as unset
    st.name = spec.name;
    st.image = spec.image;
    st.state.waiting = api::ContainerStateWaiting{defaultReason, ""};
    st.started = false;
    auto instances = in.runtime->containersNamed(spec.name);
    if (instances.empty() && previous) {
      // A container the runtime no longer has (garbage-collected after its pod
      // ended) keeps its last terminated status; otherwise its restart count and
      // last termination carry over (the kubelet's convertToAPIContainerStatuses).
      for (const auto& old : *previous) {
        if (old.name != spec.name) continue;
        if (old.state.terminated) {
          st = old;
        } else {
          st.restartCount = old.restartCount;
          st.lastState = old.lastState;
        }
      }
    }
    if (!instances.empty()) {
      const ContainerRuntimeStatus& cur = *instances[0];
      st.state = convertState(cur);
      st.containerID = "containerd://" + cur.id;
      st.imageID = cur.imageRef;
      st.restartCount = cur.restartCount;
      bool running = cur.state == ContainerState::kRunning;
      ContainerHealth health;
      if (app || runtime::isSidecar(spec)) {
        // App containers and sidecars: started after the startup probe, ready by the
        // readiness probe (the kubelet's prober UpdatePodStatus).
        if (running && in.health) health = in.health(spec.name, cur.id);
        st.started = running && health.started;
        st.ready = running && health.started && health.ready;
      } else {
        // A regular init container has no probes: ready once it succeeded.
        st.started = running;
        st.ready = cur.state == ContainerState::kExited && cur.exitCode == 0;
      }
      if (instances.size() > 1) st.lastState = convertState(*instances[1]);
      if (app) setResources(in, spec, cur, st);
    }
    // A container that failed to (re)start shows why, with its last run as lastState.
    auto w = in.waiting->find(spec.name);
    if (w != in.waiting->end() && willRestart(in, spec, app)) {
      if (st.state.terminated) st.lastState = st.state;
      st.state = api::ContainerState{};
      st.state.waiting = api::ContainerStateWaiting{w->second.reason, w->second.message};
      st.ready = false;
    }
    out.push_back(std::move(st));
  }
  return out;
}

// spec.ephemeralContainers' statuses: like app containers' but never ready, without
// `started` (no probes run for them) or resources. One that failed to start (no
// instance yet) shows why: it is tried again; one that ran is never restarted.
std::vector<api::ContainerStatus> ephemeralContainerStatuses(const StatusInput& in,
                                                             const char* defaultReason) {
  std::vector<api::ContainerStatus> out;
  const std::vector<api::ContainerStatus>* previous =
      in.previous ? &in.previous->ephemeralContainerStatuses : nullptr;
  for (const auto& spec : in.pod->spec.ephemeralContainers) {
    api::ContainerStatus st = {};
    st.name = spec.name;
    st.image = spec.image;
    st.state.waiting = api::ContainerStateWaiting{defaultReason, ""};
    auto instances = in.runtime->containersNamed(spec.name);
    if (instances.empty()) {
      // Garbage-collected after it ran: its last status stays.
      for (size_t i = 0; previous && i < previous->size(); ++i) {
        const api::ContainerStatus& old = (*previous)[i];
        if (old.name == spec.name && old.state.terminated) st = old;
      }
      auto w = in.waiting->find(spec.name);
      if (w != in.waiting->end() && !st.state.terminated) {
        st.state.waiting = api::ContainerStateWaiting{w->second.reason, w->second.message};
      }
    } else {
      const ContainerRuntimeStatus& cur = *instances[0];
      st.state = convertState(cur);
      st.containerID = "containerd://" + cur.id;
      st.imageID = cur.imageRef;
      st.restartCount = cur.restartCount;
      if (instances.size() > 1) st.lastState = convertState(*instances[1]);
    }
    st.ready = false;
    st.started.reset();
    out.push_back(std::move(st));
  }
  return out;
}

const api::PodCondition* findCondition(const api::PodStatus* s, const std::string& type) {
  if (!s) return nullptr;
  for (const auto& c : s->conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string s = "[";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? " " : "") + names[i];
  return s + "]";
}

}  // namespace

std::string rfc3339(core::WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string rfc3339FromNs(int64_t ns) {
  if (ns <= 0) return "";
  return rfc3339(core::WallTime(
      std::chrono::duration_cast<core::WallTime::duration>(std::chrono::nanoseconds(ns))));
}

std::string podQosClass(const api::Pod& pod) {
  bool any = false;
  bool guaranteed = true;
  auto check = [&](const api::Container& c) {
    const auto& req = c.resources.requests;
    const auto& lim = c.resources.limits;
    for (const auto& [k, q] : req) {
      if ((k == "cpu" || k == "memory") && !q.isZero()) any = true;
    }
    for (const auto& [k, q] : lim) {
      if ((k == "cpu" || k == "memory") && !q.isZero()) any = true;
    }
    for (const char* r : {"cpu", "memory"}) {
      auto l = lim.find(r);
      if (l == lim.end() || l->second.isZero()) {
        guaranteed = false;
        continue;
      }
      auto q = req.find(r);
      // A missing request defaults to the limit.
      if (q != req.end() && q->second.milliValue() != l->second.milliValue()) guaranteed = false;
    }
  };
  for (const auto& c : pod.spec.initContainers) check(c);
  for (const auto& c : pod.spec.containers) check(c);
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

namespace {

// The kubelet's getPhase. Statuses are in spec order (one per container).
// `podHasInitialized`: an app container of the current sandbox ran, so a
// restarting sidecar does not make the pod Pending again.
std::string phaseOf(const api::Pod& pod, const std::vector<api::ContainerStatus>& init,
                    const std::vector<api::ContainerStatus>& app, bool podHasInitialized) {
  int pendingRegularInit = 0, pendingSidecars = 0, failedInit = 0;
  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (size_t i = 0; i < init.size() && i < pod.spec.initContainers.size(); ++i) {
    const api::ContainerStatus& s = init[i];
    if (runtime::isSidecar(pod.spec.initContainers[i])) {
      // A running sidecar counts as running; a terminated one is ignored.
      if (s.state.running) {
        if (!s.started.value_or(false)) ++pendingSidecars;
        ++running;
      } else if (s.state.terminated) {
      } else if (s.state.waiting) {
        if (!s.lastState.terminated) ++pendingSidecars;
      } else {
        ++pendingSidecars;
      }
      continue;
    }
    if (s.state.running) {
      ++pendingRegularInit;
    } else if (s.state.terminated) {
      if (s.state.terminated->exitCode != 0) ++failedInit;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) {
        if (s.lastState.terminated->exitCode != 0) ++failedInit;
      } else {
        ++pendingRegularInit;
      }
    } else {
      ++pendingRegularInit;
    }
  }
  for (const auto& s : app) {
    if (s.state.running) {
      ++running;
    } else if (s.state.terminated) {
      ++stopped;
      if (s.state.terminated->exitCode == 0) ++succeeded;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) {
        ++stopped;
      } else {
        ++waiting;
      }
    }
  }
  const std::string& policy = pod.spec.restartPolicy;
  if (failedInit > 0 && policy == "Never") return "Failed";
  if (((pendingRegularInit > 0 || pendingSidecars > 0) && !podHasInitialized) || waiting > 0) {
    return "Pending";
  }
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    // Every app container succeeded and the sidecars are stopped.
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

}  // namespace

std::string podPhase(const api::Pod& pod, const std::vector<api::ContainerStatus>& init,
                     const std::vector<api::ContainerStatus>& app) {
  bool started = std::any_of(app.begin(), app.end(), [](const api::ContainerStatus& c) {
    return c.state.running || c.state.terminated || c.lastState.terminated;
  });
  return phaseOf(pod, init, app, started);
}

std::vector<std::string> sortPodIPs(const std::vector<std::string>& ips,
                                    const std::string& hostIP) {
  auto isV6 = [](const std::string& ip) { return ip.find(':') != std::string::npos; };
  bool primaryV6 = !hostIP.empty() && isV6(hostIP);
  std::vector<std::string> out;
  for (bool v6 : {primaryV6, !primaryV6}) {
    auto it = std::find_if(ips.begin(), ips.end(), [&](const auto& ip) { return isV6(ip) == v6; });
    if (it != ips.end()) out.push_back(*it);
  }
  return out;
}

api::PodStatus computePodStatus(const StatusInput& in) {
  const api::Pod& pod = *in.pod;
  api::PodStatus s;
  bool hasInit = !pod.spec.initContainers.empty();
  s.initContainerStatuses = containerStatuses(
      in, pod.spec.initContainers, hasInit ? kPodInitializing : kContainerCreating,
      in.previous ? &in.previous->initContainerStatuses : nullptr, false);
  s.containerStatuses =
      containerStatuses(in, pod.spec.containers, hasInit ? kPodInitializing : kContainerCreating,
                        in.previous ? &in.previous->containerStatuses : nullptr, true);
  s.ephemeralContainerStatuses =
      ephemeralContainerStatuses(in, hasInit ? kPodInitializing : kContainerCreating);
  s.phase = podPhase(pod, s.initContainerStatuses, s.containerStatuses);
  s.qosClass = podQosClass(pod);
  s.startTime = rfc3339(in.startTime);
  if (!in.hostIP.empty()) {
    s.hostIP = in.hostIP;
    s.hostIPs = {in.hostIP};
  }
  const auto* sandbox = in.runtime->latestSandbox();
  bool sandboxReady = sandbox && sandbox->state == runtime::SandboxState::kReady;
  if (pod.spec.hostNetwork) {
    // Host-network pods have the node's IP from the start, sandbox or not.
    if (!in.hostIP.empty()) s.podIPs = {in.hostIP};
  } else if (sandboxReady) {
    std::vector<std::string> ips;
    if (!sandbox->ip.empty()) ips.push_back(sandbox->ip);
    ips.insert(ips.end(), sandbox->extraIps.begin(), sandbox->extraIps.end());
    s.podIPs = sortPodIPs(ips, in.hostIP);
  }
  if (!s.podIPs.empty()) s.podIP = s.podIPs.front();
  // A finished pod's sandbox is gone, but its IPs stay in the status, as the
  // kubelet keeps them from the previous status.
  if (s.podIPs.empty() && in.previous && !in.previous->podIPs.empty()) {
    s.podIP = in.previous->podIP;
    s.podIPs = in.previous->podIPs;
  }

  // Initialized: regular init containers succeeded, sidecars started. Ready: sidecars
  // and app containers ready (the kubelet's GeneratePodInitializedCondition and
  // GenerateContainersReadyCondition).
  std::vector<std::string> notInitialized, notReady;
  for (size_t i = 0; i < s.initContainerStatuses.size(); ++i) {
    const api::ContainerStatus& c = s.initContainerStatuses[i];
    if (runtime::isSidecar(pod.spec.initContainers[i])) {
      if (!c.started.value_or(false)) notInitialized.push_back(c.name);
      if (!c.ready) notReady.push_back(c.name);
    } else if (!(c.state.terminated && c.state.terminated->exitCode == 0)) {
      notInitialized.push_back(c.name);
    }
  }
  for (const auto& c : s.containerStatuses) {
    if (!c.ready) notReady.push_back(c.name);
  }
  // Once an app container has started, initialization is over even if an init
  // container's record has been garbage-collected.
  bool appStarted =
      std::any_of(s.containerStatuses.begin(), s.containerStatuses.end(),
                  [](const auto& c) { return c.state.running || c.state.terminated; });
  if (appStarted) notInitialized.clear();

  auto cond = [&](const std::string& type, bool ok, const std::string& reason,
                  const std::string& message) {
    api::PodCondition c;
    c.type = type;
    c.status = ok ? "True" : "False";
    if (!ok) {
      c.reason = reason;
      c.message = message;
    }
    const api::PodCondition* prev = findCondition(in.previous, type);
    c.lastTransitionTime =
        prev && prev->status == c.status ? prev->lastTransitionTime : rfc3339(in.now);
    s.conditions.push_back(c);
  };
  bool completed = s.phase == "Succeeded";
  std::string notReadyReason = completed ? "PodCompleted" : "ContainersNotReady";
  std::string notReadyMsg =
      completed ? "" : "containers with unready status: " + joinNames(notReady);
  cond("PodReadyToStartContainers", sandboxReady, "", "");
  cond("Initialized", notInitialized.empty(),
       completed ? "PodCompleted" : "ContainersNotInitialized",
       completed ? "" : "containers with incomplete status: " + joinNames(notInitialized));
  // Ready also waits for the pod's readiness gates: conditions other writers set.
  bool containersReady = notReady.empty() && !completed;
  std::string readyReason = notReadyReason, readyMsg = notReadyMsg;
  if (containersReady) {
    std::vector<std::string> unready;
    for (const auto& gate : pod.spec.readinessGates) {
      const api::PodCondition* c = findCondition(in.apiStatus, gate.conditionType);
      if (!c) {
        unready.push_back("corresponding condition of pod readiness gate \"" + gate.conditionType +
                          "\" does not exist.");
      } else if (c->status != "True") {
        unready.push_back("the status of pod readiness gate \"" + gate.conditionType +
                          "\" is not \"True\", but " + c->status);
      }
    }
    if (!unready.empty()) {
      readyReason = "ReadinessGatesNotReady";
      readyMsg.clear();
      for (const auto& m : unready) readyMsg += (readyMsg.empty() ? "" : ", ") + m;
    }
    cond("Ready", unready.empty(), readyReason, readyMsg);
  } else {
    cond("Ready", false, readyReason, readyMsg);
  }
  cond("ContainersReady", containersReady, notReadyReason, notReadyMsg);
  cond("PodScheduled", true, "", "");
  // In-place resize (the kubelet 1.33+ conditions; status.resize is deprecated):
  // PodResizePending while a requested resize does not fit the node (the pod here is
  // the allocated one); PodResizeInProgress while a running container's resources
  // differ from what is allocated, with reason Error and the message once an attempt
  // failed.
  auto resizeCondition = [&](const std::string& type, const std::string& reason,
                             const std::string& message) {
    api::PodCondition c;
    c.type = type;
    c.status = "True";
    c.reason = reason;
    c.message = message;
    const api::PodCondition* prev = findCondition(in.previous, c.type);
    c.lastTransitionTime =
        prev && prev->status == c.status ? prev->lastTransitionTime : rfc3339(in.now);
    c.lastProbeTime = prev && prev->reason == c.reason && prev->message == c.message
                          ? prev->lastProbeTime
                          : rfc3339(in.now);
    s.conditions.push_back(c);
  };
  if (!in.resizePendingReason.empty()) {
    resizeCondition("PodResizePending", in.resizePendingReason, in.resizePendingMessage);
  }
  if (runtime::podResizeInProgress(pod, *in.runtime)) {
    resizeCondition("PodResizeInProgress", in.resizeError.empty() ? "" : "Error", in.resizeError);
  }
  if (!in.sandboxError.empty()) s.message = in.sandboxError;
  return s;
}

}  // namespace agent::status

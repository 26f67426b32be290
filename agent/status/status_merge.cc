#include "agent/status/status_merge.h"

#include <algorithm>
#include <set>

namespace agent::status {
namespace {

// kubecontainer.MaxPodTerminationMessageLogLength: all of a pod's termination
// messages together stay under this, split evenly between its containers.
constexpr size_t kMaxPodTerminationMessageBytes = 12 * 1024;

api::PodCondition* findCondition(api::PodStatus& s, const std::string& type) {
  for (auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

const api::PodCondition* findCondition(const api::PodStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

void truncateMessages(api::ContainerState& st, size_t limit) {
  if (st.terminated && st.terminated->message.size() > limit) {
    st.terminated->message.resize(limit);
  }
}

// generate{Pod,Containers}ReadyConditionForTerminalPhase: a finished pod is not
// ready, whatever its last container statuses said.
void terminalReadiness(api::PodStatus& s, const std::string& now) {
  if (!isTerminalPhase(s.phase)) return;
  for (const char* type : {"ContainersReady", "Ready"}) {
    api::PodCondition* c = findCondition(s, type);
    if (!c || c->status != "True") continue;
    c->status = "False";
    c->reason = s.phase == "Failed" ? "PodFailed" : "PodCompleted";
    c->message.clear();
    c->lastTransitionTime = now;
  }
}

}  // namespace

bool isTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

bool isKubeletCondition(const std::string& type) {
  return type == "PodScheduled" || type == "Ready" || type == "Initialized" ||
         type == "ContainersReady" || type == "PodReadyToStartContainers" ||
         type == "PodResizePending" || type == "PodResizeInProgress";
}

namespace {

// What is kept from `old`; `stamp`: a condition whose status changed transitions now.
void keepFrom(const api::PodStatus& old, api::PodStatus& s, bool stamp, const std::string& now) {
  // generateAPIPodStatus forces a terminal phase back: the pod's controllers may
  // already have acted on it.
  if (isTerminalPhase(old.phase) && s.phase != old.phase) {
    s.phase = old.phase;
    s.reason = old.reason;
    s.message = old.message;
  }
  // Before the transition times, so that a Ready forced False keeps the time it
  // already had.
  terminalReadiness(s, now);
  for (auto& c : s.conditions) {
    const api::PodCondition* prev = findCondition(old, c.type);
    if (prev && prev->status == c.status) {
      c.lastTransitionTime = prev->lastTransitionTime;
    } else if (prev && stamp) {
      c.lastTransitionTime = now;
    }
  }
  if (!old.startTime.empty()) s.startTime = old.startTime;
  if (s.podIP.empty() && s.podIPs.empty()) {
    s.podIP = old.podIP;
    s.podIPs = old.podIPs;
  }
}

}  // namespace

void preserveAndNormalize(const api::PodStatus* old, api::PodStatus& s, const std::string& now) {
  if (old) keepFrom(*old, s, true, now);
  for (auto& c : s.conditions) {
    if (c.lastTransitionTime.empty()) c.lastTransitionTime = now;
  }
  if (s.startTime.empty()) s.startTime = now;
  terminalReadiness(s, now);

  size_t containers = s.containerStatuses.size() + s.initContainerStatuses.size();
  size_t limit = kMaxPodTerminationMessageBytes / std::max<size_t>(containers, 1);
  for (auto* list : {&s.containerStatuses, &s.initContainerStatuses}) {
    for (auto& cs : *list) {
      truncateMessages(cs.state, limit);
      truncateMessages(cs.lastState, limit);
    }
  }
  // The API lists app container statuses by name; init containers stay in spec order.
  std::stable_sort(s.containerStatuses.begin(), s.containerStatuses.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
}

void preserveFromApi(const api::PodStatus& apiStatus, api::PodStatus& s, const std::string& now) {
  keepFrom(apiStatus, s, false, now);
}

void forceTerminalPhase(api::PodStatus& s, const std::string& now) {
  if (isTerminalPhase(s.phase)) return;
  s.phase = "Failed";
  terminalReadiness(s, now);
}

api::PodStatus mergeWithApiStatus(const api::PodStatus& apiStatus, const api::PodStatus& desired) {
  std::set<std::string> ours;
  for (const auto& c : desired.conditions) ours.insert(c.type);
  api::PodStatus merged = desired;
  merged.conditions.clear();
  for (const auto& c : apiStatus.conditions) {
    if (!isKubeletCondition(c.type) && !ours.count(c.type)) merged.conditions.push_back(c);
  }
  for (const auto& c : desired.conditions) merged.conditions.push_back(c);
  return merged;
}

}  // namespace agent::status

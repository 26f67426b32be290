#include "agent/runtime/runtime_state.h"

#include <algorithm>

namespace agent::runtime {

const char* containerStateName(ContainerState s) {
  switch (s) {
    case ContainerState::kCreated:
      return "created";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kExited:
      return "exited";
    case ContainerState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const ContainerRuntimeStatus* PodRuntimeStatus::findContainer(const std::string& n) const {
  for (const auto& c : containers) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::vector<const ContainerRuntimeStatus*> PodRuntimeStatus::containersNamed(
    const std::string& n) const {
  std::vector<const ContainerRuntimeStatus*> out;
  for (const auto& c : containers) {
    if (c.name == n) out.push_back(&c);
  }
  return out;
}

bool PodRuntimeStatus::hasRunningContainer() const {
  return std::any_of(containers.begin(), containers.end(),
                     [](const auto& c) { return c.state == ContainerState::kRunning; });
}

void sortNewestFirst(PodRuntimeStatus& status) {
  std::stable_sort(status.sandboxes.begin(), status.sandboxes.end(),
                   [](const auto& a, const auto& b) {
                     if (a.createdAtNs != b.createdAtNs) return a.createdAtNs > b.createdAtNs;
                     return a.attempt > b.attempt;
                   });
  std::stable_sort(status.containers.begin(), status.containers.end(),
                   [](const auto& a, const auto& b) {
                     if (a.createdAtNs != b.createdAtNs) return a.createdAtNs > b.createdAtNs;
                     return a.attempt > b.attempt;
                   });
}

}  // namespace agent::runtime

#include "agent/runtime/runtime_class.h"

namespace agent::runtime {

absl::StatusOr<std::string> lookupRuntimeHandler(const api::Pod& pod, const EnvSources* sources) {
  if (!sources || !sources->apiAvailable) return std::string();
  const std::string name = pod.spec.runtimeClassName.value_or("");
  if (name.empty()) return std::string();
  if (!sources->runtimeClass || sources->runtimeClass->name != name) {
    return absl::NotFoundError("runtimeclass.node.k8s.io \"" + name + "\" not found");
  }
  return sources->runtimeClass->handler;
}

}  // namespace agent::runtime

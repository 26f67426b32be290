#include "agent/runtime/ephemeral_containers.h"

namespace agent::runtime {

bool isEphemeralContainer(const api::Pod& pod, const api::Container& c) {
  for (const api::Container& e : pod.spec.ephemeralContainers) {
    if (&e == &c) return true;
  }
  return false;
}

absl::Status applyEphemeralTarget(const api::Pod& pod, const api::Container& c,
                                  const PodRuntimeStatus& status,
                                  ::runtime::v1::ContainerConfig* config) {
  if (c.targetContainerName.empty() || !isEphemeralContainer(pod, c)) return absl::OkStatus();
  const ContainerRuntimeStatus* target = status.findContainer(c.targetContainerName);
  if (!target) {
    return absl::NotFoundError("unable to find target container " + c.targetContainerName);
  }
  auto* ns = config->mutable_linux()->mutable_security_context()->mutable_namespace_options();
  if (ns->pid() == ::runtime::v1::CONTAINER) {
    ns->set_pid(::runtime::v1::TARGET);
    ns->set_target_id(target->id);
  }
  return absl::OkStatus();
}

}  // namespace agent::runtime

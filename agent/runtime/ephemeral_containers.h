// Ephemeral containers (kubectl debug) in the runtime: added to a running pod through
// the pods/ephemeralcontainers subresource, started once into the pod's sandbox, never
// restarted, probed or killed on their own. With targetContainerName one shares the
// process namespace of that container (the kubelet's startSpec.getTargetID and the
// NamespaceMode_TARGET of generateLinuxContainerConfig).
#pragma once

#include "absl/status/status.h"
#include "agent/api/pod.h"
#include "agent/runtime/runtime_state.h"
#include "cri/proto/api.pb.h"

namespace agent::runtime {

// Whether `c` is one of pod.spec.ephemeralContainers (the object itself, not a copy).
bool isEphemeralContainer(const api::Pod& pod, const api::Container& c);

// For an ephemeral container with a target: the process namespace of the target's
// newest container (pid TARGET, target_id), when the pod does not share one process
// namespace anyway. "unable to find target container <name>" when the runtime has
// none. Other containers are left as they are.
absl::Status applyEphemeralTarget(const api::Pod& pod, const api::Container& c,
                                  const PodRuntimeStatus& status,
                                  ::runtime::v1::ContainerConfig* config);

}  // namespace agent::runtime

// The kubelet's runtimeclass manager LookupRuntimeHandler: the CRI runtime handler a
// pod's sandbox is created with, from the RuntimeClass its runtimeClassName names.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/env_sources.h"

namespace agent::runtime {

// "" (the runtime's default handler) for a pod naming no RuntimeClass, and for any
// pod when there is no API server (`sources` null or !apiAvailable: the kubelet has
// no runtimeclass manager without a client). A RuntimeClass that does not exist is
// NotFound: `runtimeclass.node.k8s.io "<name>" not found`.
absl::StatusOr<std::string> lookupRuntimeHandler(const api::Pod& pod, const EnvSources* sources);

}  // namespace agent::runtime

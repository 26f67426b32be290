// The pods/ephemeralcontainers subresource of the fake API server (kubectl debug),
// after upstream's podEphemeralContainersStrategy (pkg/registry/core/pod/strategy.go)
// and ValidatePodEphemeralContainersUpdate: only spec.ephemeralContainers changes
// through it, and only by additions. What it refuses is a 422 with upstream's words:
// an existing ephemeral container removed or changed, a name used by another
// container, a target that is not a regular or init container, the fields ephemeral
// containers may not have (ports, resources, probes, lifecycle, resizePolicy,
// restartPolicy, subPath mounts), and static (mirror) pods.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cubelet::fakeapi {

struct ResourceInfo;

// dropNonEphemeralContainerUpdates: `obj` becomes the stored pod with the
// spec.ephemeralContainers of `obj`.
void prepareEphemeralContainers(nlohmann::json& obj, const nlohmann::json& old);

// ValidatePodEphemeralContainersUpdate, after prepareEphemeralContainers and defaulting.
absl::Status validateEphemeralContainers(const ResourceInfo& r, const std::string& name,
                                         const nlohmann::json& obj, const nlohmann::json& old);

}  // namespace cubelet::fakeapi

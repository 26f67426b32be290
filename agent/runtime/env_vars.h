// A container's environment, by the kubelet's rules (makeEnvironmentVariables):
// service-link variables lowest, then envFrom sources in order, then env in order;
// a later definition replaces an earlier one in place. env values have $(VAR)
// references expanded against what is defined before them (then service links);
// valueFrom reads the downward API, ConfigMaps and Secrets (EnvSources).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/env_sources.h"

namespace agent::runtime {

struct ContainerContext;  // container_config.h

// Event reason for envFrom keys skipped as invalid variable names.
inline constexpr char kInvalidEnvironmentVariableNames[] = "InvalidEnvironmentVariableNames";

// Something the agent should tell the user about (as a Warning event on the pod)
// while still starting the container.
struct EnvWarning {
  std::string reason{};
  std::string message{};
};

// The environment in definition order; then the service-link variables not
// overridden. Errors (all reported as CreateContainerConfigError):
//  - a required ConfigMap/Secret that does not exist: `configmap "x" not found`,
//    `secret "s" not found` (FailedPrecondition);
//  - a required key missing: `couldn't find key K in ConfigMap ns/x`,
//    `couldn't find key K in Secret ns/s` (FailedPrecondition);
//  - an object not yet known (its watch not synced), or Services not yet listed for
//    an API pod: Unavailable (isRetryableEnvError), worth retrying soon;
//  - without an API server, any ConfigMap/Secret reference that is not optional.
// Skipped envFrom keys are reported in `warnings` (may be null).
absl::StatusOr<EnvList> makeEnvironment(const api::Pod& pod, const api::Container& c,
                                        const ContainerContext& ctx,
                                        std::vector<EnvWarning>* warnings = nullptr);

// True for errors that only mean "the API caches are not ready yet".
bool isRetryableEnvError(const absl::Status& s);

// Whether envFrom may use `name` as a variable name: the classic rule
// [-._a-zA-Z][-._a-zA-Z0-9]*, or with `relaxed` any printable ASCII except '='.
bool isValidEnvVarName(std::string_view name, bool relaxed);

}  // namespace agent::runtime

// Service-link environment variables (the kubelet's pkg/kubelet/envvars and
// getServiceEnvVarMap): for each service with a cluster IP, <NAME>_SERVICE_HOST,
// <NAME>_SERVICE_PORT[_<PORTNAME>] and the docker-link style <NAME>_PORT,
// <NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR].
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/api/config_objects.h"
#include "agent/runtime/env_sources.h"

namespace agent::runtime {

// A service or port name as a variable name: upper case, '-' -> '_'.
std::string serviceEnvName(std::string_view name);

// The variables for these services, in the given order; services without a cluster
// IP (empty or "None") are skipped.
EnvList envVarsFromServices(const std::vector<const api::Service*>& services);

// The services a pod in `podNamespace` sees: with enableServiceLinks, every service
// of its namespace; always the "kubernetes" service of the default namespace (a
// same-named service of the pod's own namespace replaces it when links are on).
// Ordered by service name, so the result is deterministic.
EnvList serviceLinkEnv(std::string_view podNamespace, bool enableServiceLinks,
                       const std::vector<std::shared_ptr<const api::Service>>& services);

}  // namespace agent::runtime

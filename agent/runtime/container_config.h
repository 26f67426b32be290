// Container spec -> CRI ContainerConfig, as the kubelet builds it
// (generateContainerConfig): environment (env_vars.h), command and args with $(VAR)
// expansion, mounts, log path, labels and annotations.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/env_sources.h"
#include "agent/runtime/env_vars.h"
#include "agent/runtime/runtime_options.h"
#include "agent/runtime/security_context.h"
#include "cri/proto/api.pb.h"
#include "volumes/volume_manager.h"

namespace agent::runtime {

struct ContainerContext {
  int32_t restartCount = 0;
  std::string podIP;
  std::vector<std::string> podIPs;
  std::string hostIP;
  std::vector<std::string> hostIPs;    // the node's IPs, status.hostIPs (hostIP when empty)
  std::string terminationLogHostPath;  // file mounted at terminationMessagePath ("" = none)
  // ConfigMaps, Secrets, Services and node allocatable from the API; null = no API
  // server (static pods only).
  EnvSourcesPtr sources;
  // The pod's set-up volumes for the volumeMounts, and its directory (subPath bind
  // mounts go under it). Null: no volumes are mounted (a pod worker without a
  // volume manager, in unit tests).
  ::volumes::PodMountsPtr volumes;
  std::string podDir;
  // The managed /etc/hosts (etc_hosts.h), mounted after the volumes; unset = none.
  std::optional<::runtime::v1::Mount> etcHostsMount;
  // The image's user and the node's seccomp settings (security_context.h).
  ContainerSecurityInput security;
};

// "<container>/<restartCount>.log", relative to the sandbox's log directory.
std::string containerLogPath(const std::string& container, int32_t restartCount);

// Environment problems that do not stop the container (skipped envFrom keys) are
// appended to `warnings` when given.
absl::StatusOr<::runtime::v1::ContainerConfig> makeContainerConfig(
    const api::Pod& pod, const api::Container& c, const ContainerContext& ctx,
    std::vector<EnvWarning>* warnings = nullptr);

}  // namespace agent::runtime

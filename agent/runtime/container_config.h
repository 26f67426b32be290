// Container spec -> CRI ContainerConfig, as the kubelet builds it
// (generateContainerConfig): environment with $(VAR) expansion, command and
// args, mounts, log path, labels and annotations.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/runtime_options.h"
#include "cri/proto/api.pb.h"

namespace agent::runtime {

struct ContainerContext {
  int32_t restartCount = 0;
  std::string podIP;
  std::vector<std::string> podIPs;
  std::string hostIP;
  std::string terminationLogHostPath;  // file mounted at terminationMessagePath ("" = none)
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

// The container's environment in definition order. Errors name the field, e.g.
// `env[2] (FOO): configMapKeyRef is not available without an API server`.
absl::StatusOr<EnvList> makeEnvironment(const api::Pod& pod, const api::Container& c,
                                        const ContainerContext& ctx);

// "<container>/<restartCount>.log", relative to the sandbox's log directory.
std::string containerLogPath(const std::string& container, int32_t restartCount);

absl::StatusOr<::runtime::v1::ContainerConfig> makeContainerConfig(const api::Pod& pod,
                                                                   const api::Container& c,
                                                                   const ContainerContext& ctx);

}  // namespace agent::runtime

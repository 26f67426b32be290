// A container's volumeMounts -> CRI mounts, as the kubelet's makeMounts builds them:
// the volume's host path (or a safe bind mount of its subPath / expanded
// subPathExpr), read-only when the mount or the volume says so, the mount
// propagation mode, SELinux relabelling off. Runs on a worker-pool thread: a
// subPath is prepared (created and bind-mounted) here.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "agent/api/pod.h"
#include "cri/proto/api.pb.h"
#include "volumes/volume_manager.h"

namespace agent::runtime {

// `env` is the container's environment (for subPathExpr); `podDir` is
// <root-dir>/pods/<uid> (subPath bind mounts go under it). Errors are the kubelet's
// CreateContainerConfigError messages; details that would describe the host's
// file system are logged, not returned.
absl::Status addVolumeMounts(const api::Container& c, const ::volumes::PodMounts& volumes,
                             const std::map<std::string, std::string>& env,
                             const std::string& podDir, ::runtime::v1::ContainerConfig* cc);

// The CRI propagation of a volumeMount's mountPropagation ("" = None = private).
absl::StatusOr<::runtime::v1::MountPropagation> mountPropagation(
    const std::optional<std::string>& mode);

// The kubelet's ExpandContainerVolumeMounts: $(VAR) in subPathExpr from the
// container's environment; a variable that is missing or empty is an error
// ("missing value for A, B").
absl::StatusOr<std::string> expandSubPathExpr(const std::string& expr,
                                              const std::map<std::string, std::string>& env);

}  // namespace agent::runtime

// What a pod's volumes take from the rest of its spec, as the kubelet computes it: the
// size of a Memory emptyDir's tmpfs (from the containers' memory limits and the node's
// allocatable memory) and the user a projected token file is owned by (FsUserFrom).
#pragma once

#include <cstdint>
#include <optional>

#include "agent/api/pod.h"
#include "agent/runtime/env_sources.h"

namespace agent::volumes {

// The tmpfs size of a medium: Memory emptyDir (the kubelet's calculateEmptyDirMemorySize):
// the smallest of the node's allocatable memory, the pod's memory limit (when every
// container has one) and the volume's sizeLimit, ignoring zeros; unset when none is known
// (the kernel's default tmpfs size).
std::optional<uint64_t> memoryEmptyDirSize(const api::Pod& pod,
                                           const api::EmptyDirVolumeSource& src,
                                           const runtime::EnvSources* sources);

// The pod's memory limit as its cgroup gets it (app containers summed, sidecars added,
// regular init containers' peak), or nullopt unless every container declares one.
std::optional<int64_t> podMemoryLimit(const api::Pod& pod);

// The kubelet's FsUserFrom: the runAsUser every container (init and app) runs as, when
// they all have one (container securityContext over the pod's) and it is the same.
std::optional<int64_t> fsUserFrom(const api::Pod& pod);

}  // namespace agent::volumes

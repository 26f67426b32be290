// A container's cpu and memory figures read from its own cgroup, for when the
// runtime's ContainerStats leaves them out (as the kubelet then takes them from
// cadvisor, which reads the same files).
//
// Where the cgroup is: the cgroupsPath of the OCI spec the runtime handed runc, from
// the CRI ContainerStatus verbose info (containerd: info["info"] JSON,
// runtimeSpec.linux.cgroupsPath). That is the path actually used, under either cgroup
// driver, any --cgroup-root and any QoS; deriving it instead would need the pod's spec
// (its QoS picks the parent), the sandbox's cgroup_parent and the runtime's own naming
// ("<parent>/<id>" under cgroupfs, "cri-containerd-<id>.scope" or "crio-<id>.scope"
// under systemd), none of which the CRI stats carry.
//
// Everything here blocks on file reads: call it from the worker pool.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cgroups/cgroup_version.h"

namespace agent::stats {

// The cgroup (a path below the hierarchy's mount point) of an OCI cgroupsPath as runc
// reads it: "/kubepods/pod1/abc" (cgroupfs) as it is;
// "kubepods-pod1.slice:cri-containerd:abc" (systemd) as the slice's nesting plus the
// scope, "/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope". An error for
// an empty or malformed path.
absl::StatusOr<std::string> cgroupOfCgroupsPath(const std::string& cgroupsPath);

// runtimeSpec.linux.cgroupsPath of a containerd-style verbose info JSON; NotFound when
// the runtime does not say.
absl::StatusOr<std::string> cgroupsPathOfVerboseInfo(const std::string& infoJson);

struct CgroupFigures {
  std::optional<uint64_t> cpuUsageNanos;
  std::optional<uint64_t> memoryUsageBytes;
  std::optional<uint64_t> workingSetBytes;
  std::optional<uint64_t> rssBytes;
  std::optional<uint64_t> pageFaults;
  std::optional<uint64_t> majorPageFaults;
};

// The figures of `cgroup` on a host with these mounts: cpu from the v1 cpuacct
// hierarchy (cpuacct.usage) when there is one, else the cgroup2 cpu.stat; memory from
// the v1 memory hierarchy (memory.usage_in_bytes, memory.stat total_*) when there is
// one, else the cgroup2 memory.current and memory.stat. What cannot be read is left
// empty; an error only when nothing could be read, naming the files tried.
absl::StatusOr<CgroupFigures> readContainerCgroup(const std::vector<cgroups::CgroupMount>& mounts,
                                                  const std::string& cgroup);

}  // namespace agent::stats

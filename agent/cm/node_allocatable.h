// Node allocatable enforced on the kubepods cgroup, as the kubelet's
// node_container_manager_linux.go: kubepods gets capacity - systemReserved -
// kubeReserved (never negative) when enforceNodeAllocatable has "pods", else the
// whole capacity (the default cpu.weight would starve the pods). Unlike the
// allocatable the Node reports (node/node_status.h), the hard eviction thresholds are
// not taken off: eviction, not the cgroup, keeps that memory free.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/cm/pod_resources.h"
#include "agent/node/machine_info.h"
#include "cgroups/cgroup_manager.h"

namespace agent::cm {

// pidlimit.PIDs: the resource name of process IDs in kubeReserved/systemReserved.
inline constexpr char kPidResource[] = "pid";

// The kubelet's internalCapacity: cpu (millicores), memory (bytes) from the machine and
// "pid" when known (readPidCapacity).
ResourceAmounts nodeCapacity(const node::MachineInfo& machine, std::optional<int64_t> pids);

// How many processes the node can have: min(kernel.pid_max, kernel.threads-max), read
// under `root` ("/" in production). Unset when neither can be read.
std::optional<int64_t> readPidCapacity(const std::string& root = "/");

struct NodeAllocatableConfig {
  std::map<std::string, std::string> kubeReserved;    // kubeReserved
  std::map<std::string, std::string> systemReserved;  // systemReserved
  std::vector<std::string> enforceNodeAllocatable;    // enforceNodeAllocatable
  bool cgroupsPerQOS = true;
};

// getNodeAllocatableAbsolute: each capacity resource less both reservations, floored at
// 0. A reservation that does not parse is an error naming it ("kubeReserved memory: ...").
absl::StatusOr<ResourceAmounts> nodeAllocatable(const ResourceAmounts& capacity,
                                                const NodeAllocatableConfig& cfg);

// What kubepods is created with (getCgroupConfig): memory.max from memory, pids.max
// from "pid", cpu.weight from the cpu shares of cpu; the allocatable amounts when
// enforcing "pods" (with cgroupsPerQOS), else the capacity.
absl::StatusOr<cgroups::ResourceConfig> kubepodsResourceConfig(const ResourceAmounts& capacity,
                                                               const NodeAllocatableConfig& cfg);

}  // namespace agent::cm

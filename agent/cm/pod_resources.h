// A pod's resources as the kubelet's container manager sees them: its effective
// requests and limits (component-helpers resource.PodRequests/PodLimits, with sidecar
// init containers), its QoS class and cgroup name, the pod cgroup's ResourceConfig
// (cm.ResourceConfigForPod) and each container's CRI LinuxContainerResources
// (kuberuntime generateLinuxContainerResources). Pure; the arithmetic itself is in
// cgroups/resource_math.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "agent/api/pod.h"
#include "cgroups/cgroup_manager.h"
#include "cgroups/resource_math.h"
#include "cri/proto/api.pb.h"

namespace agent::cm {

// Amounts by resource name: "cpu" in millicores, everything else in units (bytes for
// memory). A name is present when some container names it, even with 0 (the kubelet
// tells "no CPU request" from "a CPU request of 0").
using ResourceAmounts = std::map<std::string, int64_t>;

ResourceAmounts amountsOf(const std::map<std::string, api::Quantity>& list);

// The pod's effective requests/limits: the sum over app containers and sidecars (init
// containers with restartPolicy Always), or the largest init container (plus the sidecars
// started before it) when that is larger. The pod's overhead (spec.overhead, from its
// RuntimeClass) is added to every request, and to the limits that are set. The typed
// pod has no pod-level resources yet.
ResourceAmounts podRequests(const api::Pod& pod);
ResourceAmounts podLimits(const api::Pod& pod);
void addOverheadToRequests(const api::Pod& pod, ResourceAmounts& requests);
void addOverheadToLimits(const api::Pod& pod, ResourceAmounts& limits);

cgroups::QosClass qosClassOf(const api::Pod& pod);
// types.IsCriticalPod: static (config.source annotation other than "api"), mirror, or
// priority >= 2000000000 (system-cluster-critical and above).
bool isCriticalPod(const api::Pod& pod);
// types.IsNodeCriticalPod: critical and priorityClassName system-node-critical.
bool isNodeCriticalPod(const api::Pod& pod);

// The kubelet's cgroup names below `root` (--cgroup-root's components): "kubepods", its
// "burstable" and "besteffort" children, and "pod<uid>" under the pod's QoS cgroup
// (Guaranteed pods sit directly in kubepods).
cgroups::CgroupName kubepodsCgroup(const cgroups::CgroupName& root);
cgroups::CgroupName qosCgroup(const cgroups::CgroupName& root, cgroups::QosClass qos);
cgroups::CgroupName podCgroup(const cgroups::CgroupName& root, cgroups::QosClass qos,
                              const std::string& uid);
cgroups::CgroupName podCgroup(const cgroups::CgroupName& root, const api::Pod& pod);
inline constexpr char kPodCgroupPrefix[] = "pod";

// cm.ResourceConfigForPod (requests and limits with the overhead): cpu.weight from the
// pod's CPU requests (BestEffort: shares 2);
// cpu.max from its limits when Guaranteed, or Burstable with a CPU limit on every
// container ("max" when !enforceCpuLimits); memory.max likewise; memory.min from the
// memory requests with memory QoS. pids.max is the pod cgroup manager's to add.
cgroups::ResourceConfig resourceConfigForPod(const api::Pod& pod, bool enforceCpuLimits,
                                             uint64_t cpuPeriodUs, bool memoryQoS);

// What container resources are computed from (the runtime manager's settings).
struct ContainerResourceOptions {
  int64_t memoryCapacity = 0;  // MemTotal (machineInfo.MemoryCapacity): OOM score adjust
  bool cpuCFSQuota = true;     // cpuCFSQuota: cpu_quota/cpu_period from limits
  // The CFS period in µs: cpuCFSQuotaPeriod when the CPUCFSQuotaPeriod gate is on, else 100 ms.
  int64_t cpuCFSQuotaPeriodUs = cgroups::kQuotaPeriodUs;
  // MemoryQoS gate on a unified cgroup v2 host: unified memory.min / memory.high.
  bool memoryQoS = false;
  double memoryThrottlingFactor = 0.9;
  int64_t allocatableMemory = 0;  // node allocatable memory: memory.high without a limit
  int64_t pageSize = 4096;        // os.Getpagesize()
  // A unified cgroup v2 host with singleProcessOOMKill false (its default there): the
  // whole container is OOM-killed together (unified memory.oom.group=1).
  bool oomGroup = false;
};

// kuberuntime calculateLinuxResources: cpu_shares from the CPU request (the limit when
// there is no request; 2 with neither), memory_limit_in_bytes from the limit, and with
// cpuCFSQuota cpu_period and cpu_quota (0 without a limit).
::runtime::v1::LinuxContainerResources calculateLinuxResources(
    std::optional<int64_t> cpuRequestMilli, int64_t cpuLimitMilli, int64_t memoryLimit,
    const ContainerResourceOptions& opts);

// generateLinuxContainerResources: the above plus oom_score_adj and, with memory QoS,
// unified memory.min (the request) and memory.high (unless request == limit).
::runtime::v1::LinuxContainerResources linuxContainerResources(
    const api::Pod& pod, const api::Container& container, const ContainerResourceOptions& opts);

// qos.GetContainerOOMScoreAdjust for one of the pod's containers.
int containerOomScoreAdj(const api::Pod& pod, const api::Container& container,
                         int64_t memoryCapacity);

// The sandbox's LinuxPodSandboxConfig.resources (kuberuntime calculateSandboxResources):
// calculateLinuxResources over the pod's requests and limits without overhead.
::runtime::v1::LinuxContainerResources sandboxLinuxResources(const api::Pod& pod,
                                                             const ContainerResourceOptions& opts);

// The sandbox's LinuxPodSandboxConfig.overhead (convertOverheadToLinuxResources): the
// overhead's cpu and memory as both request and limit; empty without an overhead.
::runtime::v1::LinuxContainerResources sandboxOverheadResources(
    const api::Pod& pod, const ContainerResourceOptions& opts);

}  // namespace agent::cm

// In-place resize, decided: which running containers' CPU or memory changed in the spec
// since they were last handed to the runtime, in the order the kubelet applies them
// (kuberuntime computePodResizeAction). Pure; RuntimeManager::syncPod carries it out
// (doPodResizeAction); a changed resource whose resizePolicy is RestartContainer
// restarts the container instead. The status side (containerStatuses[].resources, the
// PodResizeInProgress condition) is computed from the same comparison.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/runtime/runtime_state.h"

namespace agent::runtime {

// The numbers resize compares (the kubelet's containerResources): CPU in millicores,
// memory in bytes, 0 when unset.
struct ResizeValues {
  int64_t cpuRequestMilli = 0;
  int64_t cpuLimitMilli = 0;
  int64_t memoryRequest = 0;
  int64_t memoryLimit = 0;
  bool operator==(const ResizeValues&) const = default;
};
ResizeValues resizeValuesOf(const api::ResourceRequirements& r);

// One running container to update (the kubelet's containerToUpdateInfo).
struct ContainerToUpdate {
  size_t index = 0;  // into spec.containers
  std::string id;
  std::string name;
  api::ResourceRequirements desired;  // cpu and memory of the spec
  api::ResourceRequirements current;  // as last handed to the runtime
};

struct PodResizeActions {
  // Per resource, decreases before increases: memory limits, and CPU limits (or
  // requests when the limit is unchanged).
  std::vector<ContainerToUpdate> memory;
  std::vector<ContainerToUpdate> cpu;
  bool empty() const { return memory.empty() && cpu.empty(); }
};

// IsInPlacePodVerticalScalingAllowed: not for static pods (a changed manifest is a new
// pod).
bool inPlaceResizeAllowed(const api::Pod& pod);

// What a running container runs with: the agent's record, else what the runtime
// reports (CPU from shares and quota, memory limit; the memory request, which no
// cgroup holds, from the spec), else nothing (no resize: not enough information).
std::optional<api::ResourceRequirements> runningResources(const api::Container& spec,
                                                          const ContainerRuntimeStatus& status);

// The pod as its running containers run now: their cpu and memory replaced by
// runningResources where known. For the QoS check and the pod cgroup's current values.
api::Pod podAsRunning(const api::Pod& pod, const PodRuntimeStatus& status);

// What a running container's resources need.
enum class ResizeNeed {
  kNone,     // they are what the spec says (or unknown)
  kInPlace,  // an UpdateContainerResources (added to the actions)
  kRestart,  // a changed resource's resizePolicy is RestartContainer
};

// Adds what the running container spec.containers[index] needs to `out` (nothing when
// it must restart instead: the caller kills and starts it).
ResizeNeed computeContainerResize(const api::Pod& pod, size_t index,
                                  const ContainerRuntimeStatus& status, PodResizeActions* out);

// The kill message of a container restarted for a resize (the kubelet's).
std::string resizeRestartMessage(const std::string& container);

// Whether a resize of the pod is under way: a running app container's resources
// differ from its spec (the kubelet's PodResizeInProgress, allocated != actuated).
bool podResizeInProgress(const api::Pod& pod, const PodRuntimeStatus& status);

// What containerStatuses[].resources says of a running container: its spec's
// resources with cpu and memory as they were last handed to the runtime (the record,
// else the runtime's report); the spec's when neither is known.
api::ResourceRequirements statusResources(const api::Container& spec,
                                          const ContainerRuntimeStatus& status);

// The message of the ResizeError event (events.PodResizeErrorMsg): "Pod resize error: "
// and the spec's resources, the pod's generation and the error, as JSON.
std::string podResizeErrorMessage(const api::Pod& pod, const std::string& error);

// The container as the runtime should run it after one resize step: the spec with
// cpu from `cpu` and memory from `memory`.
api::Container withResources(const api::Container& spec, const api::ResourceRequirements& cpu,
                             const api::ResourceRequirements& memory);

}  // namespace agent::runtime

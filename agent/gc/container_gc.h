// Container garbage collection, as the kubelet's containerGC (kuberuntime_gc.go) with
// the pod workers' ShouldPodContentBeRemoved / ShouldPodRuntimeBeRemoved:
//  - every non-running container of a pod whose content should go is removed: a pod
//    the agent evicted, or a deleted pod, once it has terminated; with
//    `evictNonDeletedPods` (the eviction manager's reclaim under disk pressure) also
//    those of every other terminated pod (Succeeded/Failed, or ended by the agent);
//  - other pods' containers stay: RuntimeManager::removeDeadContainers already prunes
//    a live pod's older exited instances after each sync (MaxPerPodContainer = 1);
//  - sandboxes that are not ready and hold no container: all of them for a pod whose
//    runtime should go, all but the newest for the others;
//  - the pod log directory of a pod whose content goes.
// A container's /var/log/containers symlink goes with it. Pods the agent has no
// worker for are left alone: the pod workers stop and remove pods no source wants,
// and a pod added after the snapshot must not lose its just-exited init containers.
//
// Blocking CRI calls: garbageCollect() runs on the worker pool.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/runtime_manager.h"
#include "cri/runtime_service.h"

namespace agent::gc {

// What the pod workers know about a pod, snapshot on the loop.
struct PodGcState {
  bool terminated = false;  // every container and the sandbox stopped for good
  bool evicted = false;     // ended by the agent with reason Evicted
  bool deleted = false;     // deletionTimestamp set
};
using PodGcStates = std::map<std::string, PodGcState>;  // by pod UID

// The kubelet's podWorkers.ShouldPodContentBeRemoved: containers, sandboxes and
// logs may all go.
bool shouldPodContentBeRemoved(const PodGcState& s);
// ShouldPodRuntimeBeRemoved: nothing of the pod will run again.
bool shouldPodRuntimeBeRemoved(const PodGcState& s);

// A container or sandbox as the CRI lists show it.
struct GcContainer {
  std::string id;
  std::string name;  // io.kubernetes.container.name
  std::string podUid;
  std::string podName;
  std::string podNamespace;
  std::string sandboxId;
  runtime::ContainerState state = runtime::ContainerState::kUnknown;
  int64_t createdAtNs = 0;
};
struct GcSandbox {
  std::string id;
  std::string podUid;
  bool ready = false;
  int64_t createdAtNs = 0;
};

// Pure: the containers to remove, oldest first within a pod.
std::vector<GcContainer> containersToRemove(const std::vector<GcContainer>& containers,
                                            const PodGcStates& pods, bool evictNonDeletedPods);
// Pure: the sandboxes to remove, given the containers that remain.
std::vector<std::string> sandboxesToRemove(const std::vector<GcSandbox>& sandboxes,
                                           const std::vector<GcContainer>& containers,
                                           const PodGcStates& pods, bool evictNonDeletedPods);

struct ContainerGcResult {
  std::vector<std::string> containers;  // ids whose removal was attempted
  std::vector<std::string> sandboxes;   // ids removed
};

class ContainerGc {
 public:
  // Not owned; both outlive the collector. The runtime manager removes each
  // container with its log symlink.
  ContainerGc(cri::RuntimeService& runtime, runtime::RuntimeManager& manager);

  // One pass: containers, then sandboxes (listed again), then pod log directories.
  // A failure to remove one object is logged and the others are still tried;
  // listing failures fail the pass.
  absl::StatusOr<ContainerGcResult> garbageCollect(const PodGcStates& pods,
                                                   bool evictNonDeletedPods);

 private:
  absl::StatusOr<std::vector<GcContainer>> listContainers();
  void removePodLogDirs(const PodGcStates& pods);

  cri::RuntimeService& runtime_;
  runtime::RuntimeManager& manager_;
};

}  // namespace agent::gc

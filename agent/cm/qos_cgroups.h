// The QoS cgroups, as the kubelet's qos_container_manager_linux.go keeps them:
// kubepods (node allocatable, node_allocatable.h), kubepods/burstable and
// kubepods/besteffort, created at start-up; burstable's cpu.weight follows the sum of
// the Burstable pods' CPU requests and besteffort stays at the minimum
// (setCPUCgroupConfig), and with memory QoS kubepods and burstable get memory.min
// from the pods' memory requests (setMemoryQoS). The QOSReserved memory reservations
// (setMemoryReserve, an alpha gate) are not implemented. Lives on the event loop.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "agent/api/pod.h"
#include "cgroups/cgroup_manager.h"

namespace agent::cm {

using Done = cgroups::CgroupManager::Done;
using PodList = std::vector<std::shared_ptr<const api::Pod>>;

// Runs `steps` one after the other (each gets the callback that starts the next) and
// calls `done` with the first error, or OK after the last.
void runInOrder(std::vector<std::function<void(Done)>> steps, Done done);

// What UpdateCgroups writes, computed from the active pods.
struct QosConfigs {
  cgroups::ResourceConfig kubepods;  // memory.min only, with memory QoS
  cgroups::ResourceConfig burstable;
  cgroups::ResourceConfig besteffort;
};
QosConfigs computeQosConfigs(const PodList& activePods, bool memoryQoS);

class QosCgroups {
 public:
  // `root`: --cgroup-root's components; `kubepods`: its ResourceConfig
  // (kubepodsResourceConfig). The manager outlives this object.
  QosCgroups(cgroups::CgroupManager& manager, cgroups::CgroupName root,
             cgroups::ResourceConfig kubepods, bool memoryQoS);
  ~QosCgroups();

  // Creates (or, when they exist, updates) kubepods, then burstable and besteffort;
  // errors are the kubelet's ("failed to create top level Burstable QOS cgroup : ...").
  void start(Done done);
  // UpdateCgroups for these pods; the first error is reported, the rest still written.
  void update(const PodList& activePods, Done done);

  const cgroups::CgroupName& root() const { return root_; }

 private:
  cgroups::CgroupManager& manager_;
  cgroups::CgroupName root_;
  cgroups::ResourceConfig kubepods_;
  bool memoryQoS_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::cm

// Pod cgroups, as the kubelet's pod container manager (pod_container_manager_linux.go)
// keeps them: before a pod's sandbox is created its cgroup kubepods[/<qos>]/pod<uid>
// exists with the pod's limits (resourceConfigForPod, pids.max from podPidsLimit),
// the QoS tiers updated first; the sandbox gets it as its cgroup_parent; the cgroup is
// removed once the pod is gone, and cgroups of pods nobody wants are cleaned up. On a
// cgroup v1 host (the manager does not manage cgroups) only the parent is named: the
// runtime creates it, and it is removed (in every hierarchy, by the v1 manager) once
// the pod is gone, as orphans are. Lives on the event loop, except where a method
// says otherwise.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/cm/qos_cgroups.h"
#include "cgroups/cgroup_manager.h"
#include "core/event_loop.h"

namespace cgroups {
class LegacyCgroupManager;
}

namespace agent::cm {

struct PodCgroupsOptions {
  cgroups::CgroupName root;  // --cgroup-root's components ({} for "/")
  // cgroupsPerQOS false: no pod or QoS cgroups; every sandbox's parent is the root.
  bool cgroupsPerQOS = true;
  bool enforceCpuLimits = true;  // cpuCFSQuota
  // The cpu.max period in µs: cpuCFSQuotaPeriod with the CPUCFSQuotaPeriod gate, else 100 ms.
  uint64_t cpuPeriodUs = 100000;
  bool memoryQoS = false;     // the MemoryQoS gate (cgroup v2 only)
  int64_t podPidsLimit = -1;  // podPidsLimit; > 0 sets pids.max
  // The kubelet's periodicQOSCgroupUpdateInterval.
  core::Duration qosUpdatePeriod = std::chrono::minutes(1);
};

class PodCgroups {
 public:
  // The pods that hold resources now (the kubelet's activePods): for the QoS tiers.
  using ActivePods = std::function<PodList()>;
  // Names of a directory's entries (the cgroup dirs under a QoS cgroup); tests inject.
  using ListDir = std::function<std::vector<std::string>(const std::string& dir)>;

  // `manager` and `qos` outlive this object. `qos` may be null when cgroupsPerQOS is off.
  PodCgroups(core::EventLoop& loop, cgroups::CgroupManager& manager, QosCgroups* qos,
             PodCgroupsOptions opts, ActivePods activePods, ListDir listDir = {});
  ~PodCgroups();

  // Creates the QoS cgroups (QosCgroups::start) and starts their periodic update.
  void start(Done done);

  // EnsureExists: when the pod's cgroup is missing, updates the QoS tiers (a failure
  // there is only logged, as upstream) and creates it. The error is the kubelet's
  // ("failed to create container for [kubepods burstable pod<uid>] : ...").
  void ensure(std::shared_ptr<const api::Pod> pod, Done done);
  // ensure() from a worker-pool thread: posts it to the loop and waits up to `timeout`.
  // Never call it on the loop thread.
  absl::Status ensureBlocking(std::shared_ptr<const api::Pod> pod, core::Duration timeout);

  // SetPodCgroupConfig, for an in-place resize: sets the fields `rc` has on the pod's
  // existing cgroup. Nothing to do when pod cgroups are not managed here (cgroup v1).
  void update(std::shared_ptr<const api::Pod> pod, const cgroups::ResourceConfig& rc, Done done);
  // update() from a worker-pool thread, as ensureBlocking.
  absl::Status updateBlocking(std::shared_ptr<const api::Pod> pod,
                              const cgroups::ResourceConfig& rc, core::Duration timeout);

  // The sandbox's cgroup_parent (the manager's runtimeParent of the pod's cgroup).
  // Thread-safe (pure): the runtime manager calls it on pool threads.
  std::string parentFor(const api::Pod& pod) const;
  cgroups::CgroupName nameFor(const api::Pod& pod) const;

  // Destroys the pod's cgroup in whichever QoS tier it is (the pod may be gone from every
  // source), then updates the QoS tiers. Call after the pod's sandboxes are gone. On a
  // v1 host only the runtime-made directories go (no QoS update).
  void remove(const std::string& uid, Done done);
  // Destroys every pod<uid> cgroup under the QoS cgroups whose uid is not in
  // `activeUids` (the kubelet's cleanupOrphanedPodCgroups); the first error is reported.
  void cleanupOrphans(const std::set<std::string>& activeUids, Done done);

 private:
  bool active() const;
  // A cgroup v1 host: pod cgroups are the runtime's, only removed here.
  bool removesOnly() const;
  void updateQos(const std::shared_ptr<const api::Pod>& extra, Done done);
  std::vector<std::pair<std::string, cgroups::CgroupName>> podCgroupsOnDisk() const;

  core::EventLoop& loop_;
  cgroups::CgroupManager& manager_;
  QosCgroups* qos_;
  PodCgroupsOptions opts_;
  ActivePods activePods_;
  ListDir listDir_;
  const cgroups::LegacyCgroupManager* v1_;  // `manager` on a v1 host, else null
  core::TimerPtr qosTimer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::cm

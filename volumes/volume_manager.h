// The volume manager: for each pod that should run, the volumes it wants
// (VolumePlans, desired state) against what is set up under the root dir (actual
// state), reconciled on the event loop with the blocking work (mkdir, mount, file
// writes, unmount) on the worker pool, one job per pod at a time. A pod's
// containers start once every volume was set up once; later payload changes
// (a ConfigMap edited, a token refreshed) are written in place by the atomic
// writer. Failures are FailedMount events, retried with a backoff (0.5 s doubling
// to about 2 min, the kubelet's exponential backoff for volume operations).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "volumes/volume_plan.h"

namespace volumes {

// Where a set-up volume is on the host, for the containers' mounts.
struct MountedVolume {
  std::string hostPath;
  bool readOnly = false;  // the volume must be mounted read-only whatever the mount says
  bool operator==(const MountedVolume&) const = default;
};
using PodMounts = std::map<std::string, MountedVolume>;  // by volume name
using PodMountsPtr = std::shared_ptr<const PodMounts>;

// <rootDir>/pods/<uid>
std::string podDir(const std::string& rootDir, const std::string& uid);
// Where a volume lives on the host: its directory under the pod's volumes dir, or
// the host path itself (hostPath).
std::string volumeHostPath(const std::string& rootDir, const std::string& uid,
                           const VolumePlan& plan);

// The blocking half, one call per volume (run on the pool): creates the directory,
// mounts the tmpfs or the bind mount, checks the hostPath type, writes the payload,
// applies fsGroup ownership. Idempotent: what is already in place is kept.
absl::Status setUpVolume(const std::string& rootDir, const std::string& uid,
                         const VolumePlan& plan);
// Unmounts everything under the pod's directory (subpaths first) and removes the
// volumes (`removePodDir`: the whole pod directory). Nothing outside is touched:
// the delete never crosses a mount point.
absl::Status tearDownPod(const std::string& rootDir, const std::string& uid, bool removePodDir);

class VolumeManager {
 public:
  struct Options {
    std::string rootDir = "/var/lib/kubelet";
    core::Duration retryInitial = core::Duration(500);
    core::Duration retryMax = core::Duration(122000);
  };
  VolumeManager(core::EventLoop& loop, core::WorkerPool& pool, Options opts);
  ~VolumeManager();
  VolumeManager(const VolumeManager&) = delete;
  VolumeManager& operator=(const VolumeManager&) = delete;

  // Every volume of the pod is now set up (for the first time): its containers may start.
  void setOnReady(std::function<void(const std::string& uid)> cb) { onReady_ = std::move(cb); }
  // A warning about the pod (reason FailedMount, the kubelet's message).
  using OnEvent = std::function<void(const std::string& uid, const std::string& reason,
                                     const std::string& message)>;
  void setOnEvent(OnEvent cb) { onEvent_ = std::move(cb); }

  // The desired volumes of a pod that should run; called again whenever an input
  // changes (only changed volumes are touched).
  void setPod(const std::string& uid, std::vector<VolumePlan> plans);
  // The pod's containers have all stopped for good: unmount and remove its volumes;
  // `removePodDir` removes the whole pod directory too (the pod is gone).
  void removePod(const std::string& uid, bool removePodDir);
  // Pod directories under <rootDir>/pods whose uid is not in `keep`: torn down and
  // removed (after an agent restart, pods deleted meanwhile).
  void cleanupOrphans(const std::set<std::string>& keep);

  // Whether the pod's containers may start: every volume has been set up.
  bool ready(const std::string& uid) const;
  // The host paths of the pod's set-up volumes (empty when unknown).
  PodMountsPtr mounts(const std::string& uid) const;
  // The volumes not set up yet, for a message ("unmounted volumes=[a b]").
  std::vector<std::string> unmounted(const std::string& uid) const;
  size_t podCount() const { return pods_.size(); }

 private:
  struct Volume {
    VolumePlan plan;
    bool setUp = false;
    size_t appliedHash = 0;  // payload last written
    size_t wantedHash = 0;
    std::string lastError;  // last FailedMount message
    core::MonoTime retryAt{};
    core::Duration backoff{};
  };
  struct Pod {
    std::map<std::string, Volume> volumes;
    bool ready = false;
    bool working = false;
    bool pending = false;
    bool removing = false;
    bool removePodDir = false;
    core::TimerPtr retry;
    PodMountsPtr mounts = std::make_shared<PodMounts>();
  };
  struct Job;
  struct JobResult;
  void reconcile(const std::string& uid);
  void onJobDone(const std::string& uid, std::vector<JobResult> results);
  void failed(const std::string& uid, Pod& p, Volume& v, const std::string& message);
  void armRetry(const std::string& uid, Pod& p);
  void refreshMounts(const std::string& uid, Pod& p);
  void tearDown(const std::string& uid, Pod& p);

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  Options opts_;
  std::unordered_map<std::string, std::unique_ptr<Pod>> pods_;
  std::function<void(const std::string&)> onReady_;
  OnEvent onEvent_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace volumes

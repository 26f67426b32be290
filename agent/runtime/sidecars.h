// Sidecar containers (KEP-753): init containers with restartPolicy Always. They
// start in order with the other init containers, count as done once started (and,
// with a startup probe, once it succeeded), are kept running and restarted whatever
// the pod's restart policy, and stop after the app containers. The kubelet's
// computeInitContainerActions and terminationOrdering.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/runtime/pod_actions.h"
#include "agent/runtime/runtime_state.h"

namespace agent::runtime {

// podutil.IsRestartableInitContainer.
bool isSidecar(const api::Container& c);
// The init container of that name is a sidecar.
bool isSidecarName(const api::Pod& pod, const std::string& name);

// The kubelet's computeInitContainerActions: adds to `a` the init containers to
// start (the next one of the init sequence, sidecars to restart) and the sidecars to
// kill (failed liveness/startup probe, changed definition, unknown state); sets
// killPod when a regular init container failed and the pod does not restart.
// Returns whether the pod is initialized (the app containers may run).
bool computeInitContainerActions(const api::Pod& pod, const PodRuntimeStatus& status,
                                 const ProbeVerdict& verdict, const StartupCheck& started,
                                 PodActions* a);

// The order in which a pod's running containers stop (the kubelet's
// terminationOrdering): app containers at once; each sidecar after every app
// container and every later sidecar has stopped, or when its grace period ran out.
// Shared by the threads that stop one pod's containers.
class TerminationOrdering {
 public:
  TerminationOrdering(const api::Pod& pod, const std::vector<std::string>& runningNames);

  // Blocks until `name` may stop or `gracePeriodSeconds` passed; returns the whole
  // seconds waited (what comes off the container's grace period). No wait when the
  // grace period is 0 or less.
  int64_t waitForTurn(const std::string& name, int64_t gracePeriodSeconds);
  // `name` has stopped (or failed to stop): the ones waiting for it may go.
  void containerTerminated(const std::string& name);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> running_;  // not yet terminated
  std::map<std::string, std::vector<std::string>> prereqs_;
};

}  // namespace agent::runtime

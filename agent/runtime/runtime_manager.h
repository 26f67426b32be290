// The blocking half of pod syncing (the kubelet's kubeGenericRuntimeManager):
// reads pod state from the runtime and carries out PodActions through CRI. Runs
// on worker-pool threads only; it holds no agent state besides caches of facts
// that never change (an exited container's details, a sandbox's IP).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/actuated_resources.h"
#include "agent/runtime/env_sources.h"
#include "agent/runtime/lifecycle_hooks.h"
#include "agent/runtime/pod_actions.h"
#include "agent/runtime/runtime_options.h"
#include "agent/runtime/runtime_state.h"
#include "cri/runtime_service.h"
#include "volumes/volume_manager.h"

namespace agent::runtime {

class TerminationOrdering;  // sidecars.h

// The kubelet's waiting reasons for a container that could not be started.
inline constexpr char kErrImagePull[] = "ErrImagePull";
inline constexpr char kImagePullBackOff[] = "ImagePullBackOff";
inline constexpr char kErrImageNeverPull[] = "ErrImageNeverPull";
inline constexpr char kInvalidImageName[] = "InvalidImageName";
inline constexpr char kCreateContainerConfigError[] = "CreateContainerConfigError";
inline constexpr char kCreateContainerError[] = "CreateContainerError";
inline constexpr char kRunContainerError[] = "RunContainerError";
inline constexpr char kCrashLoopBackOff[] = "CrashLoopBackOff";
// The Warning event of a failed in-place resize (events.ResizeError).
inline constexpr char kResizeError[] = "ResizeError";

struct ContainerStart {
  size_t index;  // into spec.initContainers, spec.containers or spec.ephemeralContainers
  bool init = false;
  bool ephemeral = false;
};

struct SyncRequest {
  std::shared_ptr<const api::Pod> pod;
  PodActions actions;
  PodRuntimeStatus status;             // what the plan was made from
  std::vector<ContainerStart> starts;  // the starts that passed the backoff checks
  // ConfigMaps/Secrets/Services/allocatable for env and pull secrets; null = no API.
  EnvSourcesPtr envSources;
  // The pod's set-up volumes (their host paths), for the containers' mounts.
  ::volumes::PodMountsPtr mounts;
};

// An event about a container, for the pod's event stream (the kubelet's reasons).
struct ContainerEvent {
  bool warning = false;
  std::string reason;  // Pulling, Pulled, Created, Started, Failed, Killing, ...
  std::string message;
};

// An event about one of the pod's containers, named.
struct PodContainerEvent {
  std::string container;
  ContainerEvent event;
};

struct ContainerStartResult {
  std::string name;
  bool init = false;
  std::string reason;  // empty on success, else one of the reasons above
  std::string message;
  std::string image;  // the image, for image-pull backoff keys
  std::vector<ContainerEvent> events;
};

struct SyncResult {
  std::string sandboxError;  // empty when the sandbox is fine
  std::vector<ContainerStartResult> starts;
  std::vector<std::string> warnings;
  std::optional<PodRuntimeStatus> fresh;  // the pod's state after the sync
  // Events about containers the sync stopped (Killing, FailedPreStopHook); those
  // about starts are in `starts`.
  std::vector<PodContainerEvent> events;
  // Why the in-place resize stopped (empty when it finished or there was none); what
  // is left is tried again on the next sync.
  std::string resizeError;
};

struct KillRequest {
  PodRuntimeStatus status;
  // The spec (for preStop hooks); null for a pod found only in the runtime, whose
  // hooks come from its containers' annotations.
  std::shared_ptr<const api::Pod> pod;
  // Without `pod`: the spec the pod last had, if known, for the order its
  // containers stop in (sidecars last).
  std::shared_ptr<const api::Pod> lastSpec;
  int64_t gracePeriodSeconds = 30;
  bool remove = false;  // also remove containers, sandboxes and logs
  std::string reason;   // for the log
};

struct KillResult {
  absl::Status status;                    // the first failure to stop or remove
  std::vector<PodContainerEvent> events;  // Killing, FailedPreStopHook
};

class RuntimeManager {
 public:
  RuntimeManager(cri::RuntimeService& runtime, cri::ImageService& images, RuntimeOptions opts);

  // The PLEG's relist: two list calls, then details (ContainerStatus, sandbox
  // status) only for pods whose fingerprint differs from `known` (uid -> fingerprint).
  struct RelistedPod {
    std::string uid;
    std::string fingerprint;
    std::optional<PodRuntimeStatus> status;  // set when the fingerprint changed
  };
  absl::StatusOr<std::vector<RelistedPod>> relist(
      const std::unordered_map<std::string, std::string>& known);
  absl::StatusOr<PodRuntimeStatus> getPodStatus(const std::string& uid);
  // What the PLEG compares: sandbox and container ids with their states.
  static std::string fingerprint(const PodRuntimeStatus& s);

  SyncResult syncPod(const SyncRequest& req);
  // Stops every running container (in parallel: each runs its preStop hook, then
  // stops with what is left of the grace period) and the sandboxes.
  KillResult killPod(const KillRequest& req);

  // Where lifecycle hooks run; null (the default) skips them. Set before the
  // first sync; not owned.
  void setHookRunner(HookRunner* hooks) { hooks_ = hooks; }

  const RuntimeOptions& options() const { return opts_; }

  // Removes the container and its /var/log/containers symlink (the container GC
  // uses it too: only `c.id`, `c.name` and the pod's name and namespace are read).
  // A failure is logged; the link then stays for the next attempt.
  void removeContainerAndLogs(const ContainerRuntimeStatus& c, const PodRuntimeStatus& pod);

 private:
  struct SandboxFacts {
    std::string ip;
    std::vector<std::string> extraIps;
    bool hostNetwork = false;
  };
  absl::StatusOr<PodRuntimeStatus> assemble(const std::vector<::runtime::v1::PodSandbox>& sandboxes,
                                            const std::vector<::runtime::v1::Container>& containers,
                                            const std::string& uid);
  void fillSandbox(const ::runtime::v1::PodSandbox& s, SandboxRuntimeStatus* out);
  void fillContainer(const ::runtime::v1::Container& c, ContainerRuntimeStatus* out);
  // The kubelet's createPodSandbox: on failure `message` is the kubelet's
  // ("Failed to create sandbox for pod ...") and the status its error. `ips` are
  // the new sandbox's IPs (primary first). The runtime handler comes from the pod's
  // RuntimeClass in `sources` (runtime_class.h).
  absl::Status createSandbox(const api::Pod& pod, const ::runtime::v1::PodSandboxConfig& config,
                             const EnvSources* sources, std::string* id,
                             std::vector<std::string>* ips, std::string* message);
  // The pod's runtime status, API objects and volumes come from `req`; `podIPs`
  // are the sandbox's (the node's for host-network pods).
  ContainerStartResult startContainer(const api::Pod& pod, const api::Container& c,
                                      const std::string& sandboxId,
                                      const std::vector<std::string>& podIPs,
                                      const ::runtime::v1::PodSandboxConfig& sandboxConfig,
                                      const SyncRequest& req, std::vector<std::string>* warnings);
  // The kubelet's doPodResizeAction: per resource (memory, then CPU) the pod cgroup
  // first when its limit grows, the containers (decreases first) through
  // UpdateContainerResources, the pod cgroup last when its limit shrinks. A memory limit
  // at or below current usage is not applied. Stops at the first error, which it
  // returns; the rest is retried on the next sync.
  absl::Status doPodResizeAction(const api::Pod& pod, const PodRuntimeStatus& status,
                                 const PodResizeActions& resize);
  // Memory usage of the pod's running containers (CRI ContainerStats), or of one.
  absl::StatusOr<int64_t> memoryUsage(const PodRuntimeStatus& status, const std::string& id = "");
  // The IPs a host-network pod has: the node's.
  std::vector<std::string> nodeIPs(const SyncRequest& req) const;
  // Makes sure the image is present; when that took an ImageStatus which found it,
  // `image` is set to it (its user is needed to create the container).
  absl::Status ensureImage(const api::Pod& pod, const api::Container& c, const EnvSources* sources,
                           std::string* reason, std::vector<std::string>* warnings,
                           std::vector<ContainerEvent>* events,
                           std::optional<::runtime::v1::Image>* image);
  // postStart after a successful StartContainer; on failure the container is
  // killed and `r` says PostStartHookError.
  void runPostStartHook(const api::Pod& pod, const api::Container& c, const std::string& id,
                        const std::string& podIP, ContainerStartResult* r);
  // The kubelet's killContainer: a Killing event with `message` ("Stopping
  // container <name>" when empty), the preStop hook when the grace period
  // allows (its time comes off the grace period), then StopContainer with at
  // least 2 s. The container's spec comes from `pod`, else from its annotations.
  // With `ordering` (a pod's sidecars), it waits for its turn after the hook.
  absl::Status killContainer(const api::Pod& pod, const ContainerRuntimeStatus& c,
                             const std::string& podIP, const std::string& message,
                             int64_t gracePeriodSeconds, std::vector<ContainerEvent>* events,
                             TerminationOrdering* ordering = nullptr);
  void removeDeadContainers(const PodRuntimeStatus& status);
  // /var/log/containers/<pod>_<namespace>_<container>-<id>.log
  std::string logLinkPath(const std::string& podName, const std::string& podNamespace,
                          const std::string& container, const std::string& id) const;

  cri::RuntimeService& runtime_;
  cri::ImageService& images_;
  RuntimeOptions opts_;
  HookRunner* hooks_ = nullptr;

  // What each container was last handed (CreateContainer, UpdateContainerResources).
  ActuatedResources actuated_;

  std::mutex cacheMu_;  // pool threads share these caches of immutable facts
  std::unordered_map<std::string, SandboxFacts> sandboxFacts_;
  std::unordered_map<std::string, ContainerRuntimeStatus> exitedDetails_;
};

}  // namespace agent::runtime

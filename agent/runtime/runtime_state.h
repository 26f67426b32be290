// What the container runtime says about pods: the agent's view of sandboxes and
// containers, rebuilt from CRI lists and statuses (labels and annotations carry
// the identity), so that nothing is lost when the agent restarts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/pod.h"

namespace agent::runtime {

enum class SandboxState { kReady, kNotReady };
enum class ContainerState { kCreated, kRunning, kExited, kUnknown };

const char* containerStateName(ContainerState s);

struct SandboxRuntimeStatus {
  std::string id;
  SandboxState state = SandboxState::kNotReady;
  uint32_t attempt = 0;
  int64_t createdAtNs = 0;
  std::string ip;                     // empty for host network or before networking
  std::vector<std::string> extraIps;  // additional IPs (dual stack)
  bool hostNetwork = false;
};

struct ContainerRuntimeStatus {
  std::string id;
  std::string name;  // the spec container name (io.kubernetes.container.name)
  ContainerState state = ContainerState::kUnknown;
  std::string sandboxId;
  uint32_t attempt = 0;
  int32_t restartCount = 0;  // from io.kubernetes.container.restartCount
  std::string hash;          // from io.kubernetes.container.hash
  std::string image;         // the image the spec asked for
  std::string imageRef;      // the resolved image (digest)
  int64_t createdAtNs = 0;
  int64_t startedAtNs = 0;
  int64_t finishedAtNs = 0;
  int32_t exitCode = 0;
  std::string reason;   // runtime's reason (e.g. OOMKilled, Completed, Error)
  std::string message;  // runtime's message, or the termination message
  // io.kubernetes.pod.terminationGracePeriod: how long the pod may take to stop.
  std::optional<int64_t> gracePeriodSeconds;
  // For stopping a container whose pod spec is gone: the annotations
  // io.kubernetes.container.preStopHandler and io.kubernetes.container.ports
  // (JSON; empty when absent). See hook_annotations.h.
  std::string preStopHandlerJson;
  std::string portsJson;
  // True when ContainerStatus filled in the exit details (ListContainers does not).
  bool detailed = false;
  // The CPU and memory requests and limits last handed to the runtime for this
  // container (ActuatedResources); unset when the agent has no record of it.
  std::optional<api::ResourceRequirements> actuated;
  // What the runtime reports the container runs with (ContainerStatus.resources.linux),
  // when it reports it: what a resize starts from when there is no record.
  struct Reported {
    int64_t cpuShares = 0;
    int64_t cpuQuota = 0;
    int64_t cpuPeriod = 0;
    int64_t memoryLimitInBytes = 0;
  };
  std::optional<Reported> reported;
};

// One pod as the runtime sees it. Sandboxes and containers are sorted newest first.
struct PodRuntimeStatus {
  std::string uid;
  std::string name;
  std::string namespace_;
  std::vector<SandboxRuntimeStatus> sandboxes;
  std::vector<ContainerRuntimeStatus> containers;

  // The newest container of that name, or null.
  const ContainerRuntimeStatus* findContainer(const std::string& name) const;
  // All containers of that name, newest first.
  std::vector<const ContainerRuntimeStatus*> containersNamed(const std::string& name) const;
  // The newest sandbox, or null.
  const SandboxRuntimeStatus* latestSandbox() const {
    return sandboxes.empty() ? nullptr : &sandboxes.front();
  }
  bool hasRunningContainer() const;
};

// Why a container is not running, as the last sync attempt found it
// (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError, ...).
struct WaitingReason {
  std::string reason;
  std::string message;
  bool operator==(const WaitingReason&) const = default;
};

// Sorts sandboxes and containers newest first (by creation time, then attempt).
void sortNewestFirst(PodRuntimeStatus& status);

}  // namespace agent::runtime

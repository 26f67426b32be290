// The NodeStatus the agent reports, computed as the kubelet's nodestatus setters
// compute it (pkg/kubelet/nodestatus, kubelet_node_status.go): capacity and
// allocatable, addresses, nodeInfo, images, and the Ready/MemoryPressure/DiskPressure/
// PIDPressure conditions with the kubelet's reasons and messages. Pure: everything
// comes in through NodeStatusInput, so the rules are table-tested;
// node_status_manager.h sends it, node_object.h wraps it in the registered Node.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/agent_config.h"
#include "agent/node/machine_info.h"
#include "core/event_loop.h"

namespace agent::node {

// --- What the agent knows about itself ---

// The kubelet's nodeStatusMaxImages and MaxNamesPerImageInNodeStatus.
inline constexpr int32_t kNodeStatusMaxImages = 50;
inline constexpr size_t kMaxNamesPerImage = 5;

// The configuration facts the Node is built from (see nodeConfigFacts()).
struct NodeConfigFacts {
  std::string nodeName;
  std::string hostname;                           // the Hostname address and kubernetes.io/hostname
  std::vector<std::string> nodeIPs;               // InternalIP addresses, primary first
  std::map<std::string, std::string> nodeLabels;  // --node-labels
  std::vector<config::Taint> registerWithTaints;
  std::string providerID;
  int32_t maxPods = 110;
  int32_t port = 10250;  // daemonEndpoints.kubeletEndpoint.Port
  std::map<std::string, std::string> kubeReserved;
  std::map<std::string, std::string> systemReserved;
  std::map<std::string, std::string> evictionHard;
  int32_t nodeStatusMaxImages = kNodeStatusMaxImages;  // -1: no limit
  std::string kubeletVersion;                          // nodeInfo.kubeletVersion, e.g. "v1.33.0"
  std::string kubeProxyVersion;        // deprecated; kubelets >= 1.33 leave it empty
  bool controllerAttachDetach = true;  // enableControllerAttachDetach
};

// The facts from the configuration; `nodeIPs` from --node-ip, else `detectedIP`.
NodeConfigFacts nodeConfigFacts(const config::AgentConfig& cfg, const std::string& detectedIP,
                                const std::string& kubeletVersion);

// What the container runtime said (CRI Version, Status and ListImages), gathered
// asynchronously by the agent.
struct RuntimeCondition {
  std::string type;  // "RuntimeReady", "NetworkReady"
  bool status = false;
  std::string reason;
  std::string message;
  bool operator==(const RuntimeCondition&) const = default;
};
struct RuntimeImage {
  std::vector<std::string> repoTags;
  std::vector<std::string> repoDigests;
  int64_t sizeBytes = 0;
  bool operator==(const RuntimeImage&) const = default;
};
struct RuntimeFacts {
  std::string runtimeName;     // VersionResponse.runtime_name ("containerd"); empty: unknown
  std::string runtimeVersion;  // VersionResponse.runtime_version; empty: Version failed
  // StatusResponse conditions; statusOk false when the Status call failed.
  bool statusOk = false;
  std::vector<RuntimeCondition> conditions;
  // ListImages; nullopt when it failed.
  std::optional<std::vector<RuntimeImage>> images;
};

// The kubelet's runtimeState: what the periodic runtime checks found. Updated from
// every RuntimeFacts by observeRuntime(); read by the Ready condition.
struct RuntimeHealth {
  std::optional<core::WallTime> lastRuntimeSync;  // last Status with RuntimeReady true
  std::string runtimeError;                       // "container runtime not ready: ..."
  std::string networkError;                       // "container runtime network not ready: ..."
};
// How long without a healthy runtime Status before "container runtime is down"
// (the kubelet's maxWaitForContainerRuntime).
inline constexpr auto kMaxWaitForContainerRuntime = std::chrono::seconds(30);
void observeRuntime(RuntimeHealth& health, const RuntimeFacts& facts, core::WallTime now);
// The errors that make the node NotReady, in the kubelet's order.
std::vector<std::string> runtimeErrors(const RuntimeHealth& health, core::WallTime now);

// --- The typed NodeStatus ---

// A resource amount and the format (k8s resource.Format) it is printed in:
// DecimalSI ("4", "3900m", "110") or BinarySI ("8152384Ki", "0").
struct ResourceAmount {
  int64_t value = 0;    // units, or thousandths when `milli`
  bool milli = false;   // cpu
  bool binary = false;  // memory, ephemeral-storage, hugepages-*
  std::string str() const;
  bool operator==(const ResourceAmount&) const = default;
};
using ResourceList = std::map<std::string, ResourceAmount>;

struct NodeCondition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  core::WallTime lastHeartbeatTime;
  core::WallTime lastTransitionTime;
  std::string reason;
  std::string message;
  bool operator==(const NodeCondition&) const = default;
};
struct NodeAddress {
  std::string type;  // "InternalIP" | "Hostname"
  std::string address;
  bool operator==(const NodeAddress&) const = default;
};
struct NodeSystemInfo {
  std::string machineID, systemUUID, bootID, kernelVersion, osImage, containerRuntimeVersion,
      kubeletVersion, kubeProxyVersion, operatingSystem, architecture;
  bool operator==(const NodeSystemInfo&) const = default;
};
struct ContainerImage {
  std::vector<std::string> names;
  int64_t sizeBytes = 0;
  bool operator==(const ContainerImage&) const = default;
};

struct NodeStatus {
  ResourceList capacity;
  ResourceList allocatable;
  std::vector<NodeCondition> conditions;
  std::vector<NodeAddress> addresses;
  int32_t kubeletPort = 0;
  NodeSystemInfo nodeInfo;
  std::vector<ContainerImage> images;

  const NodeCondition* condition(const std::string& type) const;
  // The v1.NodeStatus JSON (daemonEndpoints.kubeletEndpoint.Port is capitalised, as in
  // the API).
  nlohmann::json toJson() const;
  bool operator==(const NodeStatus&) const = default;
};

// True when the statuses differ in anything but the conditions' lastHeartbeatTime
// (the kubelet's nodeStatusHasChanged): a status that differs only there is sent
// only when nodeStatusReportFrequency has passed.
bool statusChanged(const NodeStatus& a, const NodeStatus& b);

// --- Computing ---

struct PressureFlags {
  bool memory = false;
  bool disk = false;
  bool pid = false;
};

struct NodeStatusInput {
  const NodeConfigFacts* config = nullptr;
  const MachineInfo* machine = nullptr;
  const RuntimeFacts* runtime = nullptr;  // the latest facts; nullptr when none yet
  RuntimeHealth health;
  std::vector<std::string> otherErrors;  // more NotReady causes (e.g. a PLEG check)
  PressureFlags pressure;
  const NodeStatus* previous = nullptr;  // for lastTransitionTime; nullptr at first
  core::WallTime now;
};

NodeStatus computeNodeStatus(const NodeStatusInput& in);

// What capacity is reserved away from allocatable: kubeReserved + systemReserved + the
// hard eviction thresholds (memory.available of memory, nodefs.available of
// ephemeral-storage), per resource in `capacity`. Bad quantities are skipped with a
// warning (the config loader validates them).
ResourceList allocatableReservation(const NodeConfigFacts& cfg, const ResourceList& capacity);

// "2024-01-01T00:00:00Z" (metav1.Time).
std::string formatTime(core::WallTime t);

}  // namespace agent::node

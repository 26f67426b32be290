// The typed core/v1 PodStatus the agent computes and reports (to the API server's
// pods/status, to /pods on the read-only port), and reads back from the API (the
// status a pod already has, so that an agent restart does not rewrite it). Times
// are RFC 3339 strings, as on the wire; empty means unset.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/json_decode.h"
#include "nlohmann/json.hpp"

namespace agent::api {

struct ContainerStateWaiting {
  std::string reason;
  std::string message;
  bool operator==(const ContainerStateWaiting&) const = default;
};
struct ContainerStateRunning {
  std::string startedAt;
  bool operator==(const ContainerStateRunning&) const = default;
};
struct ContainerStateTerminated {
  int32_t exitCode = 0;
  int32_t signal = 0;
  std::string reason;
  std::string message;
  std::string startedAt;
  std::string finishedAt;
  std::string containerID;
  bool operator==(const ContainerStateTerminated&) const = default;
};
struct ContainerState {
  std::optional<ContainerStateWaiting> waiting;
  std::optional<ContainerStateRunning> running;
  std::optional<ContainerStateTerminated> terminated;
  bool operator==(const ContainerState&) const = default;
};

// A container's resources as status reports them (core/v1 ResourceRequirements, the
// quantities as on the wire).
struct StatusResources {
  std::map<std::string, std::string> limits;
  std::map<std::string, std::string> requests;
  bool operator==(const StatusResources&) const = default;
};

struct ContainerStatus {
  std::string name;
  ContainerState state;
  ContainerState lastState;
  bool ready = false;
  int32_t restartCount = 0;
  std::string image;
  std::string imageID;
  std::string containerID;  // "containerd://<id>"
  std::optional<bool> started;
  // In-place resize: what the container runs with (resources) and what was allotted
  // to it (allocatedResources, only with InPlacePodVerticalScalingAllocatedStatus).
  std::optional<StatusResources> resources;
  std::map<std::string, std::string> allocatedResources;
  bool operator==(const ContainerStatus&) const = default;
};

struct PodCondition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
  std::string lastTransitionTime;
  std::string lastProbeTime;
  bool operator==(const PodCondition&) const = default;
};

struct PodStatus {
  std::string phase;  // Pending, Running, Succeeded, Failed, Unknown
  std::vector<PodCondition> conditions;
  std::string message;
  std::string reason;
  std::string hostIP;
  std::vector<std::string> hostIPs;
  std::string podIP;
  std::vector<std::string> podIPs;
  std::string startTime;
  std::string qosClass;
  std::vector<ContainerStatus> initContainerStatuses;
  std::vector<ContainerStatus> containerStatuses;
  // Never ready, never probed, no `started` (the kubelet's convertToAPIContainerStatuses
  // over spec.ephemeralContainers).
  std::vector<ContainerStatus> ephemeralContainerStatuses;
  bool operator==(const PodStatus&) const = default;
};

// The API's JSON shape (omitting unset fields as the API server does).
nlohmann::json toJson(const PodStatus& s);
nlohmann::json toJson(const ContainerStatus& s);

// The inverse of toJson: a core/v1 PodStatus as the API server returns it (the
// `status` member of a Pod). Types are checked strictly, unknown fields ignored,
// null or absent fields left unset; errors name the field path
// (`conditions[1].status: expected string, got number 1`). decode(toJson(s)) == s.
absl::StatusOr<PodStatus> decodePodStatus(const nlohmann::json& j);

absl::Status decodeJson(const core::JsonField& f, ContainerStateWaiting& out);
absl::Status decodeJson(const core::JsonField& f, ContainerStateRunning& out);
absl::Status decodeJson(const core::JsonField& f, ContainerStateTerminated& out);
absl::Status decodeJson(const core::JsonField& f, ContainerState& out);
absl::Status decodeJson(const core::JsonField& f, StatusResources& out);
absl::Status decodeJson(const core::JsonField& f, ContainerStatus& out);
absl::Status decodeJson(const core::JsonField& f, PodCondition& out);
absl::Status decodeJson(const core::JsonField& f, PodStatus& out);

}  // namespace agent::api

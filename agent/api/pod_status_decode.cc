// Decoding a core/v1 PodStatus from the API's JSON (see pod_status.h).
#include "agent/api/pod_status.h"
#include "core/status.h"

namespace agent::api {
namespace {

using core::decodeObject;
using core::JsonField;

// hostIPs and podIPs are lists of {"ip": "..."}; the agent keeps the addresses.
absl::Status decodeIpList(const JsonField& f, std::vector<std::string>& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_array()) return f.typeError("array");
  out.clear();
  for (size_t i = 0; i < f.value()->size(); ++i) {
    std::string ip;
    RETURN_IF_ERROR(decodeObject(f.at(i), "ip", ip));
    out.push_back(std::move(ip));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status decodeJson(const JsonField& f, ContainerStateWaiting& out) {
  return decodeObject(f, "reason", out.reason, "message", out.message);
}

absl::Status decodeJson(const JsonField& f, ContainerStateRunning& out) {
  return decodeObject(f, "startedAt", out.startedAt);
}

absl::Status decodeJson(const JsonField& f, ContainerStateTerminated& out) {
  return decodeObject(f, "exitCode", out.exitCode, "signal", out.signal, "reason", out.reason,
                      "message", out.message, "startedAt", out.startedAt, "finishedAt",
                      out.finishedAt, "containerID", out.containerID);
}

absl::Status decodeJson(const JsonField& f, ContainerState& out) {
  return decodeObject(f, "waiting", out.waiting, "running", out.running, "terminated",
                      out.terminated);
}

absl::Status decodeJson(const JsonField& f, StatusResources& out) {
  return decodeObject(f, "limits", out.limits, "requests", out.requests);
}

absl::Status decodeJson(const JsonField& f, ContainerStatus& out) {
  return decodeObject(f, "name", out.name, "state", out.state, "lastState", out.lastState, "ready",
                      out.ready, "restartCount", out.restartCount, "image", out.image, "imageID",
                      out.imageID, "containerID", out.containerID, "started", out.started,
                      "resources", out.resources, "allocatedResources", out.allocatedResources);
}

absl::Status decodeJson(const JsonField& f, PodCondition& out) {
  return decodeObject(f, "type", out.type, "status", out.status, "reason", out.reason, "message",
                      out.message, "lastTransitionTime", out.lastTransitionTime, "lastProbeTime",
                      out.lastProbeTime);
}

absl::Status decodeJson(const JsonField& f, PodStatus& out) {
  RETURN_IF_ERROR(decodeObject(f, "phase", out.phase, "conditions", out.conditions, "message",
                               out.message, "reason", out.reason, "hostIP", out.hostIP));
  RETURN_IF_ERROR(decodeIpList(f["hostIPs"], out.hostIPs));
  RETURN_IF_ERROR(decodeObject(f, "podIP", out.podIP));
  RETURN_IF_ERROR(decodeIpList(f["podIPs"], out.podIPs));
  return decodeObject(f, "startTime", out.startTime, "qosClass", out.qosClass,
                      "initContainerStatuses", out.initContainerStatuses, "containerStatuses",
                      out.containerStatuses, "ephemeralContainerStatuses",
                      out.ephemeralContainerStatuses);
}

absl::StatusOr<PodStatus> decodePodStatus(const nlohmann::json& j) {
  PodStatus s;
  RETURN_IF_ERROR(decodeJson(JsonField(j), s));
  return s;
}

}  // namespace agent::api

// The strategic merge patch the kubelet sends to pods/status (pkg/util/pod
// PatchPodStatus): the two-way diff between the status the API holds and the new
// one, under the patch strategy of core/v1 PodStatus, with the pod's UID under
// metadata as a precondition:
//   {"metadata":{"uid":"<uid>"},
//    "status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},...],
//              "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"..."}],
//              "containerStatuses":[...every container...], "phase":"Running"}}
// Sent as application/strategic-merge-patch+json. conditions merge by type, podIPs
// and hostIPs by ip (so other writers' conditions survive); every other list
// (containerStatuses, initContainerStatuses) is replaced whole; a field the new
// status drops is null. Keys are sorted, as Go's encoder sorts map keys.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/api/pod_status.h"

namespace agent::status {

// The patch body, or nullopt when `next` equals `apiStatus` (nothing to send).
std::optional<std::string> podStatusPatch(const std::string& uid, const api::PodStatus& apiStatus,
                                          const api::PodStatus& next);

// The two-way strategic merge diff of two PodStatus JSON objects (the `status`
// member of the patch); an empty object when they are equal.
nlohmann::json diffPodStatusJson(const nlohmann::json& original, const nlohmann::json& modified);

}  // namespace agent::status

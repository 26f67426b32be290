// The Node object the agent registers (the kubelet's initialNode: labels, the
// attach-detach annotation, taints, providerID, status) and the reconciliation of an
// existing Node's kubelet-owned labels on adoption (tryRegisterWithAPIServer).
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/api/pod.h"
#include "agent/node/node_status.h"

namespace agent::node {

inline constexpr char kLabelHostname[] = "kubernetes.io/hostname";
inline constexpr char kLabelOS[] = "kubernetes.io/os";
inline constexpr char kLabelArch[] = "kubernetes.io/arch";
inline constexpr char kLabelBetaOS[] = "beta.kubernetes.io/os";
inline constexpr char kLabelBetaArch[] = "beta.kubernetes.io/arch";
inline constexpr char kAnnotationControllerManagedAttach[] =
    "volumes.kubernetes.io/controller-managed-attach-detach";

// The labels and annotations the agent registers with (initialNode).
std::map<std::string, std::string> initialLabels(const NodeConfigFacts& cfg,
                                                 const std::string& arch);
std::map<std::string, std::string> initialAnnotations(const NodeConfigFacts& cfg);
// The Node to POST to /api/v1/nodes: metadata, spec.taints/providerID, and `status`.
nlohmann::json initialNodeJson(const NodeConfigFacts& cfg, const std::string& arch,
                               const NodeStatus& status);
// For an existing Node (create answered AlreadyExists): the strategic merge patch that
// reconciles the kubelet-owned labels and the attach-detach annotation with ours
// (tryRegisterWithAPIServer's updateDefaultLabels and
// reconcileCMADAnnotationWithExistingNode), or nullopt when they already agree.
// --node-labels outside the default set are not reconciled, as upstream.
std::optional<nlohmann::json> reconcileExistingNode(const NodeConfigFacts& cfg,
                                                    const std::string& arch,
                                                    const api::ObjectMeta& existing);

}  // namespace agent::node

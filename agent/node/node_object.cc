#include "agent/node/node_object.h"

namespace agent::node {

using nlohmann::json;

// --- The Node object ---

std::map<std::string, std::string> initialLabels(const NodeConfigFacts& cfg,
                                                 const std::string& arch) {
  std::map<std::string, std::string> labels = {
      {kLabelHostname, cfg.hostname}, {kLabelOS, "linux"},    {kLabelArch, arch},
      {kLabelBetaOS, "linux"},        {kLabelBetaArch, arch},
  };
  for (const auto& [k, v] : cfg.nodeLabels) labels[k] = v;  // --node-labels win
  return labels;
}

std::map<std::string, std::string> initialAnnotations(const NodeConfigFacts& cfg) {
  std::map<std::string, std::string> a;
  if (cfg.controllerAttachDetach) a[kAnnotationControllerManagedAttach] = "true";
  return a;
}

json initialNodeJson(const NodeConfigFacts& cfg, const std::string& arch,
                     const NodeStatus& status) {
  json meta = {{"name", cfg.nodeName}, {"labels", initialLabels(cfg, arch)}};
  auto annotations = initialAnnotations(cfg);
  if (!annotations.empty()) meta["annotations"] = annotations;
  json spec = json::object();
  if (!cfg.registerWithTaints.empty()) {
    json taints = json::array();
    for (const auto& t : cfg.registerWithTaints) {
      json tj = {{"key", t.key}, {"effect", t.effect}};
      if (!t.value.empty()) tj["value"] = t.value;
      taints.push_back(std::move(tj));
    }
    spec["taints"] = std::move(taints);
  }
  if (!cfg.providerID.empty()) spec["providerID"] = cfg.providerID;
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", std::move(meta)},
          {"spec", std::move(spec)},
          {"status", status.toJson()}};
}

std::optional<json> reconcileExistingNode(const NodeConfigFacts& cfg, const std::string& arch,
                                          const api::ObjectMeta& existing) {
  // updateDefaultLabels' list: the labels the kubelet owns on its Node.
  static const char* const kDefaultLabels[] = {
      kLabelHostname,
      "topology.kubernetes.io/zone",
      "topology.kubernetes.io/region",
      "failure-domain.beta.kubernetes.io/zone",
      "failure-domain.beta.kubernetes.io/region",
      "node.kubernetes.io/instance-type",
      "beta.kubernetes.io/instance-type",
      kLabelOS,
      kLabelArch,
      "node.kubernetes.io/windows-build",
      kLabelBetaOS,
      kLabelBetaArch,
  };
  auto ours = initialLabels(cfg, arch);
  json labels = json::object();
  for (const char* key : kDefaultLabels) {
    auto want = ours.find(key);
    if (want == ours.end()) continue;
    auto have = existing.labels.find(key);
    bool present = have != existing.labels.end();
    if (want->second.empty()) {
      if (present) labels[key] = nullptr;  // labels with empty values are removed
    } else if (!present || have->second != want->second) {
      labels[key] = want->second;
    }
  }
  json annotations = json::object();
  auto wantAnn = initialAnnotations(cfg);
  auto haveCmad = existing.annotations.find(kAnnotationControllerManagedAttach);
  auto wantCmad = wantAnn.find(kAnnotationControllerManagedAttach);
  if (wantCmad == wantAnn.end()) {
    if (haveCmad != existing.annotations.end()) {
      annotations[kAnnotationControllerManagedAttach] = nullptr;
    }
  } else if (haveCmad == existing.annotations.end() || haveCmad->second != wantCmad->second) {
    annotations[kAnnotationControllerManagedAttach] = wantCmad->second;
  }
  if (labels.empty() && annotations.empty()) return std::nullopt;
  json meta = json::object();
  if (!labels.empty()) meta["labels"] = std::move(labels);
  if (!annotations.empty()) meta["annotations"] = std::move(annotations);
  return json{{"metadata", std::move(meta)}};
}

}  // namespace agent::node

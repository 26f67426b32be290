#include "tests/fakeapi/service_account_admission.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/strategies.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

constexpr int64_t kWarnOnlyBoundTokenExpirationSeconds = 60 * 60 + 7;

std::string str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

json& objectField(json& obj, const char* key) {
  if (!obj.contains(key) || !obj[key].is_object()) obj[key] = json::object();
  return obj[key];
}

// admission.NewForbidden for a pod: named by metadata.name, else generateName (name
// generation has not happened yet when admission runs).
absl::Status forbiddenPod(const json& pod, const std::string& why) {
  const json meta = pod.value("metadata", json::object());
  std::string name = str(meta, "name");
  if (name.empty()) name = str(meta, "generateName");
  if (name.empty()) name = "Unknown";
  return apiError(403, "Forbidden", absl::StrCat("pods \"", name, "\" is forbidden: ", why), name,
                  "", "pods");
}

// Validate()'s rules for mirror pods.
absl::Status validateMirrorPod(const json& pod) {
  const json spec = pod.value("spec", json::object());
  if (!str(spec, "serviceAccountName").empty()) {
    return forbiddenPod(pod, "a mirror pod may not reference service accounts");
  }
  if (!podReferencedNames(pod, "secrets").empty()) {
    return forbiddenPod(pod, "a mirror pod may not reference secrets");
  }
  for (const auto& v : spec.value("volumes", json::array())) {
    const json proj = v.value("projected", json::object());
    for (const auto& src : proj.value("sources", json::array())) {
      if (src.is_object() && src.contains("serviceAccountToken")) {
        return forbiddenPod(pod, "a mirror pod may not use ServiceAccountToken volume projections");
      }
    }
  }
  return absl::OkStatus();
}

bool shouldAutomount(const json& sa, const json& spec) {
  auto it = spec.find("automountServiceAccountToken");  // the pod's preference wins
  if (it != spec.end() && it->is_boolean()) return it->get<bool>();
  it = sa.find("automountServiceAccountToken");
  if (it != sa.end() && it->is_boolean()) return it->get<bool>();
  return true;
}

void mountServiceAccountToken(json& spec, const ServiceAccountAdmissionEnv& env) {
  if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = json::array();
  std::string volumeName;
  bool hasVolume = false;
  for (const auto& v : spec["volumes"]) {
    if (absl::StartsWith(str(v, "name"), kServiceAccountVolumePrefix)) {
      volumeName = str(v, "name");
      hasVolume = true;
      break;
    }
  }
  if (volumeName.empty()) volumeName = kServiceAccountVolumePrefix + env.randomSuffix();
  const json mount = {
      {"name", volumeName}, {"readOnly", true}, {"mountPath", kDefaultApiTokenMountPath}};
  bool needsVolume = false;
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (auto& c : spec[list]) {
      if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array()) {
        c["volumeMounts"] = json::array();
      }
      bool existing = false;
      for (const auto& m : c["volumeMounts"]) {
        if (str(m, "mountPath") == kDefaultApiTokenMountPath) existing = true;
      }
      if (!existing) {
        c["volumeMounts"].push_back(mount);
        needsVolume = true;
      }
    }
  }
  if (!hasVolume && needsVolume) {
    json vol = serviceAccountTokenVolumeSource();
    spec["volumes"].push_back({{"name", volumeName}, {"projected", vol}});
  }
  if (spec["volumes"].empty()) spec.erase("volumes");
}

}  // namespace

json serviceAccountTokenVolumeSource() {
  return {
      {"sources",
       {{{"serviceAccountToken",
          {{"expirationSeconds", kWarnOnlyBoundTokenExpirationSeconds}, {"path", "token"}}}},
        {{"configMap",
          {{"name", kRootCaConfigMapName}, {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}},
        {{"downwardAPI",
          {{"items",
            {{{"path", "namespace"},
              {"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}}}}}}},
      {"defaultMode", 420}};
}

absl::Status admitServiceAccount(const std::string& ns, json& pod,
                                 const ServiceAccountAdmissionEnv& env) {
  const json meta = pod.value("metadata", json::object());
  const json annotations = meta.value("annotations", json::object());
  if (annotations.is_object() && annotations.contains("kubernetes.io/config.mirror")) {
    return validateMirrorPod(pod);
  }
  json& spec = objectField(pod, "spec");
  if (str(spec, "serviceAccountName").empty()) {
    spec["serviceAccountName"] = kDefaultServiceAccountName;
  }
  const std::string saName = str(spec, "serviceAccountName");
  spec["serviceAccount"] = saName;  // the deprecated field the v1 conversion fills
  const json* sa = env.getServiceAccount(saName);
  if (sa == nullptr) {
    return forbiddenPod(pod, absl::StrCat("error looking up service account ", ns, "/", saName,
                                          ": serviceaccount \"", saName, "\" not found"));
  }
  if (shouldAutomount(*sa, spec)) mountServiceAccountToken(spec, env);
  const json pull = spec.value("imagePullSecrets", json::array());
  const json saPull = sa->value("imagePullSecrets", json::array());
  if ((!pull.is_array() || pull.empty()) && saPull.is_array() && !saPull.empty()) {
    json copied = json::array();
    for (const auto& s : saPull) copied.push_back({{"name", str(s, "name")}});
    spec["imagePullSecrets"] = copied;
  }
  return absl::OkStatus();
}

std::vector<json> namespaceDefaultObjects(const std::string& ns, const std::string& caPem) {
  json sa = {{"kind", "ServiceAccount"},
             {"apiVersion", "v1"},
             {"metadata", {{"name", kDefaultServiceAccountName}, {"namespace", ns}}}};
  // pkg/controller/certificates/rootcacertpublisher/publisher.go.
  json cm = {
      {"kind", "ConfigMap"},
      {"apiVersion", "v1"},
      {"metadata",
       {{"name", kRootCaConfigMapName},
        {"namespace", ns},
        {"annotations",
         {{"kubernetes.io/description",
           "Contains a CA bundle that can be used to verify the kube-apiserver when using "
           "internal endpoints such as the internal service IP or kubernetes.default.svc. No "
           "other usage is guaranteed across distributions of Kubernetes clusters."}}}}},
      {"data", {{"ca.crt", caPem}}}};
  return {sa, cm};
}

}  // namespace cubelet::fakeapi

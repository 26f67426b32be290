#include "tests/fakeapi/strategies.h"

#include <set>

#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/ephemeral_containers.h"
#include "tests/fakeapi/pod_resize.h"
#include "tests/fakeapi/resources.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

const char* const kContainerLists[] = {"initContainers", "containers", "ephemeralContainers"};

void setDefault(json& obj, const std::string& key, json value) {
  if (!obj.contains(key) || obj[key].is_null()) obj[key] = std::move(value);
}

std::string defaultPullPolicy(const std::string& image) {
  // PullAlways for :latest or no tag (pkg/apis/core/v1/defaults.go SetDefaults_Container).
  std::string ref = image.substr(0, image.find('@'));
  if (ref.size() != image.size()) return "IfNotPresent";
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "Always";
  return ref.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void defaultPod(json& pod) {
  json& spec = pod["spec"];
  if (!spec.is_object()) spec = json::object();
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", json::object());
  setDefault(spec, "enableServiceLinks", true);
  setDefault(spec, "priority", 0);
  for (const char* list : kContainerLists) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (auto& c : spec[list]) {
      setDefault(c, "terminationMessagePath", "/dev/termination-log");
      setDefault(c, "terminationMessagePolicy", "File");
      setDefault(c, "imagePullPolicy", defaultPullPolicy(c.value("image", "")));
      setDefault(c, "resources", json::object());
      if (c.contains("ports") && c["ports"].is_array()) {
        for (auto& p : c["ports"]) setDefault(p, "protocol", "TCP");
      }
    }
  }
}

void collectFromContainers(const json& spec, const std::string& resource,
                           std::set<std::string>& out) {
  for (const char* list : kContainerLists) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (const auto& c : spec[list]) {
      for (const auto& e : c.value("env", json::array())) {
        const json from = e.value("valueFrom", json::object());
        const char* ref = resource == "configmaps" ? "configMapKeyRef" : "secretKeyRef";
        if (from.contains(ref)) out.insert(from[ref].value("name", ""));
      }
      for (const auto& e : c.value("envFrom", json::array())) {
        const char* ref = resource == "configmaps" ? "configMapRef" : "secretRef";
        if (e.contains(ref)) out.insert(e[ref].value("name", ""));
      }
    }
  }
}

// v1 Node.spec.podCIDR is podCIDRs[0]; a client that sets only podCIDR gets podCIDRs
// (Convert_v1_NodeSpec_To_core_NodeSpec and back).
void syncNodePodCidrs(json& node) {
  if (!node.contains("spec") || !node["spec"].is_object()) return;
  json& spec = node["spec"];
  const bool haveList =
      spec.contains("podCIDRs") && spec["podCIDRs"].is_array() && !spec["podCIDRs"].empty();
  if (haveList) {
    spec["podCIDR"] = spec["podCIDRs"][0];
  } else if (spec.contains("podCIDR") && spec["podCIDR"].is_string() &&
             !spec["podCIDR"].get<std::string>().empty()) {
    spec["podCIDRs"] = json::array({spec["podCIDR"]});
  }
}

json nodePodCidrs(const json& node) {
  return node.value("spec", json::object()).value("podCIDRs", json::array());
}

}  // namespace

absl::Status validateUpdate(const ResourceInfo& r, const std::string& subresource,
                            const std::string& name, json& obj, const json& old) {
  if (r.group.empty() && r.resource == "pods" && subresource == "resize") {
    return validateResize(r, name, obj, old);
  }
  if (r.group.empty() && r.resource == "pods" && subresource == "ephemeralcontainers") {
    return validateEphemeralContainers(r, name, obj, old);
  }
  if (!(r.group.empty() && r.resource == "nodes")) return absl::OkStatus();
  syncNodePodCidrs(obj);
  const json before = nodePodCidrs(old);
  if (!before.empty() && before != nodePodCidrs(obj)) {
    return invalid(r, name,
                   "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "
                   "\"\" to valid");
  }
  return absl::OkStatus();
}

std::set<std::string> podReferencedNames(const json& pod, const std::string& resource) {
  std::set<std::string> out;
  const json spec = pod.value("spec", json::object());
  const std::string podName = pod.value("metadata", json::object()).value("name", "");
  if (resource == "serviceaccounts") {
    out.insert(spec.value("serviceAccountName", "default"));
    return out;
  }
  for (const auto& v : spec.value("volumes", json::array())) {
    if (resource == "configmaps" && v.contains("configMap"))
      out.insert(v["configMap"].value("name", ""));
    if (resource == "secrets" && v.contains("secret"))
      out.insert(v["secret"].value("secretName", ""));
    if (resource == "persistentvolumeclaims") {
      if (v.contains("persistentVolumeClaim"))
        out.insert(v["persistentVolumeClaim"].value("claimName", ""));
      if (v.contains("ephemeral")) out.insert(podName + "-" + v.value("name", ""));
    }
    if (v.contains("projected")) {
      for (const auto& s : v["projected"].value("sources", json::array())) {
        if (resource == "configmaps" && s.contains("configMap"))
          out.insert(s["configMap"].value("name", ""));
        if (resource == "secrets" && s.contains("secret"))
          out.insert(s["secret"].value("name", ""));
      }
    }
    // Volume plugins that name a secret for their credentials.
    if (resource == "secrets") {
      for (const char* plugin : {"cephfs", "rbd", "iscsi", "flexVolume", "scaleIO", "storageos"}) {
        if (v.contains(plugin) && v[plugin].contains("secretRef")) {
          out.insert(v[plugin]["secretRef"].value("name", ""));
        }
      }
      if (v.contains("azureFile")) out.insert(v["azureFile"].value("secretName", ""));
      if (v.contains("csi") && v["csi"].contains("nodePublishSecretRef")) {
        out.insert(v["csi"]["nodePublishSecretRef"].value("name", ""));
      }
    }
  }
  if (resource == "secrets") {
    for (const auto& s : spec.value("imagePullSecrets", json::array()))
      out.insert(s.value("name", ""));
  }
  if (resource == "configmaps" || resource == "secrets") collectFromContainers(spec, resource, out);
  out.erase("");
  return out;
}

std::string podQosClass(const json& pod) {
  const json spec = pod.value("spec", json::object());
  bool any = false, guaranteed = true;
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& c : spec.value(list, json::array())) {
      const json res = c.value("resources", json::object());
      const json req = res.value("requests", json::object());
      const json lim = res.value("limits", json::object());
      for (const char* r : {"cpu", "memory"}) {
        if (req.contains(r) || lim.contains(r)) any = true;
        if (!lim.contains(r)) {
          guaranteed = false;
        } else if (req.contains(r) && req[r] != lim[r]) {
          guaranteed = false;
        }
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

absl::Status prepareForCreate(const ResourceInfo& r, json& obj, const WriteEnv& env) {
  if (r.group.empty() && r.resource == "pods") {
    defaultPod(obj);
    obj["status"] = {{"phase", "Pending"}, {"qosClass", podQosClass(obj)}};
    obj["metadata"]["generation"] = 1;
  } else if (r.group.empty() && r.resource == "services") {
    json& spec = obj["spec"];
    if (!spec.is_object()) spec = json::object();
    setDefault(spec, "type", "ClusterIP");
    setDefault(spec, "sessionAffinity", "None");
    if (spec["type"] != "ExternalName" && !spec.contains("clusterIP") && env.allocateClusterIP) {
      spec["clusterIP"] = env.allocateClusterIP();
    }
    if (spec.contains("clusterIP") && !spec.contains("clusterIPs")) {
      spec["clusterIPs"] = json::array({spec["clusterIP"]});
    }
    if (spec.contains("ports") && spec["ports"].is_array()) {
      for (auto& p : spec["ports"]) {
        setDefault(p, "protocol", "TCP");
        setDefault(p, "targetPort", p.value("port", 0));
      }
    }
    obj["status"] = {{"loadBalancer", json::object()}};
  } else if (r.group.empty() && r.resource == "nodes") {
    syncNodePodCidrs(obj);
  } else if (r.group.empty() && r.resource == "namespaces") {
    obj["status"] = {{"phase", "Active"}};
  } else if (r.group.empty() && r.resource == "secrets") {
    setDefault(obj, "type", "Opaque");
  } else if (r.group == "certificates.k8s.io") {
    // The requesting user is recorded in the spec (csrStrategy.PrepareForCreate).
    json& spec = obj["spec"];
    if (!spec.is_object()) spec = json::object();
    spec["username"] = env.user;
    spec["groups"] = env.groups;
    spec.erase("uid");
    obj["status"] = json::object();
  }
  return absl::OkStatus();
}

void prepareForUpdate(const ResourceInfo& r, const std::string& subresource, json& obj,
                      const json& old) {
  auto copyField = [](json& to, const json& from, const char* key) {
    if (from.contains(key)) {
      to[key] = from[key];
    } else {
      to.erase(key);
    }
  };
  if (subresource.empty()) {
    if (r.hasSubresource("status")) copyField(obj, old, "status");
    return;
  }
  if (subresource == "status") {
    copyField(obj, old, "spec");
    if (r.group.empty() && r.resource == "pods") {
      copyField(obj["metadata"], old["metadata"], "ownerReferences");
      if (obj.contains("status") && obj["status"].is_object() &&
          obj["status"].value("qosClass", "").empty() && old.contains("status")) {
        copyField(obj["status"], old["status"], "qosClass");
      }
    }
    if (r.group == "certificates.k8s.io") {
      // Conditions change only through /approval.
      json conditions = old.value("status", json::object()).value("conditions", json());
      if (!obj["status"].is_object()) obj["status"] = json::object();
      if (conditions.is_null()) {
        obj["status"].erase("conditions");
      } else {
        obj["status"]["conditions"] = conditions;
      }
    }
    return;
  }
  if (subresource == "resize") {
    prepareResize(obj, old);
    return;
  }
  if (subresource == "ephemeralcontainers") {
    prepareEphemeralContainers(obj, old);
    defaultPod(obj);  // the request's new containers get SetDefaults_EphemeralContainer
    return;
  }
  if (subresource == "approval") {
    json conditions = obj.value("status", json::object()).value("conditions", json());
    json next = old;
    next["metadata"] = obj["metadata"];
    if (!next["status"].is_object()) next["status"] = json::object();
    if (conditions.is_null()) {
      next["status"].erase("conditions");
    } else {
      next["status"]["conditions"] = conditions;
    }
    obj = std::move(next);
  }
}

std::optional<int64_t> gracefulDeletePeriod(const ResourceInfo& r, const json& obj,
                                            std::optional<int64_t> requested) {
  if (!(r.group.empty() && r.resource == "pods")) return std::nullopt;
  const json spec = obj.value("spec", json::object());
  int64_t period = requested ? *requested : spec.value("terminationGracePeriodSeconds", int64_t{0});
  if (spec.value("nodeName", "").empty()) period = 0;
  const std::string phase = obj.value("status", json::object()).value("phase", "");
  if (phase == "Failed" || phase == "Succeeded") period = 0;
  if (period < 0) period = 1;
  return period;
}

bool returnsDeletedObject(const ResourceInfo& r) { return r.group.empty() && r.resource == "pods"; }

bool podReferences(const json& pod, const std::string& resource, const std::string& name) {
  return podReferencedNames(pod, resource).count(name) > 0;
}

}  // namespace cubelet::fakeapi

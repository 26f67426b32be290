// NodeRestriction admission (plugin/pkg/admission/noderestriction in Kubernetes
// 1.32), declared in authz.h: what a node may write once the Node authorizer let
// the request through.
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/fakeapi/authz.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

absl::Status forbidden(std::string msg) { return absl::PermissionDeniedError(std::move(msg)); }

// The value at a path of object keys, or null.
const json* at(const json* obj, std::initializer_list<const char*> path) {
  const json* cur = obj;
  for (const char* k : path) {
    if (cur == nullptr || !cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string str(const json* obj, std::initializer_list<const char*> path) {
  const json* v = at(obj, path);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

// Semantic equality as apimachinery's: a missing field, null, {} and [] are equal.
bool semanticEmpty(const json* v) {
  return v == nullptr || v->is_null() || (v->is_object() && v->empty()) ||
         (v->is_array() && v->empty());
}
bool semanticEqual(const json* x, const json* y) {
  if (semanticEmpty(x) || semanticEmpty(y)) return semanticEmpty(x) && semanticEmpty(y);
  return *x == *y;
}

std::string operation(const std::string& verb) {
  if (verb == "create") return "CREATE";
  if (verb == "update" || verb == "patch") return "UPDATE";
  if (verb == "delete" || verb == "deletecollection") return "DELETE";
  return "";  // a read: nothing to admit
}

std::string labelNamespace(const std::string& key) {
  auto slash = key.find('/');
  return slash == std::string::npos ? "" : key.substr(0, slash);
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool inNamespace(const std::string& ns, const std::string& domain) {
  return ns == domain || endsWith(ns, "." + domain);
}

// k8s.io/kubelet/pkg/apis: labels a kubelet may set on its own Node.
bool isKubeletLabel(const std::string& key) {
  static const std::set<std::string> kLabels = {
      "kubernetes.io/hostname",
      "topology.kubernetes.io/zone",
      "topology.kubernetes.io/region",
      "failure-domain.beta.kubernetes.io/zone",
      "failure-domain.beta.kubernetes.io/region",
      "beta.kubernetes.io/instance-type",
      "node.kubernetes.io/instance-type",
      "kubernetes.io/os",
      "kubernetes.io/arch",
      "beta.kubernetes.io/os",
      "beta.kubernetes.io/arch",
  };
  if (kLabels.count(key) > 0) return true;
  std::string ns = labelNamespace(key);
  return inNamespace(ns, "kubelet.kubernetes.io") || inNamespace(ns, "node.kubernetes.io");
}

std::vector<std::string> forbiddenLabelChanges(const json* newLabels, const json* oldLabels) {
  std::map<std::string, std::string> a, b;
  for (const auto& [src, dst] : {std::pair{newLabels, &a}, std::pair{oldLabels, &b}}) {
    if (src == nullptr || !src->is_object()) continue;
    for (const auto& [k, v] : src->items())
      (*dst)[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  std::set<std::string> modified;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second != v) modified.insert(k);
  }
  for (const auto& [k, v] : b) {
    if (a.find(k) == a.end()) modified.insert(k);
  }
  std::vector<std::string> out;
  for (const auto& k : modified) {
    std::string ns = labelNamespace(k);
    bool k8s = inNamespace(ns, "kubernetes.io") || inNamespace(ns, "k8s.io");
    if (inNamespace(ns, "node-restriction.kubernetes.io") || (k8s && !isKubeletLabel(k))) {
      out.push_back(k);
    }
  }
  return out;  // sorted, as sets.String.List()
}

absl::Status admitNode(const std::string& node, const RequestAttributes& a, const json* oldObj,
                       const json* newObj) {
  std::string requested = a.name;
  if (requested.empty() && a.verb == "create") requested = str(newObj, {"metadata", "name"});
  if (requested != node) {
    return forbidden(
        absl::StrCat("node \"", node, "\" is not allowed to modify node \"", requested, "\""));
  }
  std::string op = operation(a.verb);
  if (op == "CREATE") {
    if (newObj == nullptr) return forbidden("unexpected type <nil>");
    if (!semanticEmpty(at(newObj, {"spec", "configSource"}))) {
      return forbidden(absl::StrCat(
          "node \"", node, "\" is not allowed to create pods with a non-nil configSource"));
    }
    auto bad = forbiddenLabelChanges(at(newObj, {"metadata", "labels"}), nullptr);
    if (!bad.empty()) {
      return forbidden(absl::StrCat(
          "node \"", node,
          "\" is not allowed to set the following labels: ", absl::StrJoin(bad, ", ")));
    }
  } else if (op == "UPDATE") {
    if (newObj == nullptr || oldObj == nullptr) return forbidden("unexpected type <nil>");
    const json* cs = at(newObj, {"spec", "configSource"});
    if (!semanticEmpty(cs) && !semanticEqual(cs, at(oldObj, {"spec", "configSource"}))) {
      return forbidden(
          absl::StrCat("node \"", node,
                       "\" is not allowed to update configSource to a new non-nil configSource"));
    }
    if (!semanticEqual(at(newObj, {"spec", "taints"}), at(oldObj, {"spec", "taints"}))) {
      return forbidden(absl::StrCat("node \"", node, "\" is not allowed to modify taints"));
    }
    auto bad = forbiddenLabelChanges(at(newObj, {"metadata", "labels"}),
                                     at(oldObj, {"metadata", "labels"}));
    if (!bad.empty()) {
      return forbidden(absl::StrCat("is not allowed to modify labels: ", absl::StrJoin(bad, ", ")));
    }
  }
  return absl::OkStatus();
}

// Whether the pod spec names a Secret / ConfigMap anywhere (podutil.VisitPod*Names).
// Whether a container of any kind takes env (valueFrom.<keyRef>) or envFrom
// (<fromRef>) from an object of one kind.
bool envReferences(const json& spec, const char* keyRef, const char* fromRef) {
  for (const char* kind : {"containers", "initContainers", "ephemeralContainers"}) {
    const json* cs = at(&spec, {kind});
    if (cs == nullptr || !cs->is_array()) continue;
    for (const auto& c : *cs) {
      if (const json* env = at(&c, {"env"}); env && env->is_array()) {
        for (const auto& e : *env) {
          if (at(&e, {"valueFrom", keyRef}) != nullptr) return true;
        }
      }
      if (const json* ef = at(&c, {"envFrom"}); ef && ef->is_array()) {
        for (const auto& e : *ef) {
          if (at(&e, {fromRef}) != nullptr) return true;
        }
      }
    }
  }
  return false;
}

bool referencesSecrets(const json& spec) {
  if (!semanticEmpty(at(&spec, {"imagePullSecrets"}))) return true;
  if (envReferences(spec, "secretKeyRef", "secretRef")) return true;
  if (const json* vols = at(&spec, {"volumes"}); vols && vols->is_array()) {
    for (const auto& v : *vols) {
      if (at(&v, {"secret"}) || at(&v, {"azureFile"}) || at(&v, {"cephfs", "secretRef"}) ||
          at(&v, {"cinder", "secretRef"}) || at(&v, {"flexVolume", "secretRef"}) ||
          at(&v, {"iscsi", "secretRef"}) || at(&v, {"rbd", "secretRef"}) ||
          at(&v, {"scaleIO", "secretRef"}) || at(&v, {"storageos", "secretRef"}) ||
          at(&v, {"csi", "nodePublishSecretRef"})) {
        return true;
      }
      if (const json* srcs = at(&v, {"projected", "sources"}); srcs && srcs->is_array()) {
        for (const auto& s : *srcs) {
          if (at(&s, {"secret"}) != nullptr) return true;
        }
      }
    }
  }
  return false;
}

bool referencesConfigMaps(const json& spec) {
  if (envReferences(spec, "configMapKeyRef", "configMapRef")) return true;
  if (const json* vols = at(&spec, {"volumes"}); vols && vols->is_array()) {
    for (const auto& v : *vols) {
      if (at(&v, {"configMap"}) != nullptr) return true;
      if (const json* srcs = at(&v, {"projected", "sources"}); srcs && srcs->is_array()) {
        for (const auto& s : *srcs) {
          if (at(&s, {"configMap"}) != nullptr) return true;
        }
      }
    }
  }
  return false;
}

absl::Status admitMirrorPodCreate(const std::string& node, const json* pod) {
  if (pod == nullptr) return forbidden("unexpected type <nil>");
  const json* mirror = at(pod, {"metadata", "annotations", "kubernetes.io/config.mirror"});
  if (mirror == nullptr) {
    return forbidden(
        absl::StrCat("pod does not have \"kubernetes.io/config.mirror\" annotation, node \"", node,
                     "\" can only create mirror pods"));
  }
  std::string q = absl::StrCat("node \"", node, "\"");
  if (str(pod, {"spec", "nodeName"}) != node) {
    return forbidden(absl::StrCat(q, " can only create pods with spec.nodeName set to itself"));
  }
  const json* owners = at(pod, {"metadata", "ownerReferences"});
  size_t n = owners != nullptr && owners->is_array() ? owners->size() : 0;
  if (n > 1) {
    return forbidden(
        absl::StrCat(q, " can only create pods with a single owner reference set to itself"));
  }
  if (n == 0) {
    return forbidden(
        absl::StrCat(q, " can only create pods with an owner reference set to itself"));
  }
  const json& owner = (*owners)[0];
  if (str(&owner, {"apiVersion"}) != "v1" || str(&owner, {"kind"}) != "Node" ||
      str(&owner, {"name"}) != node) {
    return forbidden(
        absl::StrCat(q, " can only create pods with an owner reference set to itself"));
  }
  const json* controller = at(&owner, {"controller"});
  if (controller == nullptr || !controller->is_boolean() || !controller->get<bool>()) {
    return forbidden(
        absl::StrCat(q, " can only create pods with a controller owner reference set to itself"));
  }
  const json* block = at(&owner, {"blockOwnerDeletion"});
  if (block != nullptr && block->is_boolean() && block->get<bool>()) {
    return forbidden(absl::StrCat(q, " must not set blockOwnerDeletion on an owner reference"));
  }
  static const json kEmpty = json::object();
  const json* spec = at(pod, {"spec"});
  if (spec == nullptr) spec = &kEmpty;
  if (!str(spec, {"serviceAccountName"}).empty()) {
    return forbidden(absl::StrCat(q, " can not create pods that reference a service account"));
  }
  if (referencesSecrets(*spec)) {
    return forbidden(absl::StrCat(q, " can not create pods that reference secrets"));
  }
  if (referencesConfigMaps(*spec)) {
    return forbidden(absl::StrCat(q, " can not create pods that reference configmaps"));
  }
  if (const json* vols = at(spec, {"volumes"}); vols && vols->is_array()) {
    for (const auto& v : *vols) {
      if (const json* srcs = at(&v, {"projected", "sources"}); srcs && srcs->is_array()) {
        for (const auto& s : *srcs) {
          if (at(&s, {"clusterTrustBundle"}) != nullptr) {
            return forbidden(
                absl::StrCat(q, " can not create pods that reference clustertrustbundles"));
          }
        }
      }
    }
    for (const auto& v : *vols) {
      if (at(&v, {"persistentVolumeClaim"}) != nullptr) {
        return forbidden(
            absl::StrCat(q, " can not create pods that reference persistentvolumeclaims"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status admitPod(const std::string& node, const RequestAttributes& a, const json* oldObj,
                      const json* newObj) {
  std::string op = operation(a.verb);
  std::string q = absl::StrCat("node \"", node, "\"");
  if (a.subresource.empty()) {
    if (op == "CREATE") return admitMirrorPodCreate(node, newObj);
    if (op == "DELETE") {
      if (oldObj == nullptr) {
        return absl::NotFoundError(absl::StrCat("pods \"", a.name, "\" not found"));
      }
      if (str(oldObj, {"spec", "nodeName"}) != node) {
        return forbidden(absl::StrCat(q, " can only delete pods with spec.nodeName set to itself"));
      }
      return absl::OkStatus();
    }
    return forbidden(absl::StrCat("unexpected operation \"", op, "\", ", q,
                                  " can only create and delete mirror pods"));
  }
  if (a.subresource == "status") {
    if (op != "UPDATE") return forbidden(absl::StrCat("unexpected operation \"", op, "\""));
    if (oldObj == nullptr || newObj == nullptr) return forbidden("unexpected type <nil>");
    if (str(oldObj, {"spec", "nodeName"}) != node) {
      return forbidden(
          absl::StrCat(q, " can only update pod status for pods with spec.nodeName set to itself"));
    }
    if (!semanticEqual(at(oldObj, {"metadata", "labels"}), at(newObj, {"metadata", "labels"}))) {
      return forbidden(absl::StrCat(q, " cannot update labels through pod status"));
    }
    if (!semanticEqual(at(oldObj, {"status", "resourceClaimStatuses"}),
                       at(newObj, {"status", "resourceClaimStatuses"}))) {
      return forbidden(absl::StrCat(q, " cannot update resource claim statues"));
    }
    return absl::OkStatus();
  }
  if (a.subresource == "eviction") {
    if (op != "CREATE") return forbidden(absl::StrCat("unexpected operation ", op));
    std::string pod = a.name.empty() ? str(newObj, {"metadata", "name"}) : a.name;
    if (pod.empty()) return forbidden("could not determine pod from request data");
    if (oldObj == nullptr) return absl::NotFoundError(absl::StrCat("pods \"", pod, "\" not found"));
    if (str(oldObj, {"spec", "nodeName"}) != node) {
      return forbidden(
          absl::StrCat("node ", node, " can only evict pods with spec.nodeName set to itself"));
    }
    return absl::OkStatus();
  }
  return forbidden(absl::StrCat("unexpected pod subresource \"", a.subresource,
                                "\", only 'status' and 'eviction' are allowed"));
}

absl::Status admitToken(const std::string& node, const RequestAttributes& a, const json* pod,
                        const json* tokenRequest) {
  if (operation(a.verb) != "CREATE" || a.subresource != "token") return absl::OkStatus();
  if (tokenRequest == nullptr) return forbidden("unexpected type <nil>");
  const json* ref = at(tokenRequest, {"spec", "boundObjectRef"});
  if (ref == nullptr || str(ref, {"apiVersion"}) != "v1" || str(ref, {"kind"}) != "Pod" ||
      str(ref, {"name"}).empty()) {
    return forbidden("node requested token not bound to a pod");
  }
  if (str(ref, {"uid"}).empty()) {
    return forbidden("node requested token with a pod binding without a uid");
  }
  if (pod == nullptr) {
    return absl::NotFoundError(absl::StrCat("pods \"", str(ref, {"name"}), "\" not found"));
  }
  std::string uid = str(pod, {"metadata", "uid"});
  if (!uid.empty() && uid != str(ref, {"uid"})) {
    return forbidden(absl::StrCat("the UID in the bound object reference (", str(ref, {"uid"}),
                                  ") does not match the UID in record. The object might have been "
                                  "deleted and then recreated"));
  }
  if (str(pod, {"spec", "nodeName"}) != node) {
    return forbidden("node requested token bound to a pod scheduled on a different node");
  }
  return absl::OkStatus();
}

// Leases and CSINodes: only the object named like the node.
absl::Status admitNamedLikeNode(const std::string& node, const RequestAttributes& a,
                                const json* newObj, const std::string& what) {
  std::string name = a.name;
  if (operation(a.verb) == "CREATE") name = str(newObj, {"metadata", "name"});
  if (name != node) {
    return forbidden(
        absl::StrCat("can only access ", what, " with the same name as the requesting node"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status admitNodeWrite(const RequestAttributes& a, const nlohmann::json* oldObj,
                            const nlohmann::json* newObj) {
  auto node = nodeIdentity(a.user);
  if (!node) return absl::OkStatus();
  std::string op = operation(a.verb);
  if (op.empty()) return absl::OkStatus();
  if (node->empty()) {
    return forbidden(absl::StrCat("could not determine node from user \"", a.user.name, "\""));
  }
  const std::string& g = a.apiGroup;
  const std::string& r = a.resource;
  if (g == "" && r == "pods") return admitPod(*node, a, oldObj, newObj);
  if (g == "" && r == "nodes") return admitNode(*node, a, oldObj, newObj);
  if (g == "" && r == "persistentvolumeclaims") {
    // Only status updates; the field-by-field comparison is not modelled.
    if (a.subresource != "status") return forbidden("may only update PVC status");
    if (op != "UPDATE") return forbidden(absl::StrCat("unexpected operation \"", op, "\""));
    return absl::OkStatus();
  }
  if (g == "" && r == "serviceaccounts") return admitToken(*node, a, oldObj, newObj);
  if (g == "coordination.k8s.io" && r == "leases") {
    if (a.namespace_ != "kube-node-lease") {
      return forbidden("can only access leases in the \"kube-node-lease\" system namespace");
    }
    return admitNamedLikeNode(*node, a, newObj, "node lease");
  }
  if (g == "storage.k8s.io" && r == "csinodes")
    return admitNamedLikeNode(*node, a, newObj, "CSINode");
  return absl::OkStatus();
}

}  // namespace cubelet::fakeapi

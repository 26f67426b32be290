#include "tests/fakeapi/resources.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "tests/fakeapi/api_errors.h"

namespace cubelet::fakeapi {

bool ResourceInfo::hasSubresource(std::string_view s) const {
  return std::find(subresources.begin(), subresources.end(), s) != subresources.end();
}

std::string ResourceInfo::collectionPath(const std::string& ns) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) p += "/namespaces/" + ns;
  return p + "/" + resource;
}

std::string ApiPath::objectPath() const {
  return info->collectionPath(ns) + (name.empty() ? "" : "/" + name);
}

const std::vector<ResourceInfo>& allResources() {
  // Field labels as registered upstream (pkg/registry/core/*/strategy.go ToSelectableFields
  // and the conversion funcs in pkg/apis/*/v1/conversion.go).
  static const std::vector<ResourceInfo> kResources = {
      {"",
       "v1",
       "pods",
       "Pod",
       true,
       {"status", "resize", "ephemeralcontainers"},
       {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}},
      {"", "v1", "nodes", "Node", false, {"status"}, {"spec.unschedulable"}},
      {"", "v1", "services", "Service", true, {"status"}, {"spec.clusterIP", "spec.type"}},
      {"", "v1", "configmaps", "ConfigMap", true, {}, {}},
      {"", "v1", "secrets", "Secret", true, {}, {"type"}},
      // serviceaccounts/token takes only create (TokenRequest, token_request.h).
      {"", "v1", "serviceaccounts", "ServiceAccount", true, {"token"}, {}},
      {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, {"status"}, {}},
      {"", "v1", "persistentvolumes", "PersistentVolume", false, {"status"}, {}},
      {"",
       "v1",
       "events",
       "Event",
       true,
       {},
       {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}},
      {"", "v1", "namespaces", "Namespace", false, {"status"}, {"status.phase"}},
      {"coordination.k8s.io", "v1", "leases", "Lease", true, {}, {}},
      {"node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", false, {}, {}},
      {"certificates.k8s.io",
       "v1",
       "certificatesigningrequests",
       "CertificateSigningRequest",
       false,
       {"status", "approval"},
       {"spec.signerName"}},
  };
  return kResources;
}

const ResourceInfo* findResource(std::string_view group, std::string_view version,
                                 std::string_view resource) {
  for (const auto& r : allResources()) {
    if (r.group == group && r.version == version && r.resource == resource) return &r;
  }
  return nullptr;
}

absl::StatusOr<ApiPath> parseApiPath(std::string_view path) {
  std::vector<std::string> seg = absl::StrSplit(std::string(path), '/', absl::SkipEmpty());
  std::string group, version;
  size_t i = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    i = 3;
  } else {
    return pathNotFound();
  }
  std::vector<std::string> rest(seg.begin() + i, seg.end());
  ApiPath out;
  // /namespaces/<ns>/<resource>/... addresses a namespaced resource; /namespaces/<ns>[/status]
  // is the Namespace object itself.
  if (group.empty() && rest.size() >= 3 && rest[0] == "namespaces" && rest[2] != "status" &&
      rest[2] != "finalize") {
    out.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
    if (out.ns.empty()) return pathNotFound();
  } else if (!group.empty() && rest.size() >= 3 && rest[0] == "namespaces") {
    out.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return pathNotFound();
  out.info = findResource(group, version, rest[0]);
  if (out.info == nullptr) return pathNotFound();
  if (!out.ns.empty() && !out.info->namespaced) return pathNotFound();
  if (rest.size() >= 2) out.name = rest[1];
  if (out.info->namespaced && out.ns.empty() && !out.name.empty()) return pathNotFound();
  if (rest.size() == 3) {
    if (!out.info->hasSubresource(rest[2])) return pathNotFound();
    out.subresource = rest[2];
  }
  return out;
}

}  // namespace cubelet::fakeapi

// The resource registry of the fake API server: which kinds it serves (group, version,
// plural, scope, subresources, field labels) and the parsing of request paths such as
// /api/v1/namespaces/default/pods/x/status into a resource, namespace, name and subresource.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cubelet::fakeapi {

struct ResourceInfo {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string resource;  // plural, "pods"
  std::string kind;      // "Pod"
  bool namespaced = true;
  std::vector<std::string> subresources;  // "status", "approval", "token"
  // Field selector labels beyond metadata.name / metadata.namespace.
  std::vector<std::string> fieldLabels;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string listKind() const { return kind + "List"; }
  // "pods", "leases.coordination.k8s.io": how upstream names the resource in messages.
  std::string qualifiedName() const { return group.empty() ? resource : resource + "." + group; }
  bool hasSubresource(std::string_view s) const;
  // The API path of the collection in `ns` ("" = cluster scope / all namespaces).
  std::string collectionPath(const std::string& ns) const;
};

// Every resource the fake serves.
const std::vector<ResourceInfo>& allResources();
const ResourceInfo* findResource(std::string_view group, std::string_view version,
                                 std::string_view resource);

// A request path resolved against the registry.
struct ApiPath {
  const ResourceInfo* info = nullptr;
  std::string ns;           // empty: cluster-scoped, or all namespaces for a namespaced list
  std::string name;         // empty: the collection
  std::string subresource;  // "status", ...
  bool isCollection() const { return name.empty(); }
  std::string objectPath() const;  // the object's canonical path (without subresource)
};

// Resolves a path (no query). Unknown paths → 404 NotFound Status.
absl::StatusOr<ApiPath> parseApiPath(std::string_view path);

}  // namespace cubelet::fakeapi

// Kind-specific behaviour of the fake API server's registry, after the upstream REST
// strategies (pkg/registry/*/strategy.go): defaults and reset fields on create, what the
// main resource and the status/approval/resize subresources may change on update, graceful
// deletion of pods, and which objects a pod references (for the Node authorizer).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cubelet::fakeapi {

struct ResourceInfo;

// Who is writing, and services the strategies need from the store.
struct WriteEnv {
  std::string user;
  std::vector<std::string> groups;
  std::function<std::string()> allocateClusterIP;
};

// Defaults and reset fields for a new object (metadata system fields are the store's).
absl::Status prepareForCreate(const ResourceInfo& r, nlohmann::json& obj, const WriteEnv& env);

// Makes `obj` (the requested new state) what the main resource ("") or subresource
// may change of `old`: main-resource writes keep the status of kinds with a status
// subresource; status writes keep the spec (and for pods the owner references);
// approval writes change only status.conditions; a pod's resize writes only its
// containers' resources and resizePolicy (pod_resize.h).
void prepareForUpdate(const ResourceInfo& r, const std::string& subresource, nlohmann::json& obj,
                      const nlohmann::json& old);

// Checks an update of the main resource or a subresource after prepareForUpdate, as
// the kinds' ValidateUpdate do (the rules cubelet's paths meet): a Node's
// spec.podCIDRs may only change from unset to set (ValidateNodeUpdate); a pod's resize
// changes only what ValidatePodResize allows (pod_resize.h). Also keeps a Node's
// spec.podCIDR and spec.podCIDRs in step, as the v1 conversion does.
absl::Status validateUpdate(const ResourceInfo& r, const std::string& subresource,
                            const std::string& name, nlohmann::json& obj,
                            const nlohmann::json& old);

// The grace period a delete uses (podStrategy.CheckGracefulDelete), or nullopt when the
// kind deletes at once.
std::optional<int64_t> gracefulDeletePeriod(const ResourceInfo& r, const nlohmann::json& obj,
                                            std::optional<int64_t> requested);

// Whether DELETE answers with the object (pods) rather than a Success Status.
bool returnsDeletedObject(const ResourceInfo& r);

// True when `pod` references the object: resource is configmaps, secrets,
// persistentvolumeclaims or serviceaccounts.
bool podReferences(const nlohmann::json& pod, const std::string& resource, const std::string& name);
// Every name of that kind the pod references (serviceaccounts: its service account,
// "default" when unset).
std::set<std::string> podReferencedNames(const nlohmann::json& pod, const std::string& resource);

// Guaranteed / Burstable / BestEffort from the containers' requests and limits.
std::string podQosClass(const nlohmann::json& pod);

}  // namespace cubelet::fakeapi

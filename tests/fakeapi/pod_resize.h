// The pods/resize subresource of the fake API server, after upstream's
// podResizeStrategy (pkg/registry/core/pod/strategy.go) and ValidatePodResize: only
// the containers' resources and resizePolicy change through it (sidecar init
// containers' too); everything else is the stored pod's. What it refuses is a 422 with
// upstream's words: other resources than cpu and memory, a removed request or limit, a
// request above its limit, a non-sidecar init container's resources, containers added,
// removed, renamed or reordered, and a change of the pod's QoS class.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cubelet::fakeapi {

struct ResourceInfo;

// dropNonResizeUpdates: `obj` becomes the stored pod with the containers' resources
// and resizePolicy of `obj`. With containers added, removed, renamed or reordered, the
// spec is left as sent for validateResize to refuse.
void prepareResize(nlohmann::json& obj, const nlohmann::json& old);

// ValidatePodResize, after prepareResize.
absl::Status validateResize(const ResourceInfo& r, const std::string& name,
                            const nlohmann::json& obj, const nlohmann::json& old);

}  // namespace cubelet::fakeapi

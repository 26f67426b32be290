// PATCH bodies as the kube-apiserver applies them: JSON merge patch (RFC 7386), strategic
// merge patch (merge keys and directives for the shapes of the core types cubelet sends)
// and JSON patch (RFC 6902).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace cubelet::fakeapi {

// Content types accepted for PATCH.
inline constexpr char kMergePatch[] = "application/merge-patch+json";
inline constexpr char kStrategicMergePatch[] = "application/strategic-merge-patch+json";
inline constexpr char kJsonPatch[] = "application/json-patch+json";

// Applies `patchBody` of media type `contentType` (parameters such as "; charset=utf-8"
// ignored) to `target`. 415 for other types, 400 for bodies that do not parse, 422 for
// JSON patches that cannot be applied.
absl::StatusOr<nlohmann::json> applyPatch(const nlohmann::json& target,
                                          const std::string& contentType,
                                          const std::string& patchBody);

// Strategic merge patch of `patch` onto `original` for an object of kind `kind`.
absl::StatusOr<nlohmann::json> strategicMerge(const nlohmann::json& original,
                                              const nlohmann::json& patch, const std::string& kind);

}  // namespace cubelet::fakeapi

// Decoding of whole API objects (ConfigMap, Secret, PersistentVolume, ...): the
// kind/apiVersion check and the root of the decode, shared by the object files.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/json_decode.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace agent::api {

// An object's "kind" (when set) must be `want` and its "apiVersion" (when set) "v1".
absl::Status checkKind(const core::JsonField& f, const std::string& want);

// Decodes `j` as a `kind` object with decodeJson(JsonField, T&).
template <typename T>
absl::StatusOr<T> decodeRoot(const nlohmann::json& j, const std::string& kind) {
  core::JsonField root(j);
  if (!root.isSet() || !j.is_object()) return root.typeError(absl::StrCat("a ", kind, " object"));
  T out;
  RETURN_IF_ERROR(decodeJson(root, out));
  return out;
}

}  // namespace agent::api

#include "agent/api/object_decode.h"

namespace agent::api {

absl::Status checkKind(const core::JsonField& f, const std::string& want) {
  RETURN_IF_ERROR(f.expectObject());
  std::string kind, apiVersion;
  RETURN_IF_ERROR(core::decodeObject(f, "kind", kind, "apiVersion", apiVersion));
  if (!kind.empty() && kind != want) {
    return f["kind"].error(
        absl::StrCat("Unsupported value: \"", kind, "\": expected \"", want, "\""));
  }
  if (!apiVersion.empty() && apiVersion != "v1") {
    return f["apiVersion"].error(
        absl::StrCat("Unsupported value: \"", apiVersion, "\": expected \"v1\""));
  }
  return absl::OkStatus();
}

}  // namespace agent::api

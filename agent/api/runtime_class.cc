#include "agent/api/runtime_class.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace agent::api {

absl::Status decodeJson(const core::JsonField& f, RuntimeClass& out) {
  RETURN_IF_ERROR(f.expectObject());
  std::string kind, apiVersion;
  RETURN_IF_ERROR(core::decodeObject(f, "kind", kind, "apiVersion", apiVersion));
  if (!kind.empty() && kind != "RuntimeClass") {
    return f["kind"].error(
        absl::StrCat("Unsupported value: \"", kind, "\": expected \"RuntimeClass\""));
  }
  if (!apiVersion.empty() && apiVersion != "node.k8s.io/v1") {
    return f["apiVersion"].error(
        absl::StrCat("Unsupported value: \"", apiVersion, "\": expected \"node.k8s.io/v1\""));
  }
  RETURN_IF_ERROR(core::decodeObject(f["metadata"], "name", out.name));
  RETURN_IF_ERROR(core::decodeObject(f, "handler", out.handler));
  if (out.handler.empty()) return f["handler"].error("Required value");
  return core::decodeObject(f["overhead"], "podFixed", out.overheadPodFixed);
}

absl::StatusOr<RuntimeClass> decodeRuntimeClass(const nlohmann::json& j) {
  core::JsonField root(j);
  if (!root.isSet() || !j.is_object()) return root.typeError("a RuntimeClass object");
  RuntimeClass out;
  RETURN_IF_ERROR(decodeJson(root, out));
  return out;
}

}  // namespace agent::api

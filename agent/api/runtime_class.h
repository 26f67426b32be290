// The typed RuntimeClass (node.k8s.io/v1, cluster-scoped) as the node agent needs it:
// the CRI runtime handler a pod naming it runs with, and its pod overhead. The
// scheduling part is the scheduler's and is not kept.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "agent/api/quantity.h"
#include "core/json_decode.h"
#include "nlohmann/json.hpp"

namespace agent::api {

struct RuntimeClass {
  std::string name{};
  std::string handler{};
  std::map<std::string, Quantity> overheadPodFixed{};  // overhead.podFixed
};

// `kind` (RuntimeClass) and `apiVersion` (node.k8s.io/v1) may be absent (list items)
// but must match when present; `handler` is required. Errors name the field.
absl::StatusOr<RuntimeClass> decodeRuntimeClass(const nlohmann::json& j);
absl::Status decodeJson(const core::JsonField& f, RuntimeClass& out);

}  // namespace agent::api

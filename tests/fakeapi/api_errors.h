// Kubernetes API errors for the fake API server: absl::Status values that carry the
// metav1.Status object the real kube-apiserver would answer with (reason, code,
// details), so the store, the HTTP layer and the direct test API share one error type.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cubelet::fakeapi {

struct ResourceInfo;

// The full error: HTTP code, metav1.StatusReason, message and details.
absl::Status apiError(int code, const std::string& reason, const std::string& message,
                      const std::string& name = "", const std::string& group = "",
                      const std::string& kind = "");

// The metav1.Status object for `s` (a generic 500 InternalError when `s` carries none).
nlohmann::json statusObject(const absl::Status& s);
// The HTTP code for `s` (200 when ok).
int httpCode(const absl::Status& s);
// The reason (e.g. "NotFound"), empty when ok.
std::string statusReason(const absl::Status& s);

// Upstream constructors (k8s.io/apimachinery/pkg/api/errors), for a resource `r`.
absl::Status notFound(const ResourceInfo& r, const std::string& name);
absl::Status alreadyExists(const ResourceInfo& r, const std::string& name);
// "Operation cannot be fulfilled on <r> \"<name>\": <detail>".
absl::Status conflict(const ResourceInfo& r, const std::string& name, const std::string& detail);
// The optimistic-concurrency conflict of an update with a stale resourceVersion.
absl::Status modifiedConflict(const ResourceInfo& r, const std::string& name);
absl::Status badRequest(const std::string& message);
// 422 "<Kind> \"<name>\" is invalid: <causes>".
absl::Status invalid(const ResourceInfo& r, const std::string& name, const std::string& causes);
absl::Status methodNotAllowed(const std::string& method);
absl::Status unsupportedMediaType(const std::string& contentType);
absl::Status expired(const std::string& message);  // 410 Expired
absl::Status pathNotFound();                       // unknown URL: 404 with reason NotFound

}  // namespace cubelet::fakeapi

#include "tests/fakeapi/api_errors.h"

#include "absl/strings/cord.h"
#include "tests/fakeapi/resources.h"

namespace cubelet::fakeapi {
namespace {

constexpr char kPayloadUrl[] = "type.googleapis.com/cubelet.fakeapi.Status";

absl::StatusCode codeFor(int http) {
  switch (http) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 405:
    case 415:
      return absl::StatusCode::kUnimplemented;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string quoted(const ResourceInfo& r, const std::string& name) {
  return r.qualifiedName() + " \"" + name + "\"";
}

}  // namespace

absl::Status apiError(int code, const std::string& reason, const std::string& message,
                      const std::string& name, const std::string& group, const std::string& kind) {
  nlohmann::json st = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason},
      {"code", code}};
  if (!name.empty() || !kind.empty()) {
    nlohmann::json details = nlohmann::json::object();
    if (!name.empty()) details["name"] = name;
    if (!group.empty()) details["group"] = group;
    if (!kind.empty()) details["kind"] = kind;
    st["details"] = details;
  }
  absl::Status s(codeFor(code), message);
  s.SetPayload(kPayloadUrl, absl::Cord(st.dump()));
  return s;
}

nlohmann::json statusObject(const absl::Status& s) {
  if (s.ok()) {
    return {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", nlohmann::json::object()},
            {"status", "Success"}};
  }
  if (auto p = s.GetPayload(kPayloadUrl)) return nlohmann::json::parse(std::string(*p));
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", nlohmann::json::object()},
          {"status", "Failure"},
          {"message", std::string(s.message())},
          {"reason", "InternalError"},
          {"code", 500}};
}

int httpCode(const absl::Status& s) {
  if (s.ok()) return 200;
  return statusObject(s).value("code", 500);
}

std::string statusReason(const absl::Status& s) {
  if (s.ok()) return "";
  return statusObject(s).value("reason", "");
}

absl::Status notFound(const ResourceInfo& r, const std::string& name) {
  return apiError(404, "NotFound", quoted(r, name) + " not found", name, r.group, r.resource);
}

absl::Status alreadyExists(const ResourceInfo& r, const std::string& name) {
  return apiError(409, "AlreadyExists", quoted(r, name) + " already exists", name, r.group,
                  r.resource);
}

absl::Status conflict(const ResourceInfo& r, const std::string& name, const std::string& detail) {
  return apiError(409, "Conflict",
                  "Operation cannot be fulfilled on " + quoted(r, name) + ": " + detail, name,
                  r.group, r.resource);
}

absl::Status modifiedConflict(const ResourceInfo& r, const std::string& name) {
  return conflict(r, name,
                  "the object has been modified; please apply your changes to the latest version "
                  "and try again");
}

absl::Status badRequest(const std::string& message) { return apiError(400, "BadRequest", message); }

absl::Status invalid(const ResourceInfo& r, const std::string& name, const std::string& causes) {
  return apiError(422, "Invalid", r.kind + " \"" + name + "\" is invalid: " + causes, name, r.group,
                  r.kind);
}

absl::Status methodNotAllowed(const std::string& method) {
  (void)method;
  return apiError(405, "MethodNotAllowed",
                  "the server does not allow this method on the requested resource");
}

absl::Status unsupportedMediaType(const std::string& contentType) {
  return apiError(415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: application/json-patch+json, application/merge-patch+json, "
                  "application/apply-patch+yaml, application/strategic-merge-patch+json (got " +
                      contentType + ")");
}

absl::Status expired(const std::string& message) { return apiError(410, "Expired", message); }

absl::Status pathNotFound() {
  return apiError(404, "NotFound", "the server could not find the requested resource");
}

}  // namespace cubelet::fakeapi

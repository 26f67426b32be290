#include "tests/fakeapi/reviews.h"

#include <openssl/x509.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/token_request.h"

namespace cubelet::fakeapi {

using nlohmann::json;

namespace {

constexpr char kJson[] = "application/json";

struct Review {
  std::string kind, group, resource;
};

std::optional<Review> reviewFor(const std::string& path) {
  if (path == kTokenReviewsPath) {
    return Review{"TokenReview", "authentication.k8s.io", "tokenreviews"};
  }
  if (path == kSubjectAccessReviewsPath) {
    return Review{"SubjectAccessReview", "authorization.k8s.io", "subjectaccessreviews"};
  }
  return std::nullopt;
}

std::string str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> strings(const json& o, const char* key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || !it->is_array()) return out;
  for (const auto& x : *it) {
    if (x.is_string()) out.push_back(x.get<std::string>());
  }
  return out;
}

// The status of a SubjectAccessReview for `spec`, or a 422 for a spec upstream's
// validation refuses.
absl::StatusOr<json> evaluateAccess(const json& spec, const AuthzGraph& graph) {
  auto invalid = [](const std::string& causes) {
    return apiError(422, "Invalid",
                    "SubjectAccessReview.authorization.k8s.io \"\" is invalid: " + causes, "",
                    "authorization.k8s.io", "SubjectAccessReview");
  };
  const json ra = spec.value("resourceAttributes", json());
  const json nra = spec.value("nonResourceAttributes", json());
  if (ra.is_object() == nra.is_object()) {
    return invalid(
        "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes "
        "or resourceAttributes must be specified");
  }
  RequestAttributes a;
  a.user.name = str(spec, "user");
  a.user.groups = strings(spec, "groups");
  if (a.user.name.empty() && a.user.groups.empty()) {
    return invalid(
        "spec.user: Invalid value: \"\": at least one of user or group must be specified");
  }
  if (ra.is_object()) {
    a.verb = str(ra, "verb");
    a.apiGroup = str(ra, "group");
    a.resource = str(ra, "resource");
    a.subresource = str(ra, "subresource");
    a.namespace_ = str(ra, "namespace");
    a.name = str(ra, "name");
  } else {
    a.verb = str(nra, "verb");
  }
  Decision d = authorize(a, graph);
  json status = {{"allowed", d.allowed}};
  if (!d.reason.empty()) status["reason"] = d.reason;
  return status;
}

}  // namespace

std::optional<json> ReviewHandler::reviewToken(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  if (auto u = tokens_.authenticate(token)) {
    return json{{"username", u->name}, {"groups", u->groups}};
  }
  if (issuer_ == nullptr || std::count(token.begin(), token.end(), '.') != 2) return std::nullopt;
  auto claims = issuer_->review(token);
  if (!claims.ok()) return std::nullopt;
  // A service account token: the user kube-apiserver's serviceaccount authenticator names.
  const json k8s = claims->value("kubernetes.io", json::object());
  const std::string ns = k8s.value("namespace", "");
  const json sa = k8s.value("serviceaccount", json::object());
  json user = {
      {"username", claims->value("sub", "")},
      {"uid", sa.value("uid", "")},
      {"groups", {"system:serviceaccounts", "system:serviceaccounts:" + ns, kAuthenticatedGroup}}};
  json extra = json::object();
  if (const json pod = k8s.value("pod", json()); pod.is_object()) {
    extra["authentication.kubernetes.io/pod-name"] = {pod.value("name", "")};
    extra["authentication.kubernetes.io/pod-uid"] = {pod.value("uid", "")};
  }
  if (const std::string jti = claims->value("jti", ""); !jti.empty()) {
    extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + jti};
  }
  if (!extra.empty()) user["extra"] = extra;
  return user;
}

bool ReviewHandler::maybeHandle(const HttpRequest& req, HttpResponder& resp) {
  auto review = reviewFor(req.path);
  if (!review) return false;
  auto send = [&](const absl::Status& s, const UserInfo* user, bool denied = false) {
    record(req, user, httpCode(s), denied);
    resp.send(httpCode(s), kJson, statusObject(s).dump());
  };
  // Authentication as ApiHandler does it: a verified certificate, else a bearer token.
  std::optional<UserInfo> user;
  if (req.peerVerified) user = userFromPeerCertificate(req.peerCert);
  const std::string authz = req.header("authorization");
  if (!user && absl::StartsWithIgnoreCase(authz, "bearer ")) {
    user = tokens_.authenticate(std::string(absl::StripAsciiWhitespace(authz.substr(7))));
  }
  if (!user) {
    send(apiError(401, "Unauthorized", "Unauthorized"), nullptr);
    return true;
  }
  if (req.method != "POST") {
    send(methodNotAllowed(req.method), &*user);
    return true;
  }
  RequestAttributes attrs;
  attrs.user = *user;
  attrs.verb = "create";
  attrs.apiGroup = review->group;
  attrs.resource = review->resource;
  if (Decision d = authorize(attrs, graph_); !d.allowed) {
    std::string msg = review->resource + "." + review->group + " is forbidden: User \"" +
                      user->name + "\" cannot create resource \"" + review->resource +
                      "\" in API group \"" + review->group + "\" at the cluster scope" +
                      (d.reason.empty() ? "" : ": " + d.reason);
    send(apiError(403, "Forbidden", msg, "", review->group, review->resource), &*user,
         /*denied=*/true);
    return true;
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    send(badRequest("the body of the request was not a valid JSON object"), &*user);
    return true;
  }
  json spec = body.value("spec", json::object());
  if (!spec.is_object()) spec = json::object();
  json status;
  if (review->kind == "TokenReview") {
    const std::string token = str(spec, "token");
    if (token.empty()) {
      send(badRequest("token is required for TokenReview in authentication"), &*user);
      return true;
    }
    auto u = reviewToken(token);
    status = {{"authenticated", u.has_value()}, {"user", u.value_or(json::object())}};
    if (spec.contains("audiences")) status["audiences"] = spec["audiences"];
  } else {
    auto s = evaluateAccess(spec, graph_);
    if (!s.ok()) {
      send(s.status(), &*user);
      return true;
    }
    status = *std::move(s);
  }
  json answer = {{"kind", review->kind},
                 {"apiVersion", review->group + "/v1"},
                 {"metadata", {{"creationTimestamp", nullptr}}},
                 {"spec", spec},
                 {"status", status}};
  {
    std::lock_guard lock(mu_);
    reviews_.push_back(ReviewRecord{review->kind, user->name, spec, status});
  }
  record(req, &*user, 201, false);
  resp.send(201, kJson, answer.dump());
  return true;
}

void ReviewHandler::record(const HttpRequest& req, const UserInfo* user, int code, bool denied) {
  RequestRecord r = recordOf(req, user, code, denied);
  std::lock_guard lock(mu_);
  requests_.push_back(std::move(r));
}

std::vector<RequestRecord> ReviewHandler::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<ReviewRecord> ReviewHandler::reviews() const {
  std::lock_guard lock(mu_);
  return reviews_;
}

size_t ReviewHandler::count(const std::string& kind) const {
  std::lock_guard lock(mu_);
  return std::count_if(reviews_.begin(), reviews_.end(),
                       [&](const ReviewRecord& r) { return r.kind == kind; });
}

void ReviewHandler::clear() {
  std::lock_guard lock(mu_);
  requests_.clear();
  reviews_.clear();
}

}  // namespace cubelet::fakeapi

// The fake API server's TokenReview (authentication.k8s.io/v1 tokenreviews) and
// SubjectAccessReview (authorization.k8s.io/v1 subjectaccessreviews) endpoints,
// the webhooks a kubelet calls to authenticate and authorize callers of its API:
//  - a TokenReview authenticates spec.token as this server would (its static tokens,
//    then service account tokens its TokenIssuer signed) and answers status.user;
//  - a SubjectAccessReview evaluates spec against this server's authorizer (authz.h)
//    as if spec's user had made that request.
// The caller must itself be allowed to create them (nodes and cluster admins are).
// Both answer 201 with the review and its status, as upstream; every call is
// recorded as a RequestRecord, with the reviews themselves kept for assertions.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fakeapi/authn.h"
#include "tests/fakeapi/authz.h"
#include "tests/fakeapi/request_record.h"
#include "tests/fakeapi/tls_http_server.h"

namespace cubelet::fakeapi {

class TokenIssuer;

inline constexpr char kTokenReviewsPath[] = "/apis/authentication.k8s.io/v1/tokenreviews";
inline constexpr char kSubjectAccessReviewsPath[] =
    "/apis/authorization.k8s.io/v1/subjectaccessreviews";

// One review answered (201), for tests.
struct ReviewRecord {
  std::string kind;  // "TokenReview" | "SubjectAccessReview"
  std::string caller;
  nlohmann::json spec;
  nlohmann::json status;
};

class ReviewHandler {
 public:
  // `issuer` may be null (then only static tokens authenticate).
  ReviewHandler(const TokenAuthenticator& tokens, const AuthzGraph& graph, TokenIssuer* issuer)
      : tokens_(tokens), graph_(graph), issuer_(issuer) {}

  // Answers and records `req` when its path is one of the two review collections
  // (any method: others than POST get 405); false, untouched, otherwise.
  bool maybeHandle(const HttpRequest& req, HttpResponder& resp);

  // The user a token names, as a TokenReview would answer; nothing when unknown.
  std::optional<nlohmann::json> reviewToken(const std::string& token) const;

  std::vector<RequestRecord> requests() const;
  std::vector<ReviewRecord> reviews() const;
  // How many reviews of `kind` were answered.
  size_t count(const std::string& kind) const;
  void clear();

 private:
  void record(const HttpRequest& req, const UserInfo* user, int code, bool denied);

  const TokenAuthenticator& tokens_;
  const AuthzGraph& graph_;
  TokenIssuer* const issuer_;
  mutable std::mutex mu_;  // guards the records
  std::vector<RequestRecord> requests_;
  std::vector<ReviewRecord> reviews_;
};

}  // namespace cubelet::fakeapi

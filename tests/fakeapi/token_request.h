// The TokenRequest API of the fake API server (POST
// /api/v1/namespaces/<ns>/serviceaccounts/<name>/token), after kube-apiserver 1.32's
// pkg/registry/core/serviceaccount/storage/token.go and pkg/serviceaccount/claims.go:
// the ServiceAccount must exist; spec.expirationSeconds defaults to 3600 and must be in
// [600, 2^32]; spec.audiences default to the API audiences; a boundObjectRef (Pod,
// Secret or Node, core group) must name an existing object with a matching uid; a
// pod-bound token also names the pod's node (ServiceAccountTokenPodNodeInfo). With
// --service-account-extend-token-expiration (on, as kubeadm runs it) a pod-bound
// request for exactly 3607 s with the API audiences gets a JWT valid for a year with
// kubernetes.io.warnafter at 3607 s, while status.expirationTimestamp still says
// 3607 s. Tokens are RS256 JWTs signed with an RSA key the issuer makes on first use;
// they are not stored (no object, no watch event) but every issued one is recorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cubelet::fakeapi {

class ResourceStore;

// kubeadm's --service-account-issuer; --api-audiences defaults to it.
inline constexpr char kDefaultServiceAccountIssuer[] =
    "https://kubernetes.default.svc.cluster.local";

struct TokenIssuerOptions {
  std::string issuer = kDefaultServiceAccountIssuer;
  std::vector<std::string> apiAudiences;  // empty: {issuer}
  // --service-account-max-token-expiration: requested expirations above it are
  // clamped to it (spec.expirationSeconds and status.expirationTimestamp report the
  // clamped value). 0: no maximum. TEST-ONLY RELAXATION: kube-apiserver refuses values
  // below 1 hour; the fake takes any positive value, even below the 600 s minimum a
  // request may ask for, so tests can watch a token being refreshed within seconds.
  int64_t maxExpirationSeconds = 0;
  bool extendExpiration = true;  // --service-account-extend-token-expiration
};

// One issued token, for tests to count and inspect.
struct TokenRequestRecord {
  std::string ns, serviceAccount;
  std::string user;                            // who asked
  std::string boundKind, boundName, boundUid;  // empty when not bound
  std::string nodeName;                        // node claim of a pod- or node-bound token
  std::vector<std::string> audiences;
  int64_t requestedExpirationSeconds = 0;  // as asked (after defaulting)
  int64_t expirationSeconds = 0;           // spec.expirationSeconds answered (after the clamp)
  int64_t jwtLifetimeSeconds = 0;          // exp - iat in the JWT (a year when extended)
  std::chrono::system_clock::time_point issuedAt;
  std::string token;
};

class TokenIssuer {
 public:
  explicit TokenIssuer(TokenIssuerOptions opts);
  ~TokenIssuer();
  TokenIssuer(const TokenIssuer&) = delete;
  TokenIssuer& operator=(const TokenIssuer&) = delete;

  // NodeRestriction for the request: `pod` is the pod spec.boundObjectRef names (null
  // when none or missing), `tokenRequest` the defaulted request. Its error is returned
  // as is.
  using Admit =
      std::function<absl::Status(const nlohmann::json* pod, const nlohmann::json* tokenRequest)>;

  // Creates a token for ServiceAccount `name` in `ns` from the TokenRequest `body`;
  // the answer is the TokenRequest with spec defaulted and status set. Errors are API
  // Statuses with upstream's codes and messages. `admit` may be empty.
  absl::StatusOr<nlohmann::json> create(const ResourceStore& store, const std::string& ns,
                                        const std::string& name, const nlohmann::json& body,
                                        const Admit& admit, const std::string& user);

  // The signing key's public half (PEM "PUBLIC KEY"), as --service-account-key-file.
  absl::StatusOr<std::string> publicKeyPem();
  // Verifies a token this issuer signed (signature, iss, nbf/exp against now) and
  // returns its claims (as a TokenReview would accept it; no object lookups).
  absl::StatusOr<nlohmann::json> review(const std::string& jwt);

  std::vector<TokenRequestRecord> records() const;
  void clearRecords();
  const TokenIssuerOptions& options() const { return opts_; }

 private:
  absl::StatusOr<EVP_PKEY*> keyLocked();
  absl::StatusOr<std::string> signLocked(const nlohmann::json& claims);
  std::string newUuidLocked();

  const TokenIssuerOptions opts_;
  mutable std::mutex mu_;  // guards everything below
  EVP_PKEY* key_ = nullptr;
  std::string keyId_;
  std::mt19937_64 rng_;
  std::vector<TokenRequestRecord> records_;
};

}  // namespace cubelet::fakeapi

// Who is calling the kubelet API, as the kubelet's delegating authenticator
// decides it (k8s.io/apiserver authenticatorfactory.DelegatingAuthenticatorConfig):
// the union, in order, of
//  - the x509 client certificate (authentication.x509.clientCAFile set): a
//    certificate that chains to the client CA names the user (CN) and its groups
//    (each O); one that does not is an error;
//  - the bearer token (authentication.webhook.enabled): `Authorization: Bearer <t>`,
//    then a WebSocket's `base64url.bearer.authorization.k8s.io.<t>` subprotocol,
//    checked with a TokenReview sent to the API server; an unknown token is an
//    error ("invalid bearer token");
// every user found that way joining "system:authenticated". When none of them
// names a user and none failed, the caller is system:anonymous (group
// system:unauthenticated) if authentication.anonymous.enabled, else nobody. A
// failure is never anonymous: a bad token is a 401 even with anonymous enabled.
//
// TokenReview answers are cached by a SHA-256 of the token for
// authentication.webhook.cacheTTL, unknown tokens as well as known ones (as
// upstream's cache with successTTL = failureTTL = cacheTTL); webhook errors, and
// reviews that come back with status.error, are not cached. Concurrent requests
// with the same token share one review. A failed review is retried as upstream
// (WebhookRetry).
//
// Threading: everything on the loop thread; callbacks run there.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"
#include "agent/kubeapi/api_client.h"
#include "agent/server/http_server.h"
#include "agent/server/request_attributes.h"
#include "core/event_loop.h"

namespace agent::server {

class Authenticator {
 public:
  struct Options {
    // Cache clock; null: the loop.
    const core::Clock* clock = nullptr;
    WebhookRetry retry;
    // Each TokenReview attempt's deadline.
    core::Duration timeout = std::chrono::seconds(10);
    // Cached tokens kept at most (expired ones are dropped first).
    size_t maxCacheEntries = 4096;
  };

  // The caller: a user, or nobody (nullopt: no credentials and anonymous off).
  // An error (InvalidArgument for bad credentials, Unavailable for a failed
  // webhook) also means 401; its message is for the log.
  using Result = absl::StatusOr<std::optional<UserInfo>>;
  using Callback = std::function<void(Result)>;

  // `api` may be null only when the token webhook is off. Errors name the
  // configuration field: a webhook without an API client, or no way at all to
  // authenticate (no client CA, no webhook, no anonymous).
  static absl::StatusOr<std::unique_ptr<Authenticator>> create(const config::Authentication& cfg,
                                                               kubeapi::ApiClient* api,
                                                               core::EventLoop& loop, Options opts);
  static absl::StatusOr<std::unique_ptr<Authenticator>> create(const config::Authentication& cfg,
                                                               kubeapi::ApiClient* api,
                                                               core::EventLoop& loop) {
    return create(cfg, api, loop, Options{});
  }
  // Reviews in flight are dropped: their callbacks never run.
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Decides who sent `req`. `done` runs exactly once (unless this object is
  // destroyed first), on the loop; it may run before authenticate() returns when
  // no review is needed (certificate, cached token, anonymous).
  void authenticate(const HttpRequest& req, Callback done);

  // Tokens in the cache (live or expired but not yet dropped).
  size_t cachedTokens() const;

 private:
  struct Impl;
  explicit Authenticator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// The bearer token of an `Authorization` header as upstream's bearertoken
// authenticator reads it ("Bearer <token>", scheme case-insensitive); nullopt
// when there is none.
std::optional<std::string> bearerToken(const HttpRequest& req);

// The token of a WebSocket upgrade's `base64url.bearer.authorization.k8s.io.<t>`
// subprotocol: nullopt when there is none (or the request is no WebSocket
// upgrade), an error for two of them or a bad encoding (upstream's texts).
absl::StatusOr<std::optional<std::string>> webSocketBearerToken(const HttpRequest& req);

}  // namespace agent::server

// What callers of the kubelet API may do (KubeletConfiguration.authorization):
// "AlwaysAllow", or "Webhook": a SubjectAccessReview sent to the API server for
// the request's attributes, as k8s.io/apiserver's webhook authorizer does it
// (plugin/pkg/authorizer/webhook). Answers are cached by the review's whole spec
// (user, uid, groups, extra and resource attributes): allowed ones for
// authorization.webhookCacheAuthorizedTTL, the others for
// webhookCacheUnauthorizedTTL; webhook errors are not cached. A failed review is
// retried as upstream (WebhookRetry).
//
// Threading: everything on the loop thread; callbacks run there.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"
#include "agent/kubeapi/api_client.h"
#include "agent/server/request_attributes.h"
#include "core/event_loop.h"

namespace agent::server {

enum class AuthzDecision { kAllow, kDeny, kNoOpinion };

struct AuthzResult {
  AuthzDecision decision = AuthzDecision::kNoOpinion;
  std::string reason;  // status.reason of the review, for the log
};

class Authorizer {
 public:
  struct Options {
    // Cache clock; null: the loop.
    const core::Clock* clock = nullptr;
    WebhookRetry retry;
    // Each SubjectAccessReview attempt's deadline.
    core::Duration timeout = std::chrono::seconds(10);
    // Cached answers kept at most (upstream's LRU holds 8192).
    size_t maxCacheEntries = 8192;
  };

  // An error (the webhook failed, or answered both allowed and denied) is a 500.
  using Callback = std::function<void(absl::StatusOr<AuthzResult>)>;

  // Errors name the field: an unknown authorization.mode, or Webhook without an API
  // client (`api` may be null for AlwaysAllow).
  static absl::StatusOr<std::unique_ptr<Authorizer>> create(const config::Authorization& cfg,
                                                            kubeapi::ApiClient* api,
                                                            core::EventLoop& loop, Options opts);
  static absl::StatusOr<std::unique_ptr<Authorizer>> create(const config::Authorization& cfg,
                                                            kubeapi::ApiClient* api,
                                                            core::EventLoop& loop) {
    return create(cfg, api, loop, Options{});
  }
  // Reviews in flight are dropped: their callbacks never run.
  ~Authorizer();
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // `done` runs exactly once (unless this object is destroyed first), on the loop;
  // it may run before authorize() returns (AlwaysAllow, cached answers).
  void authorize(const RequestAttributes& attrs, Callback done);

  size_t cachedAnswers() const;

 private:
  struct Impl;
  explicit Authorizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// The SubjectAccessReview the webhook sends for `a` (Go's omitempty: empty fields
// left out).
std::string subjectAccessReviewBody(const RequestAttributes& a);

}  // namespace agent::server

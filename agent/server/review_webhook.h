// What the TokenReview authenticator and the SubjectAccessReview authorizer share,
// as k8s.io/apiserver's cached webhooks do it: one POST per distinct key in flight
// (concurrent askers wait for the same answer), answers cached per key for a TTL
// the caller picks from the answer, failures retried with upstream's backoff
// (WebhookRetry) and never cached, the cache bounded (expired entries go first, then
// the ones closest to expiry).
//
// Threading: the loop thread. Owned by a shared_ptr: answers arriving after the
// owner is gone are dropped.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/kubeapi/api_client.h"
#include "agent/server/request_attributes.h"
#include "core/event_loop.h"

namespace agent::server {

template <typename Answer>
class ReviewWebhook : public std::enable_shared_from_this<ReviewWebhook<Answer>> {
 public:
  using Result = absl::StatusOr<Answer>;
  using Callback = std::function<void(const Result&)>;

  struct Settings {
    std::string name;  // for errors: "TokenReview webhook"
    std::string path;  // the review collection, e.g. /apis/authentication.k8s.io/v1/tokenreviews
    core::Duration timeout = std::chrono::seconds(10);  // of each attempt
    WebhookRetry retry;
    size_t maxCacheEntries = 4096;
    // The answer in a 2xx response body (errors are not cached).
    std::function<Result(const kubeapi::Response&)> parse;
    // How long an answer is cached; zero or less: not at all.
    std::function<core::Duration(const Answer&)> ttl;
  };

  ReviewWebhook(kubeapi::ApiClient* api, core::EventLoop& loop, const core::Clock& clock,
                Settings s)
      : api_(api), loop_(loop), clock_(clock), s_(std::move(s)) {
    if (s_.maxCacheEntries == 0) s_.maxCacheEntries = 1;
  }

  // Answers from the cache at once, or posts `body` (once per key in flight).
  void review(const std::string& key, const std::string& body, Callback cb) {
    const core::MonoTime now = clock_.monotonicNow();
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (it->second.expires > now) {
        cb(it->second.answer);
        return;
      }
      cache_.erase(it);
    }
    Pending& p = pending_[key];
    p.waiters.push_back(std::move(cb));
    if (p.waiters.size() > 1) return;  // the same review is already on its way
    p.body = body;
    send(key);
  }

  size_t cached() const { return cache_.size(); }

 private:
  struct CacheEntry {
    core::MonoTime expires;
    Answer answer;
  };
  struct Pending {
    std::string body;
    std::vector<Callback> waiters;
    int attempt = 0;
    core::TimerPtr retryTimer;
  };

  void send(const std::string& key) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    ++it->second.attempt;
    kubeapi::Request req;
    req.method = "POST";
    req.path = s_.path;
    req.timeout = s_.timeout;
    req.body = it->second.body;
    api_->send(std::move(req), [self = this->weak_from_this(), key](kubeapi::Response r) {
      if (auto s = self.lock()) s->onReview(key, std::move(r));
    });
  }

  void onReview(const std::string& key, kubeapi::Response r) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (!r.ok() && retriableWebhookAnswer(r) && p.attempt < s_.retry.attempts) {
      if (!p.retryTimer) {
        p.retryTimer = loop_.createTimer([self = this->weak_from_this(), key] {
          if (auto s = self.lock()) s->send(key);
        });
      }
      p.retryTimer->enableTimer(s_.retry.delay(p.attempt));
      return;
    }
    Result result = r.ok() ? s_.parse(r) : failed(r);
    if (result.ok()) {
      if (core::Duration ttl = s_.ttl(*result); ttl.count() > 0) store(key, *result, ttl);
    }
    std::vector<Callback> waiters = std::move(p.waiters);
    pending_.erase(it);  // its timer is idle: this is send()'s answer
    for (auto& w : waiters) w(result);
  }

  Result failed(const kubeapi::Response& r) const {
    kubeapi::Request described;
    described.method = "POST";
    described.path = s_.path;
    return absl::UnavailableError(s_.name + ": " + r.describe(described));
  }

  void store(const std::string& key, const Answer& a, core::Duration ttl) {
    const core::MonoTime now = clock_.monotonicNow();
    if (cache_.size() >= s_.maxCacheEntries) {
      for (auto it = cache_.begin(); it != cache_.end();) {
        it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
      }
      while (cache_.size() >= s_.maxCacheEntries && !cache_.empty()) {
        auto oldest = std::min_element(cache_.begin(), cache_.end(), [](auto& x, auto& y) {
          return x.second.expires < y.second.expires;
        });
        cache_.erase(oldest);
      }
    }
    cache_[key] = CacheEntry{now + ttl, a};
  }

  kubeapi::ApiClient* const api_;
  core::EventLoop& loop_;
  const core::Clock& clock_;
  Settings s_;
  std::map<std::string, CacheEntry> cache_;
  std::map<std::string, Pending> pending_;
};

}  // namespace agent::server

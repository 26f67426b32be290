#include "agent/server/authorizer.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace agent::server {

using nlohmann::json;

namespace {

constexpr char kSubjectAccessReviewPath[] = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

json reviewSpec(const RequestAttributes& a) {
  json ra = json::object();
  auto put = [](json& o, const char* k, const std::string& v) {
    if (!v.empty()) o[k] = v;
  };
  put(ra, "namespace", a.namespace_);
  put(ra, "verb", a.verb);
  put(ra, "group", a.apiGroup);
  put(ra, "version", a.apiVersion);
  put(ra, "resource", a.resource);
  put(ra, "subresource", a.subresource);
  put(ra, "name", a.name);
  json spec = {{"resourceAttributes", ra}};
  put(spec, "user", a.user.name);
  put(spec, "uid", a.user.uid);
  if (!a.user.groups.empty()) spec["groups"] = a.user.groups;
  if (!a.user.extra.empty()) spec["extra"] = a.user.extra;
  return spec;
}

}  // namespace

std::string subjectAccessReviewBody(const RequestAttributes& a) {
  return json{{"apiVersion", "authorization.k8s.io/v1"},
              {"kind", "SubjectAccessReview"},
              {"spec", reviewSpec(a)}}
      .dump();
}

struct Authorizer::Impl : std::enable_shared_from_this<Impl> {
  struct Answer {
    bool allowed = false;
    bool denied = false;
    std::string reason;
  };
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

  Impl(const config::Authorization& c, kubeapi::ApiClient* a, core::EventLoop& l, Options o)
      : cfg(c), api(a), loop(l), opts(o), clock(o.clock ? *o.clock : l) {}

  static absl::StatusOr<AuthzResult> decide(const Answer& a) {
    if (a.allowed && a.denied) {
      return absl::InternalError(
          "webhook subject access review returned both allow and deny response");
    }
    if (a.denied) return AuthzResult{AuthzDecision::kDeny, a.reason};
    if (a.allowed) return AuthzResult{AuthzDecision::kAllow, a.reason};
    return AuthzResult{AuthzDecision::kNoOpinion, a.reason};
  }

  void authorize(const RequestAttributes& a, Callback done) {
    if (cfg.mode == "AlwaysAllow") {
      done(AuthzResult{AuthzDecision::kAllow, ""});
      return;
    }
    // The key is the whole spec, as upstream (json.Marshal(r.Spec)).
    std::string key = reviewSpec(a).dump();
    const core::MonoTime now = clock.monotonicNow();
    if (auto it = cache.find(key); it != cache.end()) {
      if (it->second.expires > now) {
        done(decide(it->second.answer));
        return;
      }
      cache.erase(it);
    }
    Pending& p = pending[key];
    p.waiters.push_back(std::move(done));
    if (p.waiters.size() > 1) return;  // the same review is already on its way
    p.body = subjectAccessReviewBody(a);
    send(key);
  }

  void send(const std::string& key) {
    auto it = pending.find(key);
    if (it == pending.end()) return;
    ++it->second.attempt;
    kubeapi::Request req;
    req.method = "POST";
    req.path = kSubjectAccessReviewPath;
    req.timeout = opts.timeout;
    req.body = it->second.body;
    api->send(std::move(req), [self = weak_from_this(), key](kubeapi::Response r) {
      if (auto s = self.lock()) s->onReview(key, std::move(r));
    });
  }

  void onReview(const std::string& key, kubeapi::Response r) {
    auto it = pending.find(key);
    if (it == pending.end()) return;
    Pending& p = it->second;
    if (!r.ok() && retriableWebhookAnswer(r) && p.attempt < opts.retry.attempts) {
      if (!p.retryTimer) {
        p.retryTimer = loop.createTimer([self = weak_from_this(), key] {
          if (auto s = self.lock()) s->send(key);
        });
      }
      p.retryTimer->enableTimer(opts.retry.delay(p.attempt));
      return;
    }
    absl::StatusOr<AuthzResult> result;
    auto answer = parseReview(r);
    if (!answer.ok()) {
      LOG_ERROR << "Failed to make webhook authorizer request: " << answer.status().message();
      result = answer.status();
    } else {
      const core::Duration ttl =
          answer->allowed ? cfg.webhookCacheAuthorizedTTL : cfg.webhookCacheUnauthorizedTTL;
      if (ttl.count() > 0) store(key, *answer, ttl);
      result = decide(*answer);
    }
    std::vector<Callback> waiters = std::move(p.waiters);
    pending.erase(it);
    for (auto& w : waiters) w(result);
  }

  static absl::StatusOr<Answer> parseReview(const kubeapi::Response& r) {
    if (!r.ok()) {
      kubeapi::Request described;
      described.method = "POST";
      described.path = kSubjectAccessReviewPath;
      return absl::UnavailableError("SubjectAccessReview webhook: " + r.describe(described));
    }
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return absl::UnavailableError("SubjectAccessReview webhook: the answer is not a JSON object");
    }
    json status = body.value("status", json::object());
    if (!status.is_object()) status = json::object();
    Answer a;
    auto flag = [&](const char* k) {
      return status.contains(k) && status[k].is_boolean() && status[k].get<bool>();
    };
    a.allowed = flag("allowed");
    a.denied = flag("denied");
    if (status.contains("reason") && status["reason"].is_string())
      a.reason = status["reason"].get<std::string>();
    return a;
  }

  void store(const std::string& key, const Answer& a, core::Duration ttl) {
    const core::MonoTime now = clock.monotonicNow();
    if (cache.size() >= opts.maxCacheEntries) {
      for (auto it = cache.begin(); it != cache.end();) {
        it = it->second.expires <= now ? cache.erase(it) : std::next(it);
      }
      while (cache.size() >= opts.maxCacheEntries && !cache.empty()) {
        auto oldest = std::min_element(cache.begin(), cache.end(), [](auto& x, auto& y) {
          return x.second.expires < y.second.expires;
        });
        cache.erase(oldest);
      }
    }
    cache[key] = CacheEntry{now + ttl, a};
  }

  const config::Authorization cfg;
  kubeapi::ApiClient* const api;
  core::EventLoop& loop;
  const Options opts;
  const core::Clock& clock;
  std::map<std::string, CacheEntry> cache;  // by review spec
  std::map<std::string, Pending> pending;
};

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::create(const config::Authorization& cfg,
                                                               kubeapi::ApiClient* api,
                                                               core::EventLoop& loop,
                                                               Options opts) {
  if (cfg.mode != "AlwaysAllow" && cfg.mode != "Webhook") {
    return absl::InvalidArgumentError("authorization.mode: unknown authorization mode \"" +
                                      cfg.mode + "\" (want AlwaysAllow or Webhook)");
  }
  if (cfg.mode == "Webhook" && api == nullptr) {
    return absl::InvalidArgumentError(
        "authorization.mode: Webhook: no client provided, cannot use webhook authorization "
        "(no API server: standalone mode)");
  }
  if (opts.maxCacheEntries == 0) opts.maxCacheEntries = 1;
  return std::unique_ptr<Authorizer>(new Authorizer(std::make_shared<Impl>(cfg, api, loop, opts)));
}

Authorizer::~Authorizer() = default;

void Authorizer::authorize(const RequestAttributes& attrs, Callback done) {
  impl_->authorize(attrs, std::move(done));
}

size_t Authorizer::cachedAnswers() const { return impl_->cache.size(); }

}  // namespace agent::server

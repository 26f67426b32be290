#include "agent/server/authorizer.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/server/review_webhook.h"
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
  Impl(const config::Authorization& c, kubeapi::ApiClient* a, core::EventLoop& l, Options o)
      : cfg(c) {
    if (a == nullptr) return;
    ReviewWebhook<Answer>::Settings s;
    s.name = "SubjectAccessReview webhook";
    s.path = kSubjectAccessReviewPath;
    s.timeout = o.timeout;
    s.retry = o.retry;
    s.maxCacheEntries = o.maxCacheEntries;
    s.parse = &parseReview;
    s.ttl = [authorized = c.webhookCacheAuthorizedTTL,
             unauthorized = c.webhookCacheUnauthorizedTTL](const Answer& a) {
      return a.allowed ? authorized : unauthorized;
    };
    webhook = std::make_shared<ReviewWebhook<Answer>>(a, l, o.clock ? *o.clock : l, std::move(s));
  }

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
    webhook->review(reviewSpec(a).dump(), subjectAccessReviewBody(a),
                    [done = std::move(done)](const absl::StatusOr<Answer>& answer) {
                      if (!answer.ok()) {
                        LOG_ERROR << "Failed to make webhook authorizer request: "
                                  << answer.status().message();
                        done(answer.status());
                        return;
                      }
                      done(decide(*answer));
                    });
  }

  static absl::StatusOr<Answer> parseReview(const kubeapi::Response& r) {
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

  const config::Authorization cfg;
  // Keyed by the review's spec; null without an API client (AlwaysAllow).
  std::shared_ptr<ReviewWebhook<Answer>> webhook;
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

size_t Authorizer::cachedAnswers() const { return impl_->webhook ? impl_->webhook->cached() : 0; }

}  // namespace agent::server

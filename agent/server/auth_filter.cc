#include "agent/server/auth_filter.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log.h"

namespace agent::server {

HttpResponse unauthorizedResponse() {
  HttpResponse r;
  r.status = 401;
  r.body = "Unauthorized";
  return r;
}

HttpResponse forbiddenResponse(const std::vector<RequestAttributes>& attrs) {
  HttpResponse r;
  r.status = 403;
  if (attrs.empty()) {
    r.body = "Authorization error: could not determine attributes for request";
    return r;
  }
  std::vector<std::string> subs;
  for (const auto& a : attrs) subs.push_back(a.subresource);
  // Go's %v of a []string: "[pods proxy]". The trailing newline is upstream's.
  r.body = absl::StrCat("Forbidden (user=", attrs[0].user.name, ", verb=", attrs[0].verb,
                        ", resource=", attrs[0].resource, ", subresource(s)=[",
                        absl::StrJoin(subs, " "), "])\n");
  return r;
}

HttpResponse authorizationErrorResponse(const RequestAttributes& a) {
  HttpResponse r;
  r.status = 500;
  r.body = absl::StrCat("Authorization error (user=", a.user.name, ", verb=", a.verb,
                        ", resource=", a.resource, ", subresource=", a.subresource, ")");
  return r;
}

struct AuthFilter::State : std::enable_shared_from_this<State> {
  std::string nodeName;
  bool fineGrained = true;
  std::unique_ptr<Authenticator> authn;
  std::unique_ptr<Authorizer> authz;

  void handle(ExchangePtr ex, std::function<void()> next) {
    const HttpRequest& req = ex->request();
    authn->authenticate(req, [weak = weak_from_this(), ex,
                              next = std::move(next)](Authenticator::Result r) mutable {
      auto self = weak.lock();
      if (!self || ex->closed()) return;
      if (!r.ok()) {
        LOG_WARNING << "Unable to authenticate the request to " << ex->request().path << " from "
                    << ex->request().remoteAddress << " due to an error: " << r.status().message();
        ex->respond(unauthorizedResponse());
        return;
      }
      if (!r->has_value()) {
        ex->respond(unauthorizedResponse());
        return;
      }
      auto attrs = std::make_shared<std::vector<RequestAttributes>>(nodeRequestAttributes(
          **r, ex->request().method, ex->request().path, self->nodeName, self->fineGrained));
      if (attrs->empty()) {
        ex->respond(forbiddenResponse(*attrs));
        return;
      }
      self->authorizeFrom(std::move(ex), std::move(attrs), 0, std::move(next));
    });
  }

  // Tries attrs[i], then the next one until one is allowed.
  void authorizeFrom(ExchangePtr ex, std::shared_ptr<std::vector<RequestAttributes>> attrs,
                     size_t i, std::function<void()> next) {
    const RequestAttributes& a = (*attrs)[i];
    authz->authorize(a, [weak = weak_from_this(), ex, attrs, i,
                         next = std::move(next)](absl::StatusOr<AuthzResult> r) mutable {
      auto self = weak.lock();
      if (!self || ex->closed()) return;
      const RequestAttributes& a = (*attrs)[i];
      if (!r.ok()) {
        LOG_ERROR << "Authorization error (user=" << a.user.name << ", verb=" << a.verb
                  << ", resource=" << a.resource << ", subresource=" << a.subresource
                  << "): " << r.status().message();
        ex->respond(authorizationErrorResponse(a));
        return;
      }
      if (r->decision == AuthzDecision::kAllow) {
        next();
        return;
      }
      if (i + 1 < attrs->size()) {
        self->authorizeFrom(std::move(ex), std::move(attrs), i + 1, std::move(next));
        return;
      }
      HttpResponse forbidden = forbiddenResponse(*attrs);
      VLOG(2) << "Forbidden: " << forbidden.body << " reason: \"" << r->reason << "\"";
      ex->respond(std::move(forbidden));
    });
  }
};

absl::StatusOr<std::unique_ptr<AuthFilter>> AuthFilter::create(
    const config::Authentication& authn, const config::Authorization& authz, std::string nodeName,
    kubeapi::ApiClient* api, core::EventLoop& loop, AuthFilterOptions opts) {
  auto s = std::make_shared<State>();
  s->nodeName = std::move(nodeName);
  s->fineGrained = opts.fineGrained;
  auto an = Authenticator::create(authn, api, loop, opts.authentication);
  if (!an.ok()) return an.status();
  auto az = Authorizer::create(authz, api, loop, opts.authorization);
  if (!az.ok()) return az.status();
  s->authn = *std::move(an);
  s->authz = *std::move(az);
  return std::unique_ptr<AuthFilter>(new AuthFilter(std::move(s)));
}

AuthFilter::~AuthFilter() = default;

HttpServer::Filter AuthFilter::filter() const {
  return [s = state_](std::shared_ptr<HttpExchange> ex, std::function<void()> next) {
    s->handle(std::move(ex), std::move(next));
  };
}

void AuthFilter::handle(ExchangePtr ex, std::function<void()> next) const {
  state_->handle(std::move(ex), std::move(next));
}

const Authenticator& AuthFilter::authenticator() const { return *state_->authn; }
const Authorizer& AuthFilter::authorizer() const { return *state_->authz; }

}  // namespace agent::server

// The kubelet API's authentication and authorization filter (the kubelet's
// Server.InstallAuthFilter), for HttpServer::setFilter on :10250. Every request is
// authenticated (authenticator.h), its attributes taken from the path
// (request_attributes.h) and authorized (authorizer.h); only then is it routed.
// Answers, with upstream's exact texts (text/plain; charset=utf-8):
//   no user, or an authentication error   401 "Unauthorized"
//   not allowed                           403 "Forbidden (user=<u>, verb=<v>,
//                                             resource=nodes, subresource(s)=[<s> ...])\n"
//   authorization error                   500 "Authorization error (user=<u>, verb=<v>,
//                                             resource=nodes, subresource=<s>)"
// A request is allowed when any of its attributes is (fine-grained subresource
// first, then proxy). A client that goes away while a webhook is in flight is
// neither answered nor routed.
//
// Threading: the loop thread. The loop and the ApiClient must outlive the server
// the filter is installed on; the filter keeps the rest alive itself.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"
#include "agent/kubeapi/api_client.h"
#include "agent/server/authenticator.h"
#include "agent/server/authorizer.h"
#include "agent/server/http_exchange.h"
#include "agent/server/http_server.h"
#include "core/event_loop.h"

namespace agent::server {

struct AuthFilterOptions {
  // KubeletFineGrainedAuthz (pods, healthz, configz, statusz before proxy).
  bool fineGrained = true;
  Authenticator::Options authentication;
  Authorizer::Options authorization;
};

class AuthFilter {
 public:
  // `api` may be null (standalone mode) only when neither the token webhook nor
  // Webhook authorization is configured; errors name the field.
  static absl::StatusOr<std::unique_ptr<AuthFilter>> create(
      const config::Authentication& authn, const config::Authorization& authz, std::string nodeName,
      kubeapi::ApiClient* api, core::EventLoop& loop, AuthFilterOptions opts = {});
  ~AuthFilter();
  AuthFilter(const AuthFilter&) = delete;
  AuthFilter& operator=(const AuthFilter&) = delete;

  // For HttpServer::setFilter. Holds the authenticator and authorizer, so it may
  // outlive this object.
  HttpServer::Filter filter() const;

  // Runs the checks on one exchange: answers it (401/403/500) or calls next().
  void handle(ExchangePtr ex, std::function<void()> next) const;

  const Authenticator& authenticator() const;
  const Authorizer& authorizer() const;

 private:
  struct State;
  explicit AuthFilter(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

// Upstream's answers, for tests and other servers.
HttpResponse unauthorizedResponse();
HttpResponse forbiddenResponse(const std::vector<RequestAttributes>& attrs);
HttpResponse authorizationErrorResponse(const RequestAttributes& a);

}  // namespace agent::server

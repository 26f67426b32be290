// The fake API server's HTTP front: authenticates each request (client certificate,
// then bearer token), authorizes it (Node authorizer + RBAC subset, NodeRestriction),
// routes /api and /apis paths to the store with the kube-apiserver's verbs, query
// parameters and status codes (serviceaccounts/<name>/token to the TokenIssuer),
// streams watches, answers discovery and health paths,
// and records every request.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "tests/fakeapi/authn.h"
#include "tests/fakeapi/request_record.h"
#include "tests/fakeapi/resource_store.h"
#include "tests/fakeapi/tls_http_server.h"
#include "tests/fakeapi/token_request.h"

namespace cubelet::fakeapi {

class ApiHandler {
 public:
  ApiHandler(ResourceStore& store, const TokenAuthenticator& tokens,
             std::chrono::milliseconds bookmarkInterval)
      : store_(store), tokens_(tokens), bookmarkInterval_(bookmarkInterval) {}

  void handle(const HttpRequest& req, HttpResponder& resp);
  // Serves serviceaccounts/<name>/token; without one that subresource answers 405.
  void setTokenIssuer(TokenIssuer* issuer) { tokenIssuer_ = issuer; }
  void setAdvertisedAddress(std::string hostPort) {
    std::lock_guard lock(mu_);
    address_ = std::move(hostPort);
  }

  std::vector<RequestRecord> requests() const;
  void clearRequests();

 private:
  void record(const HttpRequest& req, const UserInfo* user, int code, bool denied);
  void serveNonResource(const HttpRequest& req, HttpResponder& resp, const UserInfo& user);
  void serveWatch(const WatcherPtr& w, int64_t timeoutSeconds, bool bookmarks, HttpResponder& resp);

  ResourceStore& store_;
  const TokenAuthenticator& tokens_;
  const std::chrono::milliseconds bookmarkInterval_;
  TokenIssuer* tokenIssuer_ = nullptr;
  mutable std::mutex mu_;  // guards address_ and records_
  std::string address_;
  std::vector<RequestRecord> records_;
};

// Decoded query parameters (last value wins).
std::map<std::string, std::string> parseQuery(const std::string& query);

}  // namespace cubelet::fakeapi

// Who made a request to the kubelet API and what it asks for, in the terms the
// authorizers speak (k8s.io/apiserver's user.Info and authorizer.Attributes), and
// the kubelet's mapping of an HTTP request to those attributes
// (pkg/kubelet/server/auth.go, nodeAuthorizerAttributesGetter).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "agent/kubeapi/api_client.h"
#include "core/event_loop.h"

namespace agent::server {

inline constexpr char kAnonymousUser[] = "system:anonymous";
inline constexpr char kUnauthenticatedGroup[] = "system:unauthenticated";
inline constexpr char kAuthenticatedGroup[] = "system:authenticated";

// An authenticated caller.
struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
  bool operator==(const UserInfo&) const = default;
};

// A resource request to authorize. The kubelet API always asks about
// nodes/<subresource> of its own Node, in the core group, version v1, cluster scope.
struct RequestAttributes {
  UserInfo user;
  std::string verb;
  std::string apiGroup;
  std::string apiVersion = "v1";
  std::string resource = "nodes";
  std::string subresource;
  std::string name;
  std::string namespace_;
  std::string path;  // the request path (not sent to the authorizer)
  bool operator==(const RequestAttributes&) const = default;
};

// The API verb of an HTTP method: POST create, GET and HEAD get, PUT update, PATCH
// patch, DELETE delete; "" for anything else (as the kubelet: such requests are
// then authorized with an empty verb, which no RBAC rule but "*" grants).
// Upstream maps HEAD to "" too; we map it to "get" as the reads it stands for.
std::string verbForMethod(const std::string& method);

// The attributes for a request of `method` on `path` to the kubelet of `nodeName`,
// in the order to try them: the request is allowed when ANY is allowed, and the
// 403 names every subresource tried. The subresource comes from the path:
//   /stats/...  stats        /metrics/...  metrics     /logs/...  log
//   /checkpoint/...  checkpoint                        anything else  proxy
// With `fineGrained` (the KubeletFineGrainedAuthz feature gate: beta and on by
// default since Kubernetes 1.33, alpha in 1.32) these are tried first, with proxy
// as the fallback:
//   /pods, /runningpods/  pods    /healthz...  healthz    /configz  configz
//   /statusz  statusz
std::vector<RequestAttributes> nodeRequestAttributes(const UserInfo& user,
                                                     const std::string& method,
                                                     const std::string& path,
                                                     const std::string& nodeName,
                                                     bool fineGrained = true);

// True when `path` is `base` (a trailing '/' of `base` ignored) or lies under it:
// "/stats/summary" and "/stats" are under "/stats/", "/statsx" is not.
bool isSubpath(const std::string& path, const std::string& base);

// How the authentication and authorization webhooks (TokenReview,
// SubjectAccessReview) retry a failed call: k8s.io/apiserver's
// DefaultAuthWebhookRetryBackoff (500 ms, x1.5, 20 % jitter, 5 tries in all).
struct WebhookRetry {
  core::Duration initial = std::chrono::milliseconds(500);
  double factor = 1.5;
  double jitter = 0.2;
  int attempts = 5;
  // The wait after failed attempt `n` (1-based), jitter included.
  core::Duration delay(int n) const;
};

// Whether a webhook answer is worth another try (DefaultShouldRetry): no answer at
// all, 429 Too Many Requests, 500, 503 and 504.
bool retriableWebhookAnswer(const kubeapi::Response& r);

}  // namespace agent::server

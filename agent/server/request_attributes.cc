#include "agent/server/request_attributes.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string_view>

namespace agent::server {

std::string verbForMethod(const std::string& method) {
  if (method == "POST") return "create";
  if (method == "GET" || method == "HEAD") return "get";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "";
}

bool isSubpath(const std::string& path, const std::string& base) {
  std::string_view b = base;
  if (!b.empty() && b.back() == '/') b.remove_suffix(1);
  if (path == b) return true;
  return path.size() > b.size() && path.compare(0, b.size(), b) == 0 && path[b.size()] == '/';
}

std::vector<RequestAttributes> nodeRequestAttributes(const UserInfo& user,
                                                     const std::string& method,
                                                     const std::string& path,
                                                     const std::string& nodeName,
                                                     bool fineGrained) {
  std::vector<std::string> subresources;
  if (fineGrained) {
    if (isSubpath(path, "/pods")) {
      subresources.push_back("pods");
    } else if (isSubpath(path, "/healthz")) {
      subresources.push_back("healthz");
    } else if (isSubpath(path, "/configz")) {
      subresources.push_back("configz");
    } else if (isSubpath(path, "/statusz")) {
      subresources.push_back("statusz");
    } else if (isSubpath(path, "/runningpods/")) {
      subresources.push_back("pods");
    }
  }
  if (isSubpath(path, "/stats/")) {
    subresources.push_back("stats");
  } else if (isSubpath(path, "/metrics")) {
    subresources.push_back("metrics");
  } else if (isSubpath(path, "/logs/")) {
    subresources.push_back("log");  // as pods/log
  } else if (isSubpath(path, "/checkpoint/")) {
    subresources.push_back("checkpoint");
  } else {
    subresources.push_back("proxy");
  }

  std::vector<RequestAttributes> out;
  out.reserve(subresources.size());
  for (auto& sub : subresources) {
    RequestAttributes a;
    a.user = user;
    a.verb = verbForMethod(method);
    a.subresource = std::move(sub);
    a.name = nodeName;
    a.path = path;
    out.push_back(std::move(a));
  }
  return out;
}

core::Duration WebhookRetry::delay(int n) const {
  double ms = static_cast<double>(initial.count()) * std::pow(factor, std::max(0, n - 1));
  if (jitter > 0) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    ms += ms * jitter * std::uniform_real_distribution<double>(0, 1)(rng);
  }
  return core::Duration(static_cast<int64_t>(ms));
}

bool retriableWebhookAnswer(const kubeapi::Response& r) {
  if (!r.transport.ok()) return true;
  return r.code == 429 || r.code == 500 || r.code == 503 || r.code == 504;
}

}  // namespace agent::server

// The kubelet's /healthz, as k8s.io/apiserver's healthz handler serves it: named
// checks, "ok" when all pass; otherwise 500 listing each check ("[+]ping ok",
// "[-]syncloop failed: reason withheld") and "healthz check failed". ?verbose lists
// the checks on success too, ?exclude=<name> skips one, /healthz/<name> runs one.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "agent/server/http_server.h"

namespace agent::server {

class Healthz {
 public:
  using Check = std::function<absl::Status()>;
  void add(std::string name, Check check) {
    checks_.emplace_back(std::move(name), std::move(check));
  }
  HttpResponse serve(const HttpRequest& req) const;
  HttpResponse serveOne(const std::string& name) const;

 private:
  std::vector<std::pair<std::string, Check>> checks_;
};

// The kubelet's syncloop check: fails when `lastRun` is older than `threshold`.
absl::Status syncLoopHealthy(core::MonoTime lastRun, core::MonoTime now, core::Duration threshold);

}  // namespace agent::server

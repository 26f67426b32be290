#include "agent/server/healthz.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/log.h"

namespace agent::server {
namespace {

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers["X-Content-Type-Options"] = "nosniff";
  return r;
}

}  // namespace

HttpResponse Healthz::serve(const HttpRequest& req) const {
  std::set<std::string> excluded;
  for (const auto& [key, value] : req.queryAll) {
    if (key != "exclude") continue;
    for (absl::string_view n : absl::StrSplit(value, ',', absl::SkipEmpty())) excluded.emplace(n);
  }
  std::string listing;
  bool failed = false;
  for (const auto& [name, check] : checks_) {
    if (excluded.erase(name) > 0) {
      absl::StrAppend(&listing, "[+]", name, " excluded: ok\n");
      continue;
    }
    absl::Status s = check();
    if (s.ok()) {
      absl::StrAppend(&listing, "[+]", name, " ok\n");
    } else {
      failed = true;
      // As upstream: the reason goes to the log, not to the (unauthenticated) caller.
      absl::StrAppend(&listing, "[-]", name, " failed: reason withheld\n");
      LOG_WARNING << "healthz check " << name << " failed: " << s.message();
    }
  }
  for (const std::string& n : excluded) {
    absl::StrAppend(&listing, "warn: some health checks cannot be excluded: no matches for \"", n,
                    "\"\n");
  }
  if (failed) return text(500, listing + "healthz check failed\n");
  if (req.query.count("verbose") > 0) return text(200, listing + "healthz check passed\n");
  return text(200, "ok");
}

HttpResponse Healthz::serveOne(const std::string& name) const {
  for (const auto& [n, check] : checks_) {
    if (n != name) continue;
    absl::Status s = check();
    if (s.ok()) return text(200, "ok");
    return text(500, absl::StrCat("internal server error: ", s.message(), "\n"));
  }
  return text(404, "404 page not found\n");
}

absl::Status syncLoopHealthy(core::MonoTime lastRun, core::MonoTime now, core::Duration threshold) {
  if (now - lastRun > threshold) {
    return absl::UnavailableError("sync Loop took longer than expected");
  }
  return absl::OkStatus();
}

}  // namespace agent::server

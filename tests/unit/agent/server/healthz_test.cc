// /healthz as k8s.io/apiserver's handler answers it, and the kubelet's syncloop rule.
#include "agent/server/healthz.h"

#include <gtest/gtest.h>

#include "agent/config/configz.h"

namespace agent::server {
namespace {

using namespace std::chrono_literals;

HttpRequest get(const std::string& query = "") {
  HttpRequest r;
  r.method = "GET";
  r.path = "/healthz";
  if (!query.empty()) {
    size_t eq = query.find('=');
    std::string k = query.substr(0, eq);
    std::string v = eq == std::string::npos ? "" : query.substr(eq + 1);
    r.query[k] = v;
    r.queryAll.emplace_back(k, v);
  }
  return r;
}

TEST(HealthzTest, OkWhenEveryCheckPassesAndListsThemWhenOneFails) {
  Healthz h;
  bool syncOk = true;
  h.add("ping", [] { return absl::OkStatus(); });
  h.add("syncloop", [&] {
    return syncOk ? absl::OkStatus() : absl::UnavailableError("sync Loop took longer");
  });
  HttpResponse r = h.serve(get());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  r = h.serve(get("verbose"));
  EXPECT_EQ(r.body, "[+]ping ok\n[+]syncloop ok\nhealthz check passed\n");

  syncOk = false;
  r = h.serve(get());
  EXPECT_EQ(r.status, 500);
  // The reason stays in the log, not in the answer.
  EXPECT_EQ(r.body, "[+]ping ok\n[-]syncloop failed: reason withheld\nhealthz check failed\n");
  // An excluded check does not fail the whole; an unknown one is warned about.
  r = h.serve(get("exclude=syncloop"));
  EXPECT_EQ(r.status, 200);
  r = h.serve(get("exclude=nope"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("no matches for \"nope\""), std::string::npos) << r.body;
  // One check alone names its error.
  r = h.serveOne("syncloop");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal server error: sync Loop took longer\n");
  EXPECT_EQ(h.serveOne("ping").body, "ok");
  EXPECT_EQ(h.serveOne("other").status, 404);
}

TEST(HealthzTest, SyncLoopFailsOnlyPastTheThreshold) {
  core::MonoTime t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(syncLoopHealthy(t0, t0 + 299s, 5min).ok());
  EXPECT_TRUE(syncLoopHealthy(t0, t0 + 300s, 5min).ok());
  absl::Status s = syncLoopHealthy(t0, t0 + 301s, 5min);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "sync Loop took longer than expected");
}

TEST(ConfigzTest, ServesTheKubeletConfigurationNames) {
  config::AgentConfig c;
  c.port = 10250;
  c.tlsMinVersion = "VersionTLS13";
  c.authorization.mode = "Webhook";
  c.syncFrequency = 90s;
  nlohmann::json j = config::configzJson(c);
  ASSERT_TRUE(j.contains("kubeletconfig")) << j.dump();
  const nlohmann::json& k = j["kubeletconfig"];
  EXPECT_EQ(k["port"], 10250);
  EXPECT_EQ(k["tlsMinVersion"], "VersionTLS13");
  EXPECT_EQ(k["authorization"]["mode"], "Webhook");
  EXPECT_EQ(k["authorization"]["webhook"]["cacheAuthorizedTTL"], "5m0s");
  EXPECT_EQ(k["authentication"]["webhook"]["cacheTTL"], "2m0s");
  EXPECT_EQ(k["syncFrequency"], "1m30s");
  EXPECT_EQ(k["containerLogMaxSize"], "10Mi");
  EXPECT_EQ(k["evictionHard"]["memory.available"], "100Mi");
}

}  // namespace
}  // namespace agent::server

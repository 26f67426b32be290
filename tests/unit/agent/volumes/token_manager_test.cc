#include "agent/volumes/token_manager.h"

#include <ctime>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::volumes {
namespace {

using namespace std::chrono_literals;
using agent::kubeapi::Request;
using agent::kubeapi::Response;
using nlohmann::json;

std::string rfc3339(core::WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Response apiStatus(long code, const std::string& reason, const std::string& message) {
  json j = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
            {"reason", reason}, {"message", message}, {"code", code}};
  return Response{absl::OkStatus(), code, j.dump()};
}

// The TokenRequest endpoint: issues "tok-<n>" valid for the requested lifetime (or
// `ttlOverride`, as the API server may shorten or extend it), or fails on demand.
struct TokenServer {
  explicit TokenServer(core::SimEventLoop& l) : loop(l) {}
  core::SimEventLoop& loop;
  int issued = 0;
  int failNext = 0;  // fail the next N requests
  bool failAll = false;
  std::optional<int64_t> ttlOverride;
  std::vector<core::MonoTime> times;

  Response handle(const Request& r) {
    times.push_back(loop.monotonicNow());
    if (failAll || failNext > 0) {
      if (failNext > 0) --failNext;
      return apiStatus(403, "Forbidden", "token requests are forbidden today");
    }
    json req = json::parse(r.body);
    int64_t ttl = ttlOverride.value_or(req["spec"]["expirationSeconds"].get<int64_t>());
    json resp = req;
    resp["spec"]["expirationSeconds"] = ttl;
    resp["status"] = {{"token", absl::StrCat("tok-", ++issued)},
                      {"expirationTimestamp", rfc3339(loop.wallNow() + std::chrono::seconds(ttl))}};
    return Response{absl::OkStatus(), 201, resp.dump()};
  }
};

class TokenManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.setHandler([this](const Request& r) { return server.handle(r); });
  }

  // Moves simulated time by `d`, delivering API answers as they are due so that timers
  // armed by them fire within `d` too.
  void run(core::Duration d) {
    core::MonoTime end = loop.monotonicNow() + d;
    loop.runPending();
    while (true) {
      auto next = loop.nextTimerDeadline();
      if (!next || *next > end) break;
      loop.advance(std::chrono::duration_cast<core::Duration>(*next - loop.monotonicNow()));
      loop.runPending();
    }
    loop.advance(std::chrono::duration_cast<core::Duration>(end - loop.monotonicNow()));
    loop.runPending();
  }

  core::Duration sinceStart(core::MonoTime t) const {
    return std::chrono::duration_cast<core::Duration>(t - start);
  }

  TokenLookup get(const std::string& uid = "uid-1", const std::string& pod = "web") {
    return tokens.get("ns1", pod, uid, spec);
  }

  core::SimEventLoop loop;
  core::MonoTime start = loop.monotonicNow();
  cubelet::testing::FakeApiClient api{loop};
  TokenServer server{loop};
  std::vector<std::string> changes;
  double jitter = 0.0;
  TokenManager tokens{loop, api, [this](const std::string& uid) { changes.push_back(uid); },
                      [this] { return jitter; }};
  TokenRequestSpec spec{"sa1", "vault", 3600};
};

TEST_F(TokenManagerTest, IssuesTokenBoundToPod) {
  spec.expirationSeconds = 7200;
  TokenLookup first = get();
  EXPECT_FALSE(first.ready);
  EXPECT_EQ(first.error, "");
  EXPECT_EQ(tokens.size(), 1u);
  ASSERT_EQ(api.requests().size(), 1u);

  const Request& r = api.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v1/namespaces/ns1/serviceaccounts/sa1/token");
  json body = json::parse(r.body);
  EXPECT_EQ(body["kind"], "TokenRequest");
  EXPECT_EQ(body["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(body["spec"]["audiences"], json::array({"vault"}));
  EXPECT_EQ(body["spec"]["expirationSeconds"], 7200);
  EXPECT_EQ(body["spec"]["boundObjectRef"],
            json({{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "web"}, {"uid", "uid-1"}}));

  // Still pending while the request is in flight; no second request.
  EXPECT_FALSE(get().ready);
  EXPECT_EQ(api.requests().size(), 1u);

  loop.runPending();
  EXPECT_EQ(changes, std::vector<std::string>{"uid-1"});
  TokenLookup ready = get();
  EXPECT_TRUE(ready.ready);
  EXPECT_EQ(ready.token, "tok-1");
  EXPECT_EQ(ready.error, "");
  EXPECT_EQ(api.requests().size(), 1u);
}

TEST_F(TokenManagerTest, EmptyAudienceIsOmitted) {
  spec.audience = "";
  get();
  ASSERT_EQ(api.requests().size(), 1u);
  json body = json::parse(api.requests()[0].body);
  EXPECT_FALSE(body["spec"].contains("audiences")) << body.dump();
  EXPECT_EQ(body["spec"]["expirationSeconds"], 3600);
}

TEST_F(TokenManagerTest, TokensArePerPod) {
  get("uid-1", "web");
  get("uid-2", "db");
  ASSERT_EQ(api.requests().size(), 2u);
  EXPECT_EQ(json::parse(api.requests()[1].body)["spec"]["boundObjectRef"]["uid"], "uid-2");
  loop.runPending();
  EXPECT_EQ(get("uid-1", "web").token, "tok-1");
  EXPECT_EQ(get("uid-2", "db").token, "tok-2");
  EXPECT_EQ(tokens.size(), 2u);
}

// requiresRefresh's moment for a token issued at t=0, by TTL (requested or as the API
// server set it), jitter draw and expected refresh time.
TEST_F(TokenManagerTest, RefreshTimerMatchesRequiresRefresh) {
  struct Case {
    int64_t requested;
    std::optional<int64_t> served;
    double draw;
    core::Duration refreshAt;
  } cases[] = {
      {3600, std::nullopt, 0.0, 2880s},     // 80 % of an hour
      {3600, std::nullopt, 0.95, 2871s},    // minus a 9 s jitter (whole seconds)
      {3600, 600, 0.0, 480s},               // the TTL the server granted, not the one asked
      {601, std::nullopt, 0.0, 481s},       // 20 % rounded down: 120 s
      {172800, std::nullopt, 0.5, 86395s},  // 48 h: the 24 h maxTTL rule wins
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.requested, " s, jitter draw ", c.draw));
    core::SimEventLoop l;
    cubelet::testing::FakeApiClient client(l);
    TokenServer s(l);
    s.ttlOverride = c.served;
    client.setHandler([&s](const Request& r) { return s.handle(r); });
    int changed = 0;
    TokenManager m(
        l, client, [&](const std::string&) { ++changed; }, [&] { return c.draw; });
    TokenRequestSpec sp{"sa1", "", c.requested};
    m.get("ns1", "web", "uid-1", sp);
    l.runPending();
    ASSERT_EQ(m.get("ns1", "web", "uid-1", sp).token, "tok-1");
    l.advance(c.refreshAt - 1ms);
    EXPECT_EQ(client.requests().size(), 1u);
    l.advance(1ms);
    ASSERT_EQ(client.requests().size(), 2u);
    // The old token is served until the new one arrives.
    EXPECT_EQ(m.get("ns1", "web", "uid-1", sp).token, "tok-1");
    l.runPending();
    EXPECT_EQ(m.get("ns1", "web", "uid-1", sp).token, "tok-2");
    EXPECT_EQ(changed, 2);
  }
}

TEST_F(TokenManagerTest, RefreshFailureKeepsOldTokenUntilItExpires) {
  get();
  loop.runPending();
  ASSERT_EQ(get().token, "tok-1");
  changes.clear();

  server.failAll = true;
  run(2880s);  // the refresh fails, then retries 1 s, 2 s, 4 s ... apart
  EXPECT_EQ(server.times.size(), 2u);
  run(100s);
  EXPECT_GT(server.times.size(), 3u);
  TokenLookup stale = get();
  EXPECT_TRUE(stale.ready);
  EXPECT_EQ(stale.token, "tok-1");
  EXPECT_TRUE(changes.empty());

  // Past expiry (3600 s) the next failure is reported; the retry comes just after it.
  run(3600s - 2980s);
  EXPECT_TRUE(get().ready);
  run(1s);
  TokenLookup expired = get();
  EXPECT_FALSE(expired.ready);
  EXPECT_EQ(expired.error,
            "token \"sa1\"/\"ns1\"/[]string{\"vault\"}/3600/v1.BoundObjectReference{Kind:\"Pod\", "
            "APIVersion:\"v1\", Name:\"web\", UID:\"uid-1\"} expired and refresh failed: token "
            "requests are forbidden today");
  EXPECT_EQ(changes, std::vector<std::string>{"uid-1"});
  EXPECT_LE(sinceStart(server.times.back()), 3601s);

  // Recovery: the next retry issues a fresh token.
  server.failAll = false;
  run(61s);
  TokenLookup fresh = get();
  EXPECT_TRUE(fresh.ready);
  EXPECT_EQ(fresh.error, "");
  EXPECT_EQ(fresh.token, "tok-2");
  EXPECT_EQ(changes, (std::vector<std::string>{"uid-1", "uid-1"}));
}

TEST_F(TokenManagerTest, FirstFailureReportsErrorAndRetriesWithBackoff) {
  api.setHandler([this](const Request& r) {
    if (server.times.size() < 2) {
      server.times.push_back(loop.monotonicNow());
      return apiStatus(404, "NotFound", "serviceaccounts \"sa1\" not found");
    }
    return server.handle(r);
  });
  get();
  loop.runPending();
  TokenLookup failed = get();
  EXPECT_FALSE(failed.ready);
  EXPECT_EQ(failed.error, "failed to fetch token: serviceaccounts \"sa1\" not found");
  EXPECT_EQ(changes.size(), 1u);

  run(1s);  // the first retry fails the same way: no news for the agent
  EXPECT_EQ(server.times.size(), 2u);
  EXPECT_EQ(changes.size(), 1u);
  run(2s);
  ASSERT_EQ(server.times.size(), 3u);
  EXPECT_EQ(sinceStart(server.times[1]), 1s);
  EXPECT_EQ(sinceStart(server.times[2]), 3s);
  EXPECT_EQ(get().token, "tok-1");
  EXPECT_EQ(get().error, "");
  EXPECT_EQ(changes.size(), 2u);
}

TEST_F(TokenManagerTest, ExpirationTimestampForms) {
  // An offset form of 01:00:00.5Z: refreshed at 80 % of the hour like the "Z" form.
  api.setHandler([this](const Request& r) {
    server.times.push_back(loop.monotonicNow());
    json resp = json::parse(r.body);
    resp["status"] = {{"token", "t"}, {"expirationTimestamp", "2024-01-01T02:00:00.5+01:00"}};
    return Response{absl::OkStatus(), 201, resp.dump()};
  });
  get();
  loop.runPending();
  EXPECT_EQ(get().token, "t");
  run(2880s);
  EXPECT_EQ(server.times.size(), 1u);
  run(1s);
  ASSERT_EQ(server.times.size(), 2u);
  EXPECT_EQ(sinceStart(server.times[1]), 2880500ms);  // the half second counts

  api.setHandler([](const Request& r) {
    json resp = json::parse(r.body);
    resp["status"] = {{"token", "t"}, {"expirationTimestamp", "soon"}};
    return Response{absl::OkStatus(), 201, resp.dump()};
  });
  EXPECT_EQ(get("uid-2", "db").error, "");
  loop.runPending();
  EXPECT_EQ(get("uid-2", "db").error,
            "failed to fetch token: decoding TokenRequest response: "
            "status.expirationTimestamp: not an RFC 3339 time: \"soon\"");
}

TEST_F(TokenManagerTest, TransportErrorMessage) {
  api.setHandler([](const Request&) {
    return Response{absl::UnavailableError("connect: connection refused"), 0, ""};
  });
  get();
  loop.runPending();
  EXPECT_EQ(get().error, "failed to fetch token: connect: connection refused");
}

TEST_F(TokenManagerTest, ForgetPodStopsTimersAndDropsAnswers) {
  get();
  loop.runPending();
  EXPECT_EQ(loop.armedTimerCount(), 1u);  // the refresh
  tokens.forgetPod("uid-1");
  EXPECT_EQ(tokens.size(), 0u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
  run(10000s);
  EXPECT_EQ(api.requests().size(), 1u);

  // Forgotten while a request is in flight: its answer is dropped.
  changes.clear();
  get("uid-2", "db");
  tokens.forgetPod("uid-2");
  loop.runPending();
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(tokens.size(), 0u);
}

TEST(TokenManagerKeyTest, KeyIsTheKubeletsKeyFunc) {
  EXPECT_EQ(tokenCacheKey("ns", "web", "u-1", TokenRequestSpec{"default", "", 3607}),
            "\"default\"/\"ns\"/[]string(nil)/3607/v1.BoundObjectReference{Kind:\"Pod\", "
            "APIVersion:\"v1\", Name:\"web\", UID:\"u-1\"}");
}

TEST(TokenManagerKeyTest, ApiErrorMessages) {
  EXPECT_EQ(apiErrorMessage(apiStatus(403, "Forbidden", "no")), "no");
  EXPECT_EQ(apiErrorMessage(Response{absl::OkStatus(), 404, ""}),
            "the server could not find the requested resource");
  EXPECT_EQ(apiErrorMessage(Response{absl::OkStatus(), 502, "<html>"}),
            "the server responded with the status code 502 but did not return more information");
}

}  // namespace
}  // namespace agent::volumes

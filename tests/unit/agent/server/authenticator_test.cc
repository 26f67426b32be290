// The kubelet API's authenticator against the real fake API server (TokenReview
// over TLS from a node identity, on a real SdEventLoop), with an injected clock for
// the cache; webhook failures and retries with a scripted ApiClient.
#include "agent/server/authenticator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "agent/kubeapi/curl_api_client.h"
#include "core/sd_event_loop.h"
#include "tests/fakeapi/fake_api_server.h"
#include "tests/fakeapi/reviews.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/support/loop_fixtures.h"

namespace agent::server {
namespace {

using cubelet::fakeapi::FakeApiServer;
using cubelet::fakeapi::FakeApiServerOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

HttpRequest withToken(const std::string& token) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/pods";
  r.headers["authorization"] = "Bearer " + token;
  return r;
}

class AuthenticatorTest : public cubelet::testing::NodeApiTest {
 protected:
  void SetUp() override {
    NodeApiTest::SetUp();
    cfg_.webhookEnabled = true;
    cfg_.clientCAFile = "/etc/kubernetes/pki/ca.crt";  // only its presence matters here
  }

  std::unique_ptr<Authenticator> make(kubeapi::ApiClient* api) {
    Authenticator::Options opts;
    opts.clock = &clock_;
    opts.retry.initial = std::chrono::milliseconds(1);
    opts.retry.jitter = 0;
    auto a = Authenticator::create(cfg_, api, *loop_, opts);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }
  std::unique_ptr<Authenticator> make() { return make(api_.get()); }

  Authenticator::Result authenticate(Authenticator& a, const HttpRequest& req) {
    std::optional<Authenticator::Result> got;
    a.authenticate(req, [&](Authenticator::Result r) { got = std::move(r); });
    EXPECT_TRUE(runUntil([&] { return got.has_value(); }));
    return got.value_or(absl::DeadlineExceededError("test: no answer"));
  }

  size_t tokenReviews() const { return server_->reviews().count("TokenReview"); }

  config::Authentication cfg_;
  cubelet::testing::ManualClock clock_;
};

TEST_F(AuthenticatorTest, BearerTokenIsReviewedAndCachedForTheTtl) {
  const std::string token = server_->addToken("alice", {"devs"});
  auto a = make();
  auto r = authenticate(*a, withToken(token));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->name, "alice");
  EXPECT_THAT((*r)->groups, ElementsAre("devs", "system:authenticated"));
  EXPECT_EQ(tokenReviews(), 1u);
  auto reviews = server_->reviews().reviews();
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0].caller, "system:node:n1");
  EXPECT_EQ(reviews[0].spec, nlohmann::json({{"token", token}}));  // no audiences

  // Within the TTL: the cache answers, at once.
  clock_.advance(cfg_.webhookCacheTTL - std::chrono::seconds(1));
  std::optional<Authenticator::Result> cached;
  a->authenticate(withToken(token), [&](Authenticator::Result r) { cached = std::move(r); });
  ASSERT_TRUE(cached.has_value());
  ASSERT_TRUE(cached->ok() && cached->value().has_value());
  EXPECT_EQ(cached->value()->name, "alice");
  EXPECT_EQ(tokenReviews(), 1u);
  EXPECT_EQ(a->cachedTokens(), 1u);

  // After it: a new review.
  clock_.advance(std::chrono::seconds(2));
  r = authenticate(*a, withToken(token));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(tokenReviews(), 2u);
}

TEST_F(AuthenticatorTest, UnknownTokenIsAnErrorEvenWithAnonymousAndIsCached) {
  cfg_.anonymousEnabled = true;
  auto a = make();
  auto r = authenticate(*a, withToken("not-a-token"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "invalid bearer token");
  EXPECT_EQ(tokenReviews(), 1u);
  // Unknown tokens are cached too (failureTTL = cacheTTL).
  r = authenticate(*a, withToken("not-a-token"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(tokenReviews(), 1u);
  clock_.advance(cfg_.webhookCacheTTL + std::chrono::milliseconds(1));
  r = authenticate(*a, withToken("not-a-token"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(tokenReviews(), 2u);
}

TEST_F(AuthenticatorTest, NoCredentialsIsAnonymousOnlyWhenEnabled) {
  HttpRequest bare;
  bare.method = "GET";
  bare.path = "/pods";
  auto off = make();
  auto r = authenticate(*off, bare);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());

  cfg_.anonymousEnabled = true;
  auto on = make();
  r = authenticate(*on, bare);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->name, "system:anonymous");
  EXPECT_THAT((*r)->groups, ElementsAre("system:unauthenticated"));
  EXPECT_EQ(tokenReviews(), 0u);
}

TEST_F(AuthenticatorTest, VerifiedClientCertificateComesFirst) {
  auto a = make();
  HttpRequest req = withToken(server_->adminToken());
  req.peer = PeerCertificate{true, "kube-apiserver-kubelet-client", {"system:masters", "ops"}};
  std::optional<Authenticator::Result> got;
  a->authenticate(req, [&](Authenticator::Result r) { got = std::move(r); });
  ASSERT_TRUE(got.has_value());  // no review needed: answered at once
  ASSERT_TRUE(got->ok() && got->value().has_value());
  EXPECT_EQ(got->value()->name, "kube-apiserver-kubelet-client");
  EXPECT_THAT(got->value()->groups, ElementsAre("system:masters", "ops", "system:authenticated"));
  EXPECT_EQ(tokenReviews(), 0u);
}

TEST_F(AuthenticatorTest, UnverifiedCertificateIsAnErrorUnlessATokenNamesTheUser) {
  cfg_.anonymousEnabled = true;
  auto a = make();
  HttpRequest req;
  req.method = "GET";
  req.path = "/pods";
  req.peer = PeerCertificate{false, "mallory", {"system:masters"}};
  auto r = authenticate(*a, req);
  ASSERT_FALSE(r.ok());  // not anonymous: the certificate failed
  EXPECT_THAT(r.status().message(), HasSubstr("verifying certificate"));
  // With a good token as well, the token decides (the union goes on).
  req.headers["authorization"] = "Bearer " + server_->addToken("bob", {});
  r = authenticate(*a, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->name, "bob");
  // Without a client CA there is no x509 authenticator at all.
  cfg_.clientCAFile.clear();
  auto noCa = make();
  req.headers.clear();
  r = authenticate(*noCa, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->name, "system:anonymous");
}

TEST_F(AuthenticatorTest, TokensAreIgnoredWithoutTheWebhook) {
  cfg_.webhookEnabled = false;
  cfg_.anonymousEnabled = true;
  auto a = make(nullptr);
  auto r = authenticate(*a, withToken(server_->adminToken()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->name, "system:anonymous");
  EXPECT_EQ(tokenReviews(), 0u);
}

TEST_F(AuthenticatorTest, WebSocketSubprotocolToken) {
  const std::string token = server_->addToken("carol", {});
  auto a = make();
  HttpRequest req;
  req.method = "GET";
  req.path = "/exec/default/web/c";
  req.headers["connection"] = "keep-alive, Upgrade";
  req.headers["upgrade"] = "websocket";
  std::string enc = absl::WebSafeBase64Escape(token);
  req.headers["sec-websocket-protocol"] =
      "v5.channel.k8s.io, base64url.bearer.authorization.k8s.io." + enc;
  auto r = authenticate(*a, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->name, "carol");
  // Not a WebSocket upgrade: the subprotocol header means nothing.
  req.headers.erase("upgrade");
  r = authenticate(*a, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
}

TEST(WebSocketBearerTokenTest, UpstreamErrors) {
  HttpRequest req;
  req.headers["connection"] = "Upgrade";
  req.headers["upgrade"] = "websocket";
  const std::string p = "base64url.bearer.authorization.k8s.io.";
  req.headers["sec-websocket-protocol"] = "v5.channel.k8s.io," + p + "YQ," + p + "Yg";
  EXPECT_EQ(webSocketBearerToken(req).status().message(),
            "multiple base64.bearer.authorization tokens specified");
  req.headers["sec-websocket-protocol"] = "v5.channel.k8s.io," + p + "YQ==";
  EXPECT_EQ(webSocketBearerToken(req).status().message(),
            "invalid base64.bearer.authorization token encoding");
  req.headers["sec-websocket-protocol"] = p + "YQ";
  EXPECT_EQ(webSocketBearerToken(req).status().message(), "missing additional subprotocol");
  req.headers["sec-websocket-protocol"] = "v5.channel.k8s.io, " + p + "YQ";
  auto t = webSocketBearerToken(req);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->value_or(""), "a");
}

TEST(BearerTokenTest, HeaderParsing) {
  auto token = [](const std::string& header) {
    HttpRequest r;
    r.headers["authorization"] = header;
    return bearerToken(r).value_or("<none>");
  };
  EXPECT_EQ(token("Bearer abc"), "abc");
  EXPECT_EQ(token("bearer abc"), "abc");
  EXPECT_EQ(token("  Bearer abc  "), "abc");
  EXPECT_EQ(token("Bearer abc def"), "abc");
  EXPECT_EQ(token("Bearer  abc"), "<none>");  // SplitN on " ": an empty token
  EXPECT_EQ(token("Bearer"), "<none>");
  EXPECT_EQ(token("Basic dXNlcjpwYXNz"), "<none>");
  EXPECT_EQ(bearerToken(HttpRequest{}), std::nullopt);
}

TEST_F(AuthenticatorTest, ConcurrentRequestsWithOneTokenShareOneReview) {
  const std::string token = server_->addToken("dave", {});
  auto a = make();
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    a->authenticate(withToken(token), [&](Authenticator::Result r) {
      EXPECT_TRUE(r.ok() && r->has_value() && (*r)->name == "dave");
      ++answered;
    });
  }
  ASSERT_TRUE(runUntil([&] { return answered == 5; }));
  EXPECT_EQ(tokenReviews(), 1u);
}

TEST_F(AuthenticatorTest, WebhookFailuresAreRetriedAndNeverCached) {
  cubelet::testing::FakeApiClient fake(*loop_);
  int calls = 0;
  bool healthy = false;
  fake.setHandler([&](const kubeapi::Request& req) {
    ++calls;
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path, "/apis/authentication.k8s.io/v1/tokenreviews");
    if (!healthy) return kubeapi::Response{absl::OkStatus(), 500, "{}"};
    return kubeapi::Response{
        absl::OkStatus(), 201,
        R"({"status":{"authenticated":true,"user":{"username":"erin","uid":"u-1",)"
        R"("groups":["g"],"extra":{"scopes":["a","b"]}}}})"};
  });
  auto a = make(&fake);
  auto r = authenticate(*a, withToken("t"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("500"));
  EXPECT_EQ(calls, 5);  // DefaultAuthWebhookRetryBackoff: 5 tries
  EXPECT_EQ(a->cachedTokens(), 0u);
  healthy = true;
  r = authenticate(*a, withToken("t"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->name, "erin");
  EXPECT_EQ((*r)->uid, "u-1");
  EXPECT_THAT((*r)->groups, ElementsAre("g", "system:authenticated"));
  EXPECT_THAT((*r)->extra.at("scopes"), ElementsAre("a", "b"));
  EXPECT_EQ(calls, 6);
}

TEST_F(AuthenticatorTest, ReviewErrorInStatusIsNotCached) {
  cubelet::testing::FakeApiClient fake(*loop_);
  fake.setHandler([&](const kubeapi::Request&) {
    return kubeapi::Response{absl::OkStatus(), 201,
                             R"({"status":{"authenticated":false,"error":"token expired"}})"};
  });
  auto a = make(&fake);
  auto r = authenticate(*a, withToken("t"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "token expired");
  r = authenticate(*a, withToken("t"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(fake.count("POST", "/apis/authentication.k8s.io/v1/tokenreviews"), 2u);
}

TEST_F(AuthenticatorTest, DestroyedWhileAReviewIsInFlight) {
  cubelet::testing::FakeApiClient fake(*loop_);
  fake.setHandler([](const kubeapi::Request&) {
    return kubeapi::Response{absl::OkStatus(), 201, R"({"status":{"authenticated":false}})"};
  });
  auto a = make(&fake);
  bool called = false;
  a->authenticate(withToken("t"), [&](Authenticator::Result) { called = true; });
  a.reset();
  int spins = 0;
  runUntil([&] { return ++spins > 20; });
  EXPECT_FALSE(called);
}

TEST(AuthenticatorCreateTest, ConfigurationErrorsNameTheField) {
  auto loop = core::SdEventLoop::create();
  ASSERT_TRUE(loop.ok());
  config::Authentication cfg;  // webhook on by default
  auto a = Authenticator::create(cfg, nullptr, **loop);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("authentication.webhook.enabled"));
  EXPECT_THAT(a.status().message(), HasSubstr("cannot use webhook authentication"));
  cfg.webhookEnabled = false;
  a = Authenticator::create(cfg, nullptr, **loop);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("No authentication method configured"));
  cfg.anonymousEnabled = true;
  EXPECT_TRUE(Authenticator::create(cfg, nullptr, **loop).ok());
}

}  // namespace
}  // namespace agent::server

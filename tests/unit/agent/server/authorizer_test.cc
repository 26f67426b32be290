// The kubelet API's authorizer: AlwaysAllow, and Webhook against the real fake API
// server (SubjectAccessReview over TLS from a node identity) with an injected clock
// for the allowed/denied caches; webhook failures with a scripted ApiClient.
#include "agent/server/authorizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

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
using nlohmann::json;
using ::testing::HasSubstr;

RequestAttributes attrs(const std::string& user, std::vector<std::string> groups,
                        const std::string& sub = "proxy") {
  UserInfo u{user, "", std::move(groups), {}};
  return nodeRequestAttributes(u, "GET", sub == "stats" ? "/stats/summary" : "/exec/a/b/c",
                               "n1")[0];
}

class AuthorizerTest : public cubelet::testing::NodeApiTest {
 protected:
  void SetUp() override { NodeApiTest::SetUp(); }

  std::unique_ptr<Authorizer> make(kubeapi::ApiClient* api) {
    Authorizer::Options opts;
    opts.clock = &clock_;
    opts.retry.initial = std::chrono::milliseconds(1);
    opts.retry.jitter = 0;
    auto a = Authorizer::create(cfg_, api, *loop_, opts);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }
  std::unique_ptr<Authorizer> make() { return make(api_.get()); }

  absl::StatusOr<AuthzResult> authorize(Authorizer& a, const RequestAttributes& at) {
    std::optional<absl::StatusOr<AuthzResult>> got;
    a.authorize(at, [&](absl::StatusOr<AuthzResult> r) { got = std::move(r); });
    EXPECT_TRUE(runUntil([&] { return got.has_value(); }));
    return got.value_or(absl::DeadlineExceededError("test: no answer"));
  }

  size_t reviews() const { return server_->reviews().count("SubjectAccessReview"); }

  config::Authorization cfg_;  // Webhook by default
  cubelet::testing::ManualClock clock_;
};

TEST_F(AuthorizerTest, AlwaysAllowNeedsNoApiServer) {
  cfg_.mode = "AlwaysAllow";
  auto a = make(nullptr);
  std::optional<absl::StatusOr<AuthzResult>> got;
  a->authorize(attrs("system:anonymous", {"system:unauthenticated"}),
               [&](absl::StatusOr<AuthzResult> r) { got = std::move(r); });
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok());
  EXPECT_EQ((*got)->decision, AuthzDecision::kAllow);
}

TEST_F(AuthorizerTest, WebhookSendsTheAttributesAndCachesAllowedForTheAuthorizedTtl) {
  auto a = make();
  RequestAttributes admin = attrs("kubernetes-admin", {"system:masters", "system:authenticated"});
  admin.user.uid = "uid-1";
  admin.user.extra["scopes"] = {"x"};
  auto r = authorize(*a, admin);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decision, AuthzDecision::kAllow);
  ASSERT_EQ(reviews(), 1u);
  auto sent = server_->reviews().reviews()[0];
  EXPECT_EQ(sent.caller, "system:node:n1");
  EXPECT_EQ(sent.spec, json::parse(R"({
    "user": "kubernetes-admin", "uid": "uid-1",
    "groups": ["system:masters", "system:authenticated"], "extra": {"scopes": ["x"]},
    "resourceAttributes": {"verb": "get", "version": "v1", "resource": "nodes",
                           "subresource": "proxy", "name": "n1"}})"));

  clock_.advance(cfg_.webhookCacheAuthorizedTTL - std::chrono::seconds(1));
  std::optional<absl::StatusOr<AuthzResult>> cached;
  a->authorize(admin, [&](absl::StatusOr<AuthzResult> r) { cached = std::move(r); });
  ASSERT_TRUE(cached.has_value());  // from the cache, at once
  EXPECT_EQ((*cached)->decision, AuthzDecision::kAllow);
  EXPECT_EQ(reviews(), 1u);
  // Another subresource is another key.
  RequestAttributes stats = admin;
  stats.subresource = "stats";
  ASSERT_TRUE(authorize(*a, stats).ok());
  EXPECT_EQ(reviews(), 2u);

  clock_.advance(std::chrono::seconds(2));
  r = authorize(*a, admin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(reviews(), 3u);
}

TEST_F(AuthorizerTest, NotAllowedIsCachedForTheUnauthorizedTtl) {
  auto a = make();
  RequestAttributes bob = attrs("bob", {"system:authenticated"}, "stats");
  auto r = authorize(*a, bob);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decision, AuthzDecision::kNoOpinion);  // RBAC has no rule: no opinion
  EXPECT_EQ(reviews(), 1u);
  clock_.advance(cfg_.webhookCacheUnauthorizedTTL - std::chrono::seconds(1));
  r = authorize(*a, bob);
  EXPECT_EQ(r->decision, AuthzDecision::kNoOpinion);
  EXPECT_EQ(reviews(), 1u);
  clock_.advance(std::chrono::seconds(2));
  r = authorize(*a, bob);
  EXPECT_EQ(reviews(), 2u);
}

TEST_F(AuthorizerTest, WebhookErrorsAreRetriedAndNotCached) {
  cubelet::testing::FakeApiClient fake(*loop_);
  int calls = 0;
  std::string answer;
  fake.setHandler([&](const kubeapi::Request& req) {
    ++calls;
    EXPECT_EQ(req.path, "/apis/authorization.k8s.io/v1/subjectaccessreviews");
    if (answer.empty()) return kubeapi::Response{absl::UnavailableError("connection reset"), 0, ""};
    return kubeapi::Response{absl::OkStatus(), 201, answer};
  });
  auto a = make(&fake);
  auto r = authorize(*a, attrs("bob", {}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(a->cachedAnswers(), 0u);

  answer = R"({"status":{"allowed":false,"denied":true,"reason":"no way"}})";
  r = authorize(*a, attrs("bob", {}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decision, AuthzDecision::kDeny);
  EXPECT_EQ(r->reason, "no way");
  EXPECT_EQ(calls, 6);

  answer = R"({"status":{"allowed":true,"denied":true}})";
  r = authorize(*a, attrs("carol", {}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("both allow and deny"));
}

TEST_F(AuthorizerTest, NonRetriableFailureIsAnErrorAtOnce) {
  cubelet::testing::FakeApiClient fake(*loop_);
  fake.setHandler([&](const kubeapi::Request&) {
    return kubeapi::Response{absl::OkStatus(), 403, R"({"kind":"Status","reason":"Forbidden"})"};
  });
  auto a = make(&fake);
  auto r = authorize(*a, attrs("bob", {}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("403"));
  EXPECT_EQ(fake.count("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"), 1u);
}

TEST(AuthorizerCreateTest, ConfigurationErrorsNameTheField) {
  auto loop = core::SdEventLoop::create();
  ASSERT_TRUE(loop.ok());
  config::Authorization cfg;
  auto a = Authorizer::create(cfg, nullptr, **loop);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("authorization.mode"));
  EXPECT_THAT(a.status().message(), HasSubstr("cannot use webhook authorization"));
  cfg.mode = "RBAC";
  a = Authorizer::create(cfg, nullptr, **loop);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("unknown authorization mode \"RBAC\""));
}

TEST(SubjectAccessReviewBodyTest, LeavesEmptyFieldsOut) {
  RequestAttributes a =
      nodeRequestAttributes(UserInfo{"u", "", {}, {}}, "POST", "/run/a/b/c", "n1")[0];
  EXPECT_EQ(json::parse(subjectAccessReviewBody(a)),
            json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
              "spec":{"user":"u","resourceAttributes":{"verb":"create","version":"v1",
              "resource":"nodes","subresource":"proxy","name":"n1"}}})"));
}

}  // namespace
}  // namespace agent::server

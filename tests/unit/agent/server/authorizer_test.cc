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

namespace agent::server {
namespace {

using cubelet::fakeapi::FakeApiServer;
using cubelet::fakeapi::FakeApiServerOptions;
using nlohmann::json;
using ::testing::HasSubstr;

class TestClock : public core::Clock {
 public:
  core::MonoTime monotonicNow() const override { return now_; }
  core::WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  void advance(core::Duration d) { now_ += d; }

 private:
  core::MonoTime now_ = std::chrono::steady_clock::now();
};

RequestAttributes attrs(const std::string& user, std::vector<std::string> groups,
                        const std::string& sub = "proxy") {
  UserInfo u{user, "", std::move(groups), {}};
  return nodeRequestAttributes(u, "GET", sub == "stats" ? "/stats/summary" : "/exec/a/b/c",
                               "n1")[0];
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cubelet-authz-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    FakeApiServerOptions opts;
    opts.pkiDir = dir_ + "/pki";
    auto server = FakeApiServer::start(opts);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    const std::string kc = dir_ + "/node.conf";
    ASSERT_TRUE(server_->writeCertKubeconfig(kc, "system:node:n1", {"system:nodes"}).ok());
    auto conf = kubeapi::loadKubeconfig(kc);
    ASSERT_TRUE(conf.ok()) << conf.status();
    auto api = kubeapi::CurlApiClient::create(*loop_, *conf);
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = std::move(*api);
  }
  void TearDown() override {
    api_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

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

  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = false;
    core::TimerPtr poll;
    poll = loop_->createTimer([&] {
      if (done()) {
        ok = true;
        loop_->exit();
      } else if (std::chrono::steady_clock::now() > deadline) {
        loop_->exit();
      } else {
        poll->enableTimer(core::Duration(1));
      }
    });
    poll->enableTimer(core::Duration(0));
    EXPECT_TRUE(loop_->run().ok());
    return ok;
  }

  absl::StatusOr<AuthzResult> authorize(Authorizer& a, const RequestAttributes& at) {
    std::optional<absl::StatusOr<AuthzResult>> got;
    a.authorize(at, [&](absl::StatusOr<AuthzResult> r) { got = std::move(r); });
    EXPECT_TRUE(runUntil([&] { return got.has_value(); }));
    return got.value_or(absl::DeadlineExceededError("test: no answer"));
  }

  size_t reviews() const { return server_->reviews().count("SubjectAccessReview"); }

  std::string dir_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<kubeapi::CurlApiClient> api_;
  config::Authorization cfg_;  // Webhook by default
  TestClock clock_;
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

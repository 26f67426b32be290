// The kubelet API's auth filter on a recording HttpExchange: 401/403/500 with the
// kubelet's texts, allowed requests routed, the fine-grained fallback to proxy,
// caching across requests, and a client that leaves while a webhook is in flight.
// Webhooks go to the real fake API server (or, for failures, a scripted client).
#include "agent/server/auth_filter.h"

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

// An exchange that records what the filter does with it.
class RecordingExchange : public HttpExchange {
 public:
  explicit RecordingExchange(HttpRequest req) : req_(std::move(req)) {}
  const HttpRequest& request() const override { return req_; }
  void respond(HttpResponse r) override {
    ++answers_;
    if (!closed_) response_ = std::move(r);
  }
  void startStream(int, const std::string&, const std::map<std::string, std::string>&) override {
    ADD_FAILURE() << "the filter streamed";
  }
  void write(std::string_view) override { ADD_FAILURE() << "the filter wrote"; }
  size_t buffered() const override { return 0; }
  void onDrained(std::function<void()>) override {}
  void end() override { ADD_FAILURE() << "the filter ended a stream"; }
  void upgrade(const std::map<std::string, std::string>&,
               std::function<void(std::unique_ptr<UpgradedConnection>)>) override {
    ADD_FAILURE() << "the filter upgraded";
  }
  void onClosed(std::function<void()> cb) override { onClosed_ = std::move(cb); }
  bool closed() const override { return closed_; }

  // The client goes away.
  void close() {
    closed_ = true;
    if (onClosed_) onClosed_();
  }
  const std::optional<HttpResponse>& response() const { return response_; }
  int answers() const { return answers_; }

 private:
  HttpRequest req_;
  std::optional<HttpResponse> response_;
  int answers_ = 0;
  bool closed_ = false;
  std::function<void()> onClosed_;
};

HttpRequest get(const std::string& path, const std::string& token = "") {
  HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  r.remoteAddress = "127.0.0.1:40000";
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  return r;
}

class AuthFilterTest : public cubelet::testing::NodeApiTest {
 protected:
  void SetUp() override { NodeApiTest::SetUp(); }

  std::unique_ptr<AuthFilter> make(kubeapi::ApiClient* api) {
    AuthFilterOptions opts;
    opts.authentication.retry.attempts = 1;
    opts.authorization.retry.attempts = 1;
    auto f = AuthFilter::create(authn_, authz_, "n1", api, *loop_, opts);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? std::move(*f) : nullptr;
  }
  std::unique_ptr<AuthFilter> make() { return make(api_.get()); }

  struct Outcome {
    std::shared_ptr<RecordingExchange> ex;
    bool routed = false;
  };
  // Runs the filter on `req` until it answers or routes.
  Outcome run(const AuthFilter& f, HttpRequest req) {
    auto out = std::make_shared<Outcome>();
    out->ex = std::make_shared<RecordingExchange>(std::move(req));
    f.filter()(out->ex, [out] { out->routed = true; });
    EXPECT_TRUE(runUntil([&] { return out->routed || out->ex->response().has_value(); }));
    EXPECT_FALSE(out->routed && out->ex->answers() > 0) << "answered and routed";
    return *out;
  }

  size_t sars() const { return server_->reviews().count("SubjectAccessReview"); }
  size_t tokenReviews() const { return server_->reviews().count("TokenReview"); }

  config::Authentication authn_;  // webhook on, anonymous off
  config::Authorization authz_;   // Webhook
};

TEST_F(AuthFilterTest, NoCredentialsOrABadTokenIs401Unauthorized) {
  auto f = make();
  for (const std::string token : {"", "bogus"}) {
    Outcome o = run(*f, get("/pods", token));
    ASSERT_FALSE(o.routed);
    ASSERT_TRUE(o.ex->response().has_value());
    EXPECT_EQ(o.ex->response()->status, 401);
    EXPECT_EQ(o.ex->response()->body, "Unauthorized");
    EXPECT_EQ(o.ex->response()->contentType, "text/plain; charset=utf-8");
  }
  EXPECT_EQ(sars(), 0u);
}

TEST_F(AuthFilterTest, AnonymousIsForbiddenWithTheKubeletsText) {
  authn_.anonymousEnabled = true;
  auto f = make();
  Outcome o = run(*f, get("/pods"));
  ASSERT_FALSE(o.routed);
  ASSERT_TRUE(o.ex->response().has_value());
  EXPECT_EQ(o.ex->response()->status, 403);
  EXPECT_EQ(o.ex->response()->body,
            "Forbidden (user=system:anonymous, verb=get, resource=nodes, "
            "subresource(s)=[pods proxy])\n");
  EXPECT_EQ(o.ex->response()->contentType, "text/plain; charset=utf-8");
  EXPECT_EQ(sars(), 2u);  // pods, then the proxy fallback
  HttpRequest post = get("/exec/default/web/c");
  post.method = "POST";
  o = run(*f, post);
  EXPECT_EQ(o.ex->response()->body,
            "Forbidden (user=system:anonymous, verb=create, resource=nodes, "
            "subresource(s)=[proxy])\n");
}

TEST_F(AuthFilterTest, AllowedCallerIsRoutedAndAnswersAreCached) {
  auto f = make();
  Outcome o = run(*f, get("/stats/summary", server_->adminToken()));
  EXPECT_TRUE(o.routed);
  EXPECT_EQ(o.ex->answers(), 0);
  EXPECT_EQ(tokenReviews(), 1u);
  EXPECT_EQ(sars(), 1u);
  auto sent = server_->reviews().reviews();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].spec["user"], "kubernetes-admin");
  EXPECT_EQ(sent[1].spec["resourceAttributes"]["subresource"], "stats");
  EXPECT_EQ(sent[1].spec["resourceAttributes"]["name"], "n1");
  // Again: both answers come from the caches.
  o = run(*f, get("/stats/summary", server_->adminToken()));
  EXPECT_TRUE(o.routed);
  EXPECT_EQ(tokenReviews(), 1u);
  EXPECT_EQ(sars(), 1u);
}

TEST_F(AuthFilterTest, ClientCertificateUserNeedsNoTokenReview) {
  auto f = make();
  HttpRequest req = get("/containerLogs/default/web/c");
  req.peer = PeerCertificate{true, "kube-apiserver-kubelet-client", {"system:masters"}};
  authn_.clientCAFile = "ca.crt";
  auto withCa = make();
  Outcome o = run(*withCa, req);
  EXPECT_TRUE(o.routed);
  EXPECT_EQ(tokenReviews(), 0u);
  // Without a client CA configured the certificate names nobody.
  o = run(*f, req);
  ASSERT_TRUE(o.ex->response().has_value());
  EXPECT_EQ(o.ex->response()->status, 401);
}

TEST_F(AuthFilterTest, FineGrainedSubresourceFallsBackToProxy) {
  cubelet::testing::FakeApiClient fake(*loop_);
  std::vector<std::string> asked;
  fake.setHandler([&](const kubeapi::Request& req) {
    json body = json::parse(req.body);
    if (body["kind"] == "TokenReview") {
      return kubeapi::Response{absl::OkStatus(), 201,
                               R"({"status":{"authenticated":true,"user":{"username":"prom"}}})"};
    }
    std::string sub = body["spec"]["resourceAttributes"]["subresource"];
    asked.push_back(sub);
    json status = {{"allowed", sub == "proxy"}};
    return kubeapi::Response{absl::OkStatus(), 201, json{{"status", status}}.dump()};
  });
  auto f = make(&fake);
  Outcome o = run(*f, get("/healthz", "t"));
  EXPECT_TRUE(o.routed);
  EXPECT_THAT(asked, ::testing::ElementsAre("healthz", "proxy"));
}

TEST_F(AuthFilterTest, AuthorizationErrorIs500WithTheKubeletsText) {
  cubelet::testing::FakeApiClient fake(*loop_);
  fake.setHandler([&](const kubeapi::Request& req) {
    if (json::parse(req.body)["kind"] == "TokenReview") {
      return kubeapi::Response{absl::OkStatus(), 201,
                               R"({"status":{"authenticated":true,"user":{"username":"u1"}}})"};
    }
    return kubeapi::Response{absl::OkStatus(), 500, "{}"};
  });
  auto f = make(&fake);
  Outcome o = run(*f, get("/configz", "t"));
  ASSERT_FALSE(o.routed);
  ASSERT_TRUE(o.ex->response().has_value());
  EXPECT_EQ(o.ex->response()->status, 500);
  EXPECT_EQ(o.ex->response()->body,
            "Authorization error (user=u1, verb=get, resource=nodes, subresource=configz)");
}

TEST_F(AuthFilterTest, AuthenticationWebhookErrorIs401) {
  cubelet::testing::FakeApiClient fake(*loop_);
  fake.setHandler([&](const kubeapi::Request&) {
    return kubeapi::Response{absl::UnavailableError("connection refused"), 0, ""};
  });
  authn_.anonymousEnabled = true;
  auto f = make(&fake);
  Outcome o = run(*f, get("/pods", "t"));
  ASSERT_TRUE(o.ex->response().has_value());
  EXPECT_EQ(o.ex->response()->status, 401);
  EXPECT_EQ(o.ex->response()->body, "Unauthorized");
}

TEST_F(AuthFilterTest, ClientGoneWhileTheWebhookIsInFlight) {
  auto f = make();
  auto ex = std::make_shared<RecordingExchange>(get("/pods", server_->adminToken()));
  bool routed = false;
  f->filter()(ex, [&] { routed = true; });
  ex->close();
  // Let the TokenReview (and whatever would follow) finish.
  ASSERT_TRUE(runUntil([&] { return tokenReviews() == 1; }));
  int spins = 0;
  runUntil([&] { return ++spins > 50; });
  EXPECT_FALSE(routed);
  EXPECT_EQ(ex->answers(), 0);
  EXPECT_EQ(sars(), 0u);  // authorization never started
}

TEST_F(AuthFilterTest, AlwaysAllowRoutesAnonymous) {
  authn_.anonymousEnabled = true;
  authn_.webhookEnabled = false;
  authz_.mode = "AlwaysAllow";
  auto f = make(nullptr);  // standalone: no API server needed
  auto filter = f->filter();
  f.reset();  // the filter keeps what it needs
  auto ex = std::make_shared<RecordingExchange>(get("/pods"));
  bool routed = false;
  filter(ex, [&] { routed = true; });
  EXPECT_TRUE(routed);  // nothing to wait for
  EXPECT_EQ(ex->answers(), 0);
}

TEST_F(AuthFilterTest, StandaloneWebhookModesAreConfigurationErrors) {
  auto f = AuthFilter::create(authn_, authz_, "n1", nullptr, *loop_);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("authentication.webhook.enabled"));
  authn_.webhookEnabled = false;
  authn_.anonymousEnabled = true;
  f = AuthFilter::create(authn_, authz_, "n1", nullptr, *loop_);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("authorization.mode"));
}

TEST(AuthResponsesTest, UpstreamTexts) {
  EXPECT_EQ(unauthorizedResponse().body, "Unauthorized");
  EXPECT_EQ(forbiddenResponse({}).body,
            "Authorization error: could not determine attributes for request");
  auto attrs = nodeRequestAttributes(UserInfo{"u", "", {}, {}}, "GET", "/metrics", "n1");
  EXPECT_EQ(forbiddenResponse(attrs).body,
            "Forbidden (user=u, verb=get, resource=nodes, subresource(s)=[metrics])\n");
  EXPECT_EQ(authorizationErrorResponse(attrs[0]).status, 500);
}

}  // namespace
}  // namespace agent::server

// TokenReview and SubjectAccessReview over HTTPS: who may call them, what they
// answer for static tokens, service account tokens and unknown ones, what the
// authorizer says for the user in spec, validation errors, and the records.
#include "tests/fakeapi/reviews.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json tokenReview(const std::string& token) {
  return {{"apiVersion", "authentication.k8s.io/v1"},
          {"kind", "TokenReview"},
          {"spec", {{"token", token}}}};
}

json accessReview(const std::string& user, const std::vector<std::string>& groups,
                  const json& resourceAttributes) {
  json spec = {{"resourceAttributes", resourceAttributes}};
  if (!user.empty()) spec["user"] = user;
  if (!groups.empty()) spec["groups"] = groups;
  return {
      {"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}};
}

json nodeProxy(const std::string& node, const std::string& sub = "proxy") {
  return {{"verb", "get"},
          {"version", "v1"},
          {"resource", "nodes"},
          {"subresource", sub},
          {"name", node}};
}

class ReviewsTest : public FakeApiTest {};

TEST_F(ReviewsTest, TokenReviewNamesTheUserOfAStaticToken) {
  const std::string token = server_->addToken("alice", {"devs"});
  auto node = nodeClient("n1");
  HttpResult r = node->post(kTokenReviewsPath, tokenReview(token));
  ASSERT_EQ(r.code, 201) << r.body;
  json body = r.json();
  EXPECT_EQ(body["kind"], "TokenReview");
  EXPECT_EQ(body["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(body["status"]["authenticated"], true);
  EXPECT_EQ(body["status"]["user"]["username"], "alice");
  EXPECT_EQ(body["status"]["user"]["groups"], json({"devs", "system:authenticated"}));
  EXPECT_EQ(server_->reviews().count("TokenReview"), 1u);
  auto reviews = server_->reviews().reviews();
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0].caller, "system:node:n1");
  EXPECT_EQ(reviews[0].spec["token"], token);
}

TEST_F(ReviewsTest, TokenReviewOfAnUnknownTokenIsNotAuthenticated) {
  HttpResult r = admin_->post(kTokenReviewsPath, tokenReview("no-such-token"));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["status"]["authenticated"], false);
  EXPECT_EQ(r.json()["status"]["user"], json::object());
  EXPECT_FALSE(r.json()["status"].contains("error"));
}

TEST_F(ReviewsTest, TokenReviewWithoutATokenIsABadRequest) {
  HttpResult r = admin_->post(kTokenReviewsPath, tokenReview(""));
  EXPECT_EQ(r.code, 400);
  EXPECT_THAT(r.body, HasSubstr("token is required for TokenReview in authentication"));
  EXPECT_EQ(server_->reviews().count("TokenReview"), 0u);
}

TEST_F(ReviewsTest, TokenReviewOfAServiceAccountToken) {
  ASSERT_TRUE(server_
                  ->create("/api/v1/namespaces/default/serviceaccounts",
                           json{{"metadata", {{"name", "app"}}}})
                  .ok());
  auto tr = server_->requestToken("default", "app", json{{"spec", json::object()}});
  ASSERT_TRUE(tr.ok()) << tr.status();
  const std::string jwt = (*tr)["status"]["token"];
  HttpResult r = admin_->post(kTokenReviewsPath, tokenReview(jwt));
  ASSERT_EQ(r.code, 201) << r.body;
  json user = r.json()["status"]["user"];
  EXPECT_EQ(r.json()["status"]["authenticated"], true);
  EXPECT_EQ(user["username"], "system:serviceaccount:default:app");
  EXPECT_EQ(user["groups"], json({"system:serviceaccounts", "system:serviceaccounts:default",
                                  "system:authenticated"}));
  EXPECT_FALSE(user.value("uid", "").empty());
}

TEST_F(ReviewsTest, OnlyCallersAllowedToCreateReviewsMayCallThem) {
  auto plain = client(Credentials{server_->addToken("bob", {}), "", ""});
  HttpResult r = plain->post(kTokenReviewsPath, tokenReview(server_->adminToken()));
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_THAT(r.body,
              HasSubstr("tokenreviews.authentication.k8s.io is forbidden: User \\\"bob\\\" cannot "
                        "create resource \\\"tokenreviews\\\" in API group "
                        "\\\"authentication.k8s.io\\\" at the cluster scope"));
  r = plain->post(kSubjectAccessReviewsPath, accessReview("bob", {}, nodeProxy("n1")));
  EXPECT_EQ(r.code, 403) << r.body;
  auto anonymous = client(Credentials{"wrong", "", ""});
  EXPECT_EQ(anonymous->post(kTokenReviewsPath, tokenReview("x")).code, 401);
  EXPECT_EQ(server_->reviews().count("TokenReview"), 0u);
  EXPECT_EQ(server_->reviews().count("SubjectAccessReview"), 0u);
  // Other methods: 405.
  EXPECT_EQ(admin_->get(kTokenReviewsPath).code, 405);
}

TEST_F(ReviewsTest, SubjectAccessReviewAsksTheAuthorizerForTheUserInSpec) {
  auto node = nodeClient("n1");
  // A cluster admin may reach any kubelet.
  HttpResult r = node->post(kSubjectAccessReviewsPath,
                            accessReview("kubernetes-admin", {"system:masters"}, nodeProxy("n1")));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["kind"], "SubjectAccessReview");
  EXPECT_EQ(r.json()["status"]["allowed"], true);
  // A plain user may not.
  r = node->post(kSubjectAccessReviewsPath,
                 accessReview("bob", {"system:authenticated"}, nodeProxy("n1", "stats")));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["status"]["allowed"], false);
  EXPECT_FALSE(r.json()["status"].value("denied", false));
  // Non-resource requests: reads of discovery paths are allowed to everyone.
  json nonResource = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SubjectAccessReview"},
      {"spec",
       {{"user", "bob"}, {"nonResourceAttributes", {{"path", "/version"}, {"verb", "get"}}}}}};
  r = node->post(kSubjectAccessReviewsPath, nonResource);
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["status"]["allowed"], true);
  EXPECT_EQ(server_->reviews().count("SubjectAccessReview"), 3u);
}

TEST_F(ReviewsTest, SubjectAccessReviewValidation) {
  json noAttrs = accessReview("bob", {}, nullptr);
  noAttrs["spec"].erase("resourceAttributes");
  HttpResult r = admin_->post(kSubjectAccessReviewsPath, noAttrs);
  EXPECT_EQ(r.code, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr("exactly one of nonResourceAttributes or resourceAttributes"));
  r = admin_->post(kSubjectAccessReviewsPath, accessReview("", {}, nodeProxy("n1")));
  EXPECT_EQ(r.code, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr("at least one of user or group must be specified"));
  EXPECT_EQ(server_->reviews().count("SubjectAccessReview"), 0u);
}

TEST_F(ReviewsTest, ReviewsAreInTheRequestRecords) {
  server_->clearRequests();
  auto node = nodeClient("n1");
  ASSERT_EQ(node->post(kTokenReviewsPath, tokenReview(server_->adminToken())).code, 201);
  ASSERT_EQ(node->get("/api/v1/nodes/n1").code, 404);
  ASSERT_EQ(node->post(kSubjectAccessReviewsPath, accessReview("x", {}, nodeProxy("n1"))).code,
            201);
  std::vector<std::string> seen;
  for (const auto& rec : server_->requests()) {
    seen.push_back(rec.method + " " + rec.path + " " + std::to_string(rec.code) + " " + rec.user);
  }
  EXPECT_THAT(seen,
              ElementsAre("POST /apis/authentication.k8s.io/v1/tokenreviews 201 system:node:n1",
                          "GET /api/v1/nodes/n1 404 system:node:n1",
                          "POST /apis/authorization.k8s.io/v1/subjectaccessreviews 201 "
                          "system:node:n1"));
  server_->clearRequests();
  EXPECT_TRUE(server_->requests().empty());
  EXPECT_EQ(server_->reviews().count("TokenReview"), 0u);
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

// The kubelet's mapping of a kubelet API request to authorizer attributes.
#include "agent/server/request_attributes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agent::server {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::vector<std::string> subresources(const std::string& path, bool fineGrained = true) {
  std::vector<std::string> out;
  for (const auto& a :
       nodeRequestAttributes(UserInfo{"u", "", {}, {}}, "GET", path, "n1", fineGrained)) {
    out.push_back(a.subresource);
  }
  return out;
}

TEST(RequestAttributesTest, VerbFromMethod) {
  EXPECT_EQ(verbForMethod("POST"), "create");
  EXPECT_EQ(verbForMethod("GET"), "get");
  EXPECT_EQ(verbForMethod("HEAD"), "get");
  EXPECT_EQ(verbForMethod("PUT"), "update");
  EXPECT_EQ(verbForMethod("PATCH"), "patch");
  EXPECT_EQ(verbForMethod("DELETE"), "delete");
  EXPECT_EQ(verbForMethod("OPTIONS"), "");
  EXPECT_EQ(verbForMethod("get"), "");  // methods are case-sensitive
}

TEST(RequestAttributesTest, EveryAttributeNamesTheNodeResource) {
  UserInfo u{"alice", "uid-1", {"devs"}, {{"k", {"v"}}}};
  auto attrs = nodeRequestAttributes(u, "POST", "/exec/default/web/c", "node-1");
  ASSERT_EQ(attrs.size(), 1u);
  const RequestAttributes& a = attrs[0];
  EXPECT_EQ(a.user, u);
  EXPECT_EQ(a.verb, "create");
  EXPECT_EQ(a.apiGroup, "");
  EXPECT_EQ(a.apiVersion, "v1");
  EXPECT_EQ(a.resource, "nodes");
  EXPECT_EQ(a.subresource, "proxy");
  EXPECT_EQ(a.name, "node-1");
  EXPECT_EQ(a.namespace_, "");
  EXPECT_EQ(a.path, "/exec/default/web/c");
}

TEST(RequestAttributesTest, SubresourceFromPath) {
  struct Case {
    std::string path;
    std::vector<std::string> fine, coarse;
  };
  const std::vector<Case> cases = {
      {"/stats/summary", {"stats"}, {"stats"}},
      {"/stats", {"stats"}, {"stats"}},
      {"/stats/", {"stats"}, {"stats"}},
      {"/statsx", {"proxy"}, {"proxy"}},
      {"/metrics", {"metrics"}, {"metrics"}},
      {"/metrics/cadvisor", {"metrics"}, {"metrics"}},
      {"/metrics/resource", {"metrics"}, {"metrics"}},
      {"/metricsfoo", {"proxy"}, {"proxy"}},
      {"/logs/", {"log"}, {"log"}},
      {"/logs/syslog", {"log"}, {"log"}},
      {"/logs", {"log"}, {"log"}},
      {"/checkpoint/default/web/c", {"checkpoint"}, {"checkpoint"}},
      {"/pods", {"pods", "proxy"}, {"proxy"}},
      {"/pods/", {"pods", "proxy"}, {"proxy"}},
      {"/runningpods/", {"pods", "proxy"}, {"proxy"}},
      {"/healthz", {"healthz", "proxy"}, {"proxy"}},
      {"/healthz/syncloop", {"healthz", "proxy"}, {"proxy"}},
      {"/configz", {"configz", "proxy"}, {"proxy"}},
      {"/statusz", {"statusz", "proxy"}, {"proxy"}},
      {"/exec/default/web/c", {"proxy"}, {"proxy"}},
      {"/containerLogs/default/web/c", {"proxy"}, {"proxy"}},
      {"/portForward/default/web", {"proxy"}, {"proxy"}},
      {"/", {"proxy"}, {"proxy"}},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(subresources(c.path, true), ElementsAreArray(c.fine)) << c.path;
    EXPECT_THAT(subresources(c.path, false), ElementsAreArray(c.coarse)) << c.path;
  }
}

TEST(RequestAttributesTest, IsSubpath) {
  EXPECT_TRUE(isSubpath("/stats", "/stats/"));
  EXPECT_TRUE(isSubpath("/stats/a/b", "/stats/"));
  EXPECT_TRUE(isSubpath("/pods", "/pods"));
  EXPECT_FALSE(isSubpath("/podsx", "/pods"));
  EXPECT_FALSE(isSubpath("/pod", "/pods"));
  EXPECT_THAT(subresources("/runningpods"), ElementsAre("pods", "proxy"));
}

TEST(WebhookRetryTest, BackoffGrowsByTheFactor) {
  WebhookRetry r;
  r.jitter = 0;
  EXPECT_EQ(r.delay(1), std::chrono::milliseconds(500));
  EXPECT_EQ(r.delay(2), std::chrono::milliseconds(750));
  EXPECT_EQ(r.delay(3), std::chrono::milliseconds(1125));
  r.jitter = 0.2;
  for (int i = 0; i < 20; ++i) {
    EXPECT_GE(r.delay(1), std::chrono::milliseconds(500));
    EXPECT_LE(r.delay(1), std::chrono::milliseconds(600));
  }
  EXPECT_TRUE(retriableWebhookAnswer({absl::UnavailableError("reset"), 0, ""}));
  EXPECT_TRUE(retriableWebhookAnswer({absl::OkStatus(), 500, ""}));
  EXPECT_TRUE(retriableWebhookAnswer({absl::OkStatus(), 429, ""}));
  EXPECT_FALSE(retriableWebhookAnswer({absl::OkStatus(), 403, ""}));
  EXPECT_FALSE(retriableWebhookAnswer({absl::OkStatus(), 201, ""}));
}

}  // namespace
}  // namespace agent::server

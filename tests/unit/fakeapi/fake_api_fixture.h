// Shared fixture for the fake API server's tests: a server on a free loopback port with
// short bookmark intervals, and an admin client.
#pragma once

#include <memory>

#include "gtest/gtest.h"
#include "tests/fakeapi/fake_api_server.h"
#include "tests/unit/fakeapi/https_test_client.h"

namespace cubelet::fakeapi::testing {

class FakeApiTest : public ::testing::Test {
 protected:
  void SetUp() override { startServer(FakeApiServerOptions{}); }

  void startServer(FakeApiServerOptions opts) {
    opts.bookmarkInterval = std::chrono::milliseconds(100);
    auto s = FakeApiServer::start(opts);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    admin_ = client(Credentials{server_->adminToken(), "", ""});
  }

  std::unique_ptr<HttpsClient> client(Credentials c) {
    return std::make_unique<HttpsClient>(server_->url(), server_->caFile(), std::move(c));
  }
  std::unique_ptr<HttpsClient> certClient(const std::string& user,
                                          const std::vector<std::string>& groups) {
    auto cert = server_->issueClientCert(user, groups);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return client(Credentials{"", cert->certPem, cert->keyPem});
  }
  std::unique_ptr<HttpsClient> nodeClient(const std::string& node) {
    return certClient("system:node:" + node, {"system:nodes"});
  }

  static nlohmann::json pod(const std::string& name, const std::string& node = "") {
    nlohmann::json p = {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
                        {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox:1.36"}}}}}}};
    if (!node.empty()) p["spec"]["nodeName"] = node;
    return p;
  }
  static std::string rv(const nlohmann::json& obj) {
    return obj["metadata"]["resourceVersion"].get<std::string>();
  }

  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<HttpsClient> admin_;
};

inline constexpr char kPods[] = "/api/v1/namespaces/default/pods";

}  // namespace cubelet::fakeapi::testing

// The fake API server's node IPAM (kube-controller-manager's range allocator) and
// the Node update validation of spec.podCIDR(s).
#include "gmock/gmock.h"
#include "tests/fakeapi/patch.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;

constexpr char kNodes[] = "/api/v1/nodes";

json node(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
}

bool hasPodCidr(const json& n) {
  return !n.value("spec", json::object()).value("podCIDR", "").empty();
}

class NodeIpamTest : public FakeApiTest {
 protected:
  void SetUp() override {
    FakeApiServerOptions opts;
    opts.allocateNodeCidrs = "10.244.0.0/16";
    startServer(opts);
  }
};

TEST_F(NodeIpamTest, EachNodeGetsA24InCreationOrderInASeparateUpdate) {
  int64_t before = server_->currentResourceVersion();
  auto created = server_->create(kNodes, node("n1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(hasPodCidr(*created));  // the controller comes after the create
  auto n1 = server_->waitFor(std::string(kNodes) + "/n1", hasPodCidr, std::chrono::seconds(5));
  ASSERT_TRUE(n1.ok()) << n1.status();
  EXPECT_EQ((*n1)["spec"]["podCIDR"], "10.244.0.0/24");
  EXPECT_EQ((*n1)["spec"]["podCIDRs"], json::array({"10.244.0.0/24"}));

  // A watch from before the create sees the Node added, then modified.
  WatchStream watch(*admin_,
                    std::string(kNodes) + "?watch=1&resourceVersion=" + std::to_string(before));
  auto added = watch.next();
  ASSERT_TRUE(added);
  EXPECT_EQ((*added)["type"], "ADDED");
  EXPECT_FALSE(hasPodCidr((*added)["object"]));
  auto modified = watch.next();
  ASSERT_TRUE(modified);
  EXPECT_EQ((*modified)["type"], "MODIFIED");
  EXPECT_EQ((*modified)["object"]["spec"]["podCIDR"], "10.244.0.0/24");

  ASSERT_TRUE(server_->create(kNodes, node("n0")).ok());  // sorts first, created second
  auto n0 = server_->waitFor(std::string(kNodes) + "/n0", hasPodCidr, std::chrono::seconds(5));
  ASSERT_TRUE(n0.ok()) << n0.status();
  EXPECT_EQ((*n0)["spec"]["podCIDR"], "10.244.1.0/24");
}

TEST_F(NodeIpamTest, ANodeThatBringsItsOwnCidrKeepsIt) {
  json n = node("n1");
  n["spec"]["podCIDR"] = "10.244.0.0/24";
  auto created = server_->create(kNodes, n);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["spec"]["podCIDRs"], json::array({"10.244.0.0/24"}));
  // The next node does not get the range in use.
  ASSERT_TRUE(server_->create(kNodes, node("n2")).ok());
  auto n2 = server_->waitFor(std::string(kNodes) + "/n2", hasPodCidr, std::chrono::seconds(5));
  ASSERT_TRUE(n2.ok()) << n2.status();
  EXPECT_EQ((*n2)["spec"]["podCIDR"], "10.244.1.0/24");
}

TEST_F(FakeApiTest, NodePodCidrMayOnlyChangeFromUnset) {
  ASSERT_TRUE(server_->create(kNodes, node("n1")).ok());
  // Unset to set is allowed; podCIDR follows podCIDRs[0].
  auto set = admin_->patch(std::string(kNodes) + "/n1", kMergePatch,
                           {{"spec", {{"podCIDRs", {"10.1.0.0/24", "fd00:1::/64"}}}}});
  ASSERT_EQ(set.code, 200) << set.body;
  EXPECT_EQ(set.json()["spec"]["podCIDR"], "10.1.0.0/24");

  // podCIDR alone is read as podCIDRs[0] when podCIDRs is set (the v1 conversion):
  // nothing changes.
  auto single = admin_->patch(std::string(kNodes) + "/n1", kMergePatch,
                              {{"spec", {{"podCIDR", "10.2.0.0/24"}}}});
  ASSERT_EQ(single.code, 200) << single.body;
  EXPECT_EQ(single.json()["spec"]["podCIDR"], "10.1.0.0/24");

  for (const json& change : {json{{"spec", {{"podCIDRs", {"10.2.0.0/24", "fd00:1::/64"}}}}},
                             json{{"spec", {{"podCIDRs", {"10.1.0.0/24"}}}}},
                             json{{"spec", {{"podCIDRs", nullptr}, {"podCIDR", nullptr}}}}}) {
    auto r = admin_->patch(std::string(kNodes) + "/n1", kMergePatch, change);
    EXPECT_EQ(r.code, 422) << change.dump() << " " << r.body;
    EXPECT_EQ(r.json()["reason"], "Invalid");
    EXPECT_EQ(r.json()["message"],
              "Node \"n1\" is invalid: spec.podCIDRs: Forbidden: node updates may not change "
              "podCIDR except from \"\" to valid");
  }
  // Other spec changes still go through.
  auto taint = admin_->patch(std::string(kNodes) + "/n1", kMergePatch,
                             {{"spec", {{"unschedulable", true}}}});
  EXPECT_EQ(taint.code, 200) << taint.body;
}

TEST(NodeIpamOptions, RefusesARangeSmallerThanANodes) {
  FakeApiServerOptions opts;
  opts.allocateNodeCidrs = "10.244.0.0/25";
  auto s = FakeApiServer::start(opts);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("10.244.0.0/25"));
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

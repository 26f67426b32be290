// The Node as the cluster connection's node informer decodes it: labels and pod CIDRs.
#include <gtest/gtest.h>

#include "agent/cluster/cluster_connection.h"

namespace agent::cluster {
namespace {

TEST(DecodeNodeObject, PodCidrsFromEitherField) {
  struct Case {
    nlohmann::json spec;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {nullptr, {}},
           {nlohmann::json::object(), {}},
           {{{"podCIDR", "10.244.1.0/24"}}, {"10.244.1.0/24"}},
           {{{"podCIDR", "10.244.1.0/24"}, {"podCIDRs", {"10.244.1.0/24", "fd00::/64"}}},
            {"10.244.1.0/24", "fd00::/64"}},
       }) {
    nlohmann::json j = {{"metadata", {{"name", "n1"}, {"labels", {{"a", "b"}}}}}};
    if (!c.spec.is_null()) j["spec"] = c.spec;
    auto n = decodeNodeObject(j);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->podCIDRs, c.want) << j.dump();
    EXPECT_EQ(n->metadata.labels.at("a"), "b");
  }
}

TEST(DecodeNodeObject, WrongTypeNamesTheField) {
  auto n = decodeNodeObject({{"metadata", {{"name", "n1"}}}, {"spec", {{"podCIDRs", "x"}}}});
  ASSERT_FALSE(n.ok());
  EXPECT_NE(std::string(n.status().message()).find("spec.podCIDRs"), std::string::npos)
      << n.status();
}

}  // namespace
}  // namespace agent::cluster

#include "network/cni_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"

namespace network {
namespace {

class CniConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cni-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CniConfigTest, ConflistHasBridgeHostLocalAndPortmap) {
  auto j = nlohmann::json::parse(bridgeConflist({{"10.244.1.0/24", "fd00::/64"}, "br0", false}));
  EXPECT_EQ(j["name"], "cubelet");
  ASSERT_EQ(j["plugins"].size(), 2u);
  EXPECT_EQ(j["plugins"][0]["type"], "bridge");
  EXPECT_EQ(j["plugins"][0]["bridge"], "br0");
  EXPECT_EQ(j["plugins"][0]["ipMasq"], false);
  EXPECT_EQ(j["plugins"][0]["ipam"]["type"], "host-local");
  EXPECT_EQ(j["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.244.1.0/24");
  EXPECT_EQ(j["plugins"][0]["ipam"]["ranges"][1][0]["subnet"], "fd00::/64");
  EXPECT_EQ(j["plugins"][0]["ipam"]["routes"][1]["dst"], "::/0");
  EXPECT_EQ(j["plugins"][1]["type"], "portmap");
}

TEST_F(CniConfigTest, WritesOnceThenUnchangedThenRewritesOnCidrChange) {
  std::string sub = dir_ + "/net.d";
  CniConfigResult r;
  ASSERT_TRUE(ensureCniConfig(sub, {}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kWritten);
  ASSERT_TRUE(std::filesystem::exists(sub + "/" + kCniConfigFile));
  ASSERT_TRUE(ensureCniConfig(sub, {}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kUnchanged);
  ASSERT_TRUE(ensureCniConfig(sub, {{"10.1.0.0/16"}}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kWritten);
  std::ifstream in(sub + "/" + kCniConfigFile);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(content.find("10.1.0.0/16"), std::string::npos);
}

TEST_F(CniConfigTest, LeavesAddonConfigAlone) {
  std::ofstream(dir_ + "/10-flannel.conflist") << "{}";
  CniConfigResult r;
  ASSERT_TRUE(ensureCniConfig(dir_, {}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kOwnedByAddon);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + kCniConfigFile));
}

}  // namespace
}  // namespace network

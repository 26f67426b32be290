#include "network/cni_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"

namespace network {
namespace {

using V = std::vector<std::string>;

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

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

TEST(BridgeConflistTest, DefaultIsIpv4BridgePortmapLoopback) {
  auto j = nlohmann::json::parse(bridgeConflist({}));
  EXPECT_EQ(j["cniVersion"], "0.4.0");
  EXPECT_EQ(j["name"], kCniNetworkName);
  ASSERT_EQ(j["plugins"].size(), 3u);
  const auto& br = j["plugins"][0];
  EXPECT_EQ(br["type"], "bridge");
  EXPECT_EQ(br["bridge"], kDefaultBridge);
  EXPECT_EQ(br["isGateway"], true);
  EXPECT_EQ(br["ipMasq"], true);
  EXPECT_EQ(br["hairpinMode"], true);
  EXPECT_EQ(br["forceAddress"], true);
  EXPECT_EQ(br["ipam"]["type"], "host-local");
  EXPECT_EQ(br["ipam"]["ranges"], nlohmann::json::parse(R"([[{"subnet":"10.88.0.0/16"}]])"));
  EXPECT_EQ(br["ipam"]["routes"], nlohmann::json::parse(R"([{"dst":"0.0.0.0/0"}])"));
  EXPECT_FALSE(br["ipam"].contains("dataDir"));
  EXPECT_EQ(j["plugins"][1]["type"], "portmap");
  EXPECT_EQ(j["plugins"][1]["capabilities"]["portMappings"], true);
  EXPECT_EQ(j["plugins"][2], nlohmann::json::parse(R"({"type":"loopback"})"));
}

TEST(BridgeConflistTest, DualStackOneRangeSetAndRoutePerFamily) {
  CniConfigInput in;
  in.podCidrs = {"10.244.1.0/24", "fd00:10:244:1::/64"};
  auto j = nlohmann::json::parse(bridgeConflist(in));
  const auto& ipam = j["plugins"][0]["ipam"];
  EXPECT_EQ(
      ipam["ranges"],
      nlohmann::json::parse(R"([[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:10:244:1::/64"}]])"));
  EXPECT_EQ(ipam["routes"], nlohmann::json::parse(R"([{"dst":"0.0.0.0/0"},{"dst":"::/0"}])"));
}

TEST(BridgeConflistTest, OptionsAreCarried) {
  CniConfigInput in;
  in.podCidrs = {"10.244.1.0/24"};
  in.bridge = "br0";
  in.ipMasq = false;
  in.hairpinMode = false;
  in.ipamDataDir = "/var/lib/cubelet/cni";
  auto j = nlohmann::json::parse(bridgeConflist(in));
  const auto& br = j["plugins"][0];
  EXPECT_EQ(br["bridge"], "br0");
  EXPECT_EQ(br["ipMasq"], false);
  EXPECT_EQ(br["hairpinMode"], false);
  EXPECT_EQ(br["ipam"]["dataDir"], "/var/lib/cubelet/cni");
}

TEST(BridgeConflistTest, HostBitsAreClearedForHostLocal) {
  CniConfigInput in;
  in.podCidrs = {"10.244.1.5/24", "fd00::5/64"};
  auto j = nlohmann::json::parse(bridgeConflist(in));
  EXPECT_EQ(j["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.244.1.0/24");
  EXPECT_EQ(j["plugins"][0]["ipam"]["ranges"][1][0]["subnet"], "fd00::/64");
}

TEST(BridgeConflistTest, SameInputSameBytes) {
  CniConfigInput in;
  in.podCidrs = {"10.244.1.0/24"};
  EXPECT_EQ(bridgeConflist(in), bridgeConflist(in));
}

TEST_F(CniConfigTest, WritesOnceThenUnchangedThenRewritesOnCidrChange) {
  std::string sub = dir_ + "/net.d";
  CniConfigResult r;
  ASSERT_TRUE(ensureCniConfig(sub, {}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kWritten);
  EXPECT_EQ(readAll(sub + "/" + kCniConfigFile), bridgeConflist({}));
  struct stat st;
  ASSERT_EQ(::stat((sub + "/" + kCniConfigFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_TRUE(ensureCniConfig(sub, {}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kUnchanged);
  CniConfigInput changed;
  changed.podCidrs = {"10.1.0.0/16"};
  ASSERT_TRUE(ensureCniConfig(sub, changed, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kWritten);
  EXPECT_NE(readAll(sub + "/" + kCniConfigFile).find("10.1.0.0/16"), std::string::npos);
  // No temporary files left behind for the runtime to pick up.
  size_t n = std::distance(std::filesystem::directory_iterator(sub), {});
  EXPECT_EQ(n, 1u);
}

TEST_F(CniConfigTest, LeavesAddonConfigAlone) {
  std::ofstream(dir_ + "/10-flannel.conflist") << "{}";
  CniConfigResult r;
  ASSERT_TRUE(ensureCniConfig(dir_, {}, &r).ok());
  EXPECT_EQ(r, CniConfigResult::kOwnedByAddon);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + kCniConfigFile));
}

TEST_F(CniConfigTest, AddonDetection) {
  EXPECT_FALSE(addonCniConfigPresent(dir_ + "/missing"));
  EXPECT_FALSE(addonCniConfigPresent(dir_));
  std::ofstream(dir_ + "/" + kCniConfigFile) << "{}";
  std::ofstream(dir_ + "/README") << "x";
  std::ofstream(dir_ + "/.10-cubelet.conflist.tmp-abcdef") << "x";
  EXPECT_FALSE(addonCniConfigPresent(dir_));  // ours, and names libcni does not load
  for (const char* name : {"87-podman.conflist", "10-calico.conf", "05-cilium.json"}) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << "{}";
    EXPECT_TRUE(addonCniConfigPresent(dir_)) << name;
    std::filesystem::remove(p);
  }
}

TEST_F(CniConfigTest, RemoveOnlyOurs) {
  CniConfigResult r;
  ASSERT_TRUE(ensureCniConfig(dir_, {}, &r).ok());
  std::ofstream(dir_ + "/other.txt") << "x";
  ASSERT_TRUE(removeCniConfig(dir_).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + kCniConfigFile));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/other.txt"));
  EXPECT_TRUE(removeCniConfig(dir_).ok());               // already gone
  EXPECT_TRUE(removeCniConfig(dir_ + "/missing").ok());  // no dir at all
}

TEST_F(CniConfigTest, RemoveErrorNamesThePath) {
  std::string file = dir_ + "/not-a-dir";
  std::ofstream(file) << "x";
  absl::Status s = removeCniConfig(file);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(file + "/" + kCniConfigFile), std::string::npos) << s;
}

TEST_F(CniConfigTest, MissingPlugins) {
  EXPECT_EQ(requiredCniPlugins(), (V{"bridge", "host-local", "portmap", "loopback"}));
  EXPECT_EQ(missingCniPlugins(dir_ + "/nope"), requiredCniPlugins());
  auto make = [&](const std::string& name, mode_t mode) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << "#!/bin/sh\n";
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  };
  make("bridge", 0755);
  make("host-local", 0644);                              // not executable
  std::filesystem::create_directory(dir_ + "/portmap");  // a directory is not a plugin
  EXPECT_EQ(missingCniPlugins(dir_), (V{"host-local", "portmap", "loopback"}));
  make("host-local", 0755);
  std::filesystem::remove(dir_ + "/portmap");
  make("portmap", 0700);
  make("loopback", 0755);
  EXPECT_TRUE(missingCniPlugins(dir_).empty());
}

}  // namespace
}  // namespace network

// The node's CNI config owner against a real gRPC CRI double, on simulated time with
// the pool's jobs run inline: standalone and cluster inputs, CIDR changes, add-ons,
// bad CIDRs and missing plugins, UpdateRuntimeConfig retries.
#include "agent/cni/pod_network_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/atomic_file.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/sim_event_loop.h"
#include "tests/support/fake_cri_env.h"

namespace agent::cni {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override { job(); }
};

struct Warning {
  std::string reason, message;
};

class PodNetworkConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("pod-network");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    confDir_ = dir_ + "/net.d";
    binDir_ = dir_ + "/bin";
    ASSERT_TRUE(core::mkdirAll(confDir_).ok());
    ASSERT_TRUE(core::mkdirAll(binDir_).ok());
    for (const auto& p : network::requiredCniPlugins()) addPlugin(p);
  }
  void TearDown() override {
    config_.reset();
    (void)core::removeAll(dir_);
  }

  void addPlugin(const std::string& name) {
    ASSERT_TRUE(core::writeFileAtomic(binDir_ + "/" + name, "#!/bin/sh\n", 0755).ok());
  }

  void make(bool fromNode, const std::string& podCidr = "", bool ipMasq = true) {
    PodNetworkOptions o;
    o.nodeName = "node-1";
    o.confDir = confDir_;
    o.binDir = binDir_;
    o.ipMasq = ipMasq;
    o.fromNode = fromNode;
    o.podCidr = podCidr;
    o.hostNetworks = [] { return std::vector<network::HostNetwork>{{"eth0", "192.168.1.5/24"}}; };
    config_ = std::make_unique<PodNetworkConfig>(loop_, pool_, *client_, o);
    config_->setOnWarning([this](const std::string& reason, const std::string& message) {
      warnings_.push_back({reason, message});
    });
    config_->setOnChanged([this] { ++changes_; });
  }

  std::string ourFile() const { return confDir_ + "/" + network::kCniConfigFile; }
  bool haveOurFile() const {
    struct stat st;
    return ::stat(ourFile().c_str(), &st) == 0;
  }
  // The subnets of the host-local ranges in our conflist.
  std::vector<std::string> subnets() {
    auto text = core::readFile(ourFile());
    EXPECT_TRUE(text.ok()) << text.status();
    if (!text.ok()) return {};
    auto j = nlohmann::json::parse(*text);
    std::vector<std::string> out;
    for (const auto& range : j["plugins"][0]["ipam"]["ranges"]) {
      out.push_back(range[0]["subnet"].get<std::string>());
    }
    return out;
  }

  std::string dir_, confDir_, binDir_;
  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  core::SimEventLoop loop_;
  InlinePool pool_;
  std::unique_ptr<PodNetworkConfig> config_;
  std::vector<Warning> warnings_;
  int changes_ = 0;
};

TEST_F(PodNetworkConfigTest, StandaloneWritesTheDefaultCidrAndTellsTheRuntime) {
  make(false);
  config_->start();
  loop_.runPending();
  EXPECT_EQ(subnets(), std::vector<std::string>{network::kDefaultPodCidr});
  EXPECT_EQ(cri_->podCidr(), network::kDefaultPodCidr);
  EXPECT_EQ(config_->error(), "");
  EXPECT_TRUE(config_->nodeErrors().empty());
  EXPECT_TRUE(warnings_.empty());
  EXPECT_EQ(changes_, 1);  // written: the readiness check looks again
}

TEST_F(PodNetworkConfigTest, StandalonePodCidrFlagAndIpMasqOff) {
  make(false, "10.77.0.0/16", /*ipMasq=*/false);
  config_->start();
  loop_.runPending();
  EXPECT_EQ(subnets(), std::vector<std::string>{"10.77.0.0/16"});
  EXPECT_EQ(cri_->podCidr(), "10.77.0.0/16");
  auto j = nlohmann::json::parse(*core::readFile(ourFile()));
  EXPECT_EQ(j["plugins"][0]["ipMasq"], false);
}

TEST_F(PodNetworkConfigTest, ClusterModeWaitsForTheNodesCidrThenWrites) {
  // A config from an earlier run is left alone while the node has no CIDR.
  ASSERT_TRUE(core::writeFileAtomic(ourFile(), "earlier\n", 0644).ok());
  make(true, "10.99.0.0/16");  // --pod-cidr is not used in cluster mode
  config_->start();
  loop_.runPending();
  EXPECT_EQ(*core::readFile(ourFile()), "earlier\n");
  EXPECT_THAT(config_->error(), HasSubstr("no pod CIDR assigned to node node-1 yet"));
  ASSERT_EQ(config_->nodeErrors().size(), 1u);
  EXPECT_THAT(config_->nodeErrors()[0], HasSubstr("network plugin not ready: no pod CIDR"));
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 0);
  EXPECT_TRUE(warnings_.empty());  // waiting is no fault

  config_->setNodePodCidrs({"10.244.3.0/24"});
  loop_.runPending();
  EXPECT_EQ(subnets(), std::vector<std::string>{"10.244.3.0/24"});
  EXPECT_EQ(cri_->podCidr(), "10.244.3.0/24");
  EXPECT_EQ(config_->error(), "");
  EXPECT_TRUE(config_->nodeErrors().empty());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(PodNetworkConfigTest, CidrChangeRewritesAndPassesTheCidrsJoined) {
  make(true);
  config_->start();
  config_->setNodePodCidrs({"10.244.3.0/24"});
  loop_.runPending();
  ASSERT_EQ(cri_->podCidr(), "10.244.3.0/24");
  int calls = cri_->callCount("UpdateRuntimeConfig");

  config_->setNodePodCidrs({"10.245.0.0/24", "fd00:10:244::/64"});
  loop_.runPending();
  EXPECT_EQ(subnets(), (std::vector<std::string>{"10.245.0.0/24", "fd00:10:244::/64"}));
  EXPECT_EQ(cri_->podCidr(), "10.245.0.0/24,fd00:10:244::/64");
  EXPECT_EQ(config_->runtimePodCidr(), "10.245.0.0/24,fd00:10:244::/64");
  // The same CIDRs again change nothing and call nothing.
  config_->setNodePodCidrs({"10.245.0.0/24", "fd00:10:244::/64"});
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), calls + 1);
}

TEST_F(PodNetworkConfigTest, AddonConfigLeavesTheNetworkToTheAddon) {
  ASSERT_TRUE(core::writeFileAtomic(confDir_ + "/10-flannel.conflist", "{}\n", 0644).ok());
  // Ours, left from before the add-on came, would sort first and win: it goes.
  ASSERT_TRUE(core::writeFileAtomic(ourFile(), "earlier\n", 0644).ok());
  make(true);
  config_->start();
  config_->setNodePodCidrs({"10.244.3.0/24"});
  loop_.runPending();
  EXPECT_FALSE(haveOurFile());
  EXPECT_EQ(*core::readFile(confDir_ + "/10-flannel.conflist"), "{}\n");
  EXPECT_EQ(config_->error(), "");
  EXPECT_TRUE(warnings_.empty());
  // The runtime still learns the node's CIDR, as the kubelet always tells it.
  EXPECT_EQ(cri_->podCidr(), "10.244.3.0/24");
}

TEST_F(PodNetworkConfigTest, AddonInstalledLaterTakesOverAndOursReturnsWhenItGoes) {
  make(false, "10.77.0.0/16");
  config_->start();
  loop_.runPending();
  ASSERT_TRUE(haveOurFile());
  // An add-on's DaemonSet writes its config while cubelet runs: the next look sees it.
  ASSERT_TRUE(core::writeFileAtomic(confDir_ + "/10-calico.conflist", "{}\n", 0644).ok());
  loop_.advance(9s);
  EXPECT_TRUE(haveOurFile());
  loop_.advance(1s);
  loop_.runPending();
  EXPECT_FALSE(haveOurFile());
  EXPECT_EQ(config_->error(), "");
  // Someone removes the add-on again: ours comes back, the runtime is not told again.
  ASSERT_EQ(::unlink((confDir_ + "/10-calico.conflist").c_str()), 0);
  loop_.advance(10s);
  loop_.runPending();
  EXPECT_EQ(subnets(), std::vector<std::string>{"10.77.0.0/16"});
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 1);
}

TEST_F(PodNetworkConfigTest, InvalidCidrRemovesTheConfigAndWarnsOnce) {
  make(false, "not-a-cidr");
  ASSERT_TRUE(core::writeFileAtomic(ourFile(), "earlier\n", 0644).ok());
  config_->start();
  loop_.runPending();
  EXPECT_FALSE(haveOurFile());
  EXPECT_THAT(config_->error(), HasSubstr("--pod-cidr"));
  EXPECT_THAT(config_->error(), HasSubstr("not-a-cidr"));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].reason, kInvalidPodCidr);
  EXPECT_EQ(warnings_[0].message, config_->error());
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 0);
  ASSERT_EQ(config_->nodeErrors().size(), 1u);
  EXPECT_EQ(config_->nodeErrors()[0], "network plugin not ready: " + config_->error());
}

TEST_F(PodNetworkConfigTest, CidrOverlappingAHostNetworkIsRefused) {
  make(true);
  config_->start();
  config_->setNodePodCidrs({"10.244.3.0/24"});
  loop_.runPending();
  ASSERT_TRUE(haveOurFile());
  // Only a recreated Node could get another CIDR; it overlaps eth0's 192.168.1.0/24.
  config_->setNodePodCidrs({"192.168.0.0/16"});
  loop_.runPending();
  EXPECT_FALSE(haveOurFile());
  EXPECT_THAT(config_->error(), HasSubstr("spec.podCIDRs"));
  EXPECT_THAT(config_->error(), HasSubstr("eth0"));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].reason, kInvalidPodCidr);
  EXPECT_EQ(cri_->podCidr(), "10.244.3.0/24");  // not told a CIDR that is refused

  // Fixed: the config is back and the error gone.
  config_->setNodePodCidrs({"10.244.4.0/24"});
  loop_.runPending();
  EXPECT_EQ(subnets(), std::vector<std::string>{"10.244.4.0/24"});
  EXPECT_EQ(config_->error(), "");
}

TEST_F(PodNetworkConfigTest, MissingPluginRemovesTheConfigAndNamesItAndTheDir) {
  ASSERT_EQ(::unlink((binDir_ + "/portmap").c_str()), 0);
  ASSERT_TRUE(core::writeFileAtomic(ourFile(), "earlier\n", 0644).ok());
  make(false);
  config_->start();
  loop_.runPending();
  EXPECT_FALSE(haveOurFile());
  EXPECT_THAT(config_->error(), HasSubstr("portmap"));
  EXPECT_THAT(config_->error(), HasSubstr(binDir_));
  EXPECT_THAT(config_->error(), ::testing::Not(HasSubstr("bridge")));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].reason, kMissingCniPlugin);
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 0);
}

TEST_F(PodNetworkConfigTest, MissingPluginIsReportedBeforeTheNodeHasACidr) {
  ASSERT_EQ(::unlink((binDir_ + "/bridge").c_str()), 0);
  make(true);
  config_->start();
  loop_.runPending();
  EXPECT_THAT(config_->error(), HasSubstr("bridge not found in " + binDir_));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].reason, kMissingCniPlugin);
}

TEST_F(PodNetworkConfigTest, UpdateRuntimeConfigIsRetriedWithBackoff) {
  cri_->failWith("UpdateRuntimeConfig", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"), 2);
  make(false);
  config_->start();
  loop_.runPending();
  EXPECT_TRUE(haveOurFile());
  EXPECT_EQ(config_->runtimePodCidr(), "");
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 1);
  loop_.advance(600ms);  // 500 ms + jitter
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 2);
  EXPECT_EQ(config_->runtimePodCidr(), "");
  loop_.advance(1200ms);  // doubled
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("UpdateRuntimeConfig"), 3);
  EXPECT_EQ(config_->runtimePodCidr(), network::kDefaultPodCidr);
  EXPECT_EQ(cri_->podCidr(), network::kDefaultPodCidr);
}

}  // namespace
}  // namespace agent::cni

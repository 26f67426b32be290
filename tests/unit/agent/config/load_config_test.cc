// loadConfig end to end: defaults < config file < flags, the kubeadm start-up command
// line, node name resolution, and the checks that need the merged configuration.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/config/agent_config.h"

namespace agent::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LoadConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cubelet-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string writeFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  static absl::StatusOr<LoadResult> run(std::vector<std::string> args) {
    std::vector<const char*> argv = {"cubelet"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    return loadConfig(static_cast<int>(argv.size()), argv.data());
  }

  std::string dir_;
};

const char kConfig[] = R"(apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
syncFrequency: 30s
maxPods: 20
clusterDNS: [10.96.0.10]
cgroupDriver: systemd
staticPodPath: /etc/kubernetes/manifests
featureGates: {FromFile: true}
)";

TEST_F(LoadConfigTest, FlagsOverrideFileOverrideDefaults) {
  std::string config = writeFile("config.yaml", kConfig);
  auto r = run({"--config=" + config, "--max-pods=30", "--cluster-dns=10.0.0.10",
                "--feature-gates=FromFlag=true", "--hostname-override=node-1"});
  ASSERT_TRUE(r.ok()) << r.status();
  const AgentConfig& c = r->config;
  EXPECT_EQ(c.configFile, config);
  EXPECT_EQ(c.maxPods, 30);                             // flag over file
  EXPECT_THAT(c.clusterDNS, ElementsAre("10.0.0.10"));  // flag over file
  EXPECT_EQ(c.syncFrequency, seconds(30));              // file over default
  EXPECT_EQ(c.cgroupDriver, "systemd");                 // file over default
  EXPECT_EQ(c.fileCheckFrequency, seconds(20));         // default
  EXPECT_EQ(c.featureGates, (std::map<std::string, bool>{{"FromFile", true}, {"FromFlag", true}}));
  // With a config file, authentication has the v1beta1 defaults.
  EXPECT_FALSE(c.authentication.anonymousEnabled);
  EXPECT_EQ(c.authorization.mode, "Webhook");
  EXPECT_THAT(r->warnings, IsEmpty());
}

TEST_F(LoadConfigTest, FlagsOverrideFileWhateverTheirOrder) {
  std::string config = writeFile("config.yaml", kConfig);
  auto r = run({"--max-pods=30", "--config", config});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.maxPods, 30);
}

TEST_F(LoadConfigTest, KubeadmStartsCubeletWithItsFiles) {
  std::filesystem::copy_file(std::string(CUBELET_SOURCE_DIR) +
                                 "/tests/unit/agent/config/testdata/kubeadm_v1.28_config.yaml",
                             dir_ + "/config.yaml");
  auto r = run({"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=" + dir_ + "/config.yaml",
                "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
                "--pod-infra-container-image=registry.k8s.io/pause:3.9", "--node-ip=10.0.0.5"});
  ASSERT_TRUE(r.ok()) << r.status();
  const AgentConfig& c = r->config;
  EXPECT_EQ(c.kubeconfig, "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(c.bootstrapKubeconfig, "/etc/kubernetes/bootstrap-kubelet.conf");
  EXPECT_EQ(c.containerRuntimeEndpoint, "unix:///var/run/containerd/containerd.sock");
  EXPECT_EQ(c.imageServiceEndpoint, c.containerRuntimeEndpoint);
  EXPECT_EQ(c.staticPodPath, "/etc/kubernetes/manifests");
  EXPECT_EQ(c.cgroupDriver, "systemd");
  EXPECT_EQ(c.nodeIP, "10.0.0.5");
  EXPECT_EQ(r->warnings.size(), 7u);
  EXPECT_THAT(r->warnings, Contains(HasSubstr("field \"memorySwap\" is not implemented")));
}

TEST_F(LoadConfigTest, DefaultsWithoutConfigFile) {
  auto r = run({});
  ASSERT_TRUE(r.ok()) << r.status();
  const AgentConfig& c = r->config;
  EXPECT_EQ(c.rootDir, "/var/lib/kubelet");
  EXPECT_EQ(c.containerRuntimeEndpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(c.imageServiceEndpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(c.syncFrequency, minutes(1));
  EXPECT_EQ(c.runtimeRequestTimeout, minutes(2));
  EXPECT_EQ(c.cniConfDir, "/etc/cni/net.d");
  EXPECT_EQ(c.cniBinDir, "/opt/cni/bin");
  EXPECT_EQ(c.podLogsDir, "/var/log/pods");
  EXPECT_EQ(c.crashLoopBackOffBase, seconds(10));
  EXPECT_EQ(c.crashLoopBackOffMax, seconds(300));
  EXPECT_EQ(c.maxPods, 110);
  EXPECT_EQ(c.port, 10250);
  EXPECT_EQ(c.readOnlyPort, 0);
  // The kubelet's command-line defaults when no file is given.
  EXPECT_TRUE(c.authentication.anonymousEnabled);
  EXPECT_FALSE(c.authentication.webhookEnabled);
  EXPECT_EQ(c.authorization.mode, "AlwaysAllow");
  // The node name is the lowercased hostname.
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  std::string want(host);
  for (char& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(c.nodeName, want);
}

TEST_F(LoadConfigTest, NodeNameIsTheLowercasedOverride) {
  auto r = run({"--hostname-override= Worker-A.Example.COM "});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.nodeName, "worker-a.example.com");
  EXPECT_EQ(r->config.hostnameOverride, " Worker-A.Example.COM ");
}

TEST_F(LoadConfigTest, HelpAndVersionLoadNothing) {
  auto help = run({"--config=/nonexistent.yaml", "-h"});
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_TRUE(help->helpRequested);
  auto version = run({"--version"});
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_TRUE(version->versionRequested);
  EXPECT_FALSE(version->helpRequested);
}

TEST_F(LoadConfigTest, LoopbackNodeIPIsAcceptedWithAWarning) {
  auto r = run({"--node-ip=127.0.0.1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.nodeIP, "127.0.0.1");
  EXPECT_THAT(r->warnings, ElementsAre(HasSubstr("--node-ip 127.0.0.1 is a loopback address")));
}

TEST_F(LoadConfigTest, BareSocketPathIsReadAsUnixURL) {
  auto r = run({"--container-runtime-endpoint=/run/cri.sock"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.containerRuntimeEndpoint, "unix:///run/cri.sock");
  EXPECT_EQ(r->config.imageServiceEndpoint, "unix:///run/cri.sock");
  EXPECT_THAT(r->warnings, ElementsAre(HasSubstr("has no scheme")));
}

TEST_F(LoadConfigTest, UnimplementedFlagsWarnAndUnknownFlagsFail) {
  auto r = run({"--cpu-manager-policy=static", "--network-plugin=cni"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->warnings,
              ElementsAre("flag --cpu-manager-policy is not implemented by cubelet yet; ignored",
                          "flag --network-plugin is not implemented by cubelet yet; ignored"));
  auto bad = run({"--frobnicate"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown flag: --frobnicate");
}

TEST_F(LoadConfigTest, ResourceAndEvictionSettingsFromFileAndFlags) {
  std::string file = writeFile("res.yaml",
                               "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                               "kind: KubeletConfiguration\n"
                               "cpuCFSQuota: false\n"
                               "cpuCFSQuotaPeriod: 50ms\n"
                               "memoryThrottlingFactor: 0.8\n"
                               "evictionSoft: {memory.available: 500Mi}\n"
                               "evictionSoftGracePeriod: {memory.available: 1m30s}\n"
                               "evictionPressureTransitionPeriod: 30s\n"
                               "imageGCHighThresholdPercent: 90\n");
  auto r = run({"--config=" + file, "--eviction-minimum-reclaim=memory.available=0.5Gi",
                "--eviction-max-pod-grace-period=20", "--image-gc-low-threshold=70"});
  ASSERT_TRUE(r.ok()) << r.status();
  const AgentConfig& c = r->config;
  EXPECT_FALSE(c.cpuCFSQuota);
  EXPECT_EQ(c.cpuCFSQuotaPeriod, std::chrono::milliseconds(50));
  EXPECT_DOUBLE_EQ(c.memoryThrottlingFactor, 0.8);
  EXPECT_EQ(c.evictionSoft.at("memory.available"), "500Mi");
  EXPECT_EQ(c.evictionSoftGracePeriod.at("memory.available"), "1m30s");
  EXPECT_EQ(c.evictionMinimumReclaim.at("memory.available"), "0.5Gi");
  EXPECT_EQ(c.evictionPressureTransitionPeriod, std::chrono::seconds(30));
  EXPECT_EQ(c.evictionMaxPodGracePeriod, 20);
  EXPECT_EQ(c.imageGCHighThresholdPercent, 90);
  EXPECT_EQ(c.imageGCLowThresholdPercent, 70);

  std::string bad = writeFile("bad-factor.yaml",
                              "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                              "kind: KubeletConfiguration\nmemoryThrottlingFactor: 1.5\n");
  auto e = run({"--config=" + bad});
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("memoryThrottlingFactor: must be greater than 0 and at most 1"));
}

TEST_F(LoadConfigTest, InvalidMergedValuesAreErrors) {
  std::string badFile = writeFile("bad.yaml",
                                  "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                                  "kind: KubeletConfiguration\nsyncFrequency: abc\n");
  struct Case {
    std::vector<std::string> args;
    std::string wantError;
  };
  const Case cases[] = {
      {{"--config=" + badFile}, badFile + ": syncFrequency: invalid duration \"abc\""},
      {{"--config=" + dir_ + "/missing.yaml"}, "read config file " + dir_ + "/missing.yaml"},
      {{"--cgroup-driver=lxc"}, "invalid cgroup driver (--cgroup-driver / cgroupDriver)"},
      {{"--authorization-mode=RBAC"}, "invalid authorization mode"},
      {{"--port=0"}, "invalid port (--port / port): 0 is not in 1..65535"},
      {{"--healthz-port=70000"}, "invalid port (--healthz-port / healthzPort)"},
      {{"--address=localhost"}, "invalid IP address (--address / address): \"localhost\""},
      {{"--cluster-dns=dns.local"}, "invalid IP address (--cluster-dns / clusterDNS)"},
      {{"--node-ip=10.0.0.1,fd00::1,10.0.0.2"}, "at most two addresses"},
      {{"--node-ip=node1"}, "invalid IP address (--node-ip): \"node1\""},
      {{"--container-runtime-endpoint=tcp://1.2.3.4:1234"}, "invalid runtime endpoint"},
      {{"--image-service-endpoint=unix://"}, "invalid runtime endpoint (--image-service-endpoint"},
      {{"--max-pods=-1"}, "invalid value (--max-pods / maxPods): -1 must not be negative"},
      {{"--worker-threads=0"}, "--worker-threads"},
      {{"--crash-loop-backoff-base=0s"}, "--crash-loop-backoff-base): must be positive"},
      {{"--crash-loop-backoff-base=10m"}, "exceeds the maximum restart period 5m0s"},
      {{"--image-gc-high-threshold=101"},
       "(--image-gc-high-threshold / "
       "imageGCHighThresholdPercent): 101 must be between"},
      {{"--image-gc-low-threshold=90"}, "90 must be less than imageGCHighThresholdPercent 85"},
      {{"--cpu-cfs-quota-period=2s"}, "(--cpu-cfs-quota-period / cpuCFSQuotaPeriod): 2s must be"},
      {{"--eviction-max-pod-grace-period=-1"}, "--eviction-max-pod-grace-period"},
  };
  for (const Case& c : cases) {
    auto r = run(c.args);
    ASSERT_FALSE(r.ok()) << ::testing::PrintToString(c.args);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.wantError))
        << ::testing::PrintToString(c.args);
  }
}

TEST(Usage, DescribesFlagsAndFallback) {
  std::string text = usage();
  EXPECT_THAT(text, HasSubstr("Usage: cubelet [flags]"));
  EXPECT_THAT(text, HasSubstr("--kubeconfig path"));
  EXPECT_THAT(text, HasSubstr("--help"));
  EXPECT_THAT(text, HasSubstr("accepted with a warning"));
}

}  // namespace
}  // namespace agent::config

// The KubeletConfiguration file: real kubeadm-generated files, kubelet defaulting,
// implemented vs. known vs. unknown fields, and type errors naming file and field.
#include "agent/config/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace agent::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kHeader =
    "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";

struct Loaded {
  absl::Status status;
  AgentConfig cfg;
  std::vector<std::string> warnings;
};

Loaded load(const std::string& text, std::string_view baseDir = "/etc/cubelet") {
  Loaded l;
  l.status = applyConfigText(text, "/etc/cubelet/config.yaml", baseDir, l.cfg, l.warnings);
  return l;
}

std::string testdata(std::string_view name) {
  return std::string(CUBELET_SOURCE_DIR) + "/tests/unit/agent/config/testdata/" + std::string(name);
}

std::string unimplemented(std::string_view file, std::string_view field) {
  return std::string(file) + ": field \"" + std::string(field) +
         "\" is not implemented by cubelet yet; ignored";
}

TEST(ConfigFile, LoadsKubeadmGeneratedConfigWithWarnings) {
  for (std::string_view name : {"kubeadm_v1.28_config.yaml", "kubeadm_v1.23_config.yaml"}) {
    std::string path = testdata(name);
    AgentConfig cfg;
    std::vector<std::string> warnings;
    absl::Status s = applyConfigFile(path, cfg, warnings);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_THAT(warnings,
                UnorderedElementsAre(unimplemented(path, "cpuManagerReconcilePeriod"),
                                     unimplemented(path, "httpCheckFrequency"),
                                     unimplemented(path, "logging.flushFrequency"),
                                     unimplemented(path, "logging.options"),
                                     unimplemented(path, "memorySwap"),
                                     unimplemented(path, "streamingConnectionIdleTimeout"),
                                     unimplemented(path, "volumeStatsAggPeriod")));
    // What kubeadm sets explicitly...
    EXPECT_EQ(cfg.cgroupDriver, "systemd");
    EXPECT_THAT(cfg.clusterDNS, ElementsAre("10.96.0.10"));
    EXPECT_EQ(cfg.clusterDomain, "cluster.local");
    EXPECT_EQ(cfg.staticPodPath, "/etc/kubernetes/manifests");
    EXPECT_TRUE(cfg.rotateCertificates);
    EXPECT_EQ(cfg.authentication.clientCAFile, "/etc/kubernetes/pki/ca.crt");
    EXPECT_FALSE(cfg.authentication.anonymousEnabled);
    EXPECT_TRUE(cfg.authentication.webhookEnabled);
    EXPECT_EQ(cfg.authorization.mode, "Webhook");
    EXPECT_EQ(cfg.healthzPort, 10248);
    EXPECT_EQ(cfg.healthzBindAddress, "127.0.0.1");
    // ...and its zero values ("0s", "") that the kubelet replaces with its defaults.
    EXPECT_EQ(cfg.syncFrequency, minutes(1));
    EXPECT_EQ(cfg.fileCheckFrequency, seconds(20));
    EXPECT_EQ(cfg.runtimeRequestTimeout, minutes(2));
    EXPECT_EQ(cfg.nodeStatusUpdateFrequency, seconds(10));
    EXPECT_EQ(cfg.nodeStatusReportFrequency, minutes(5));
    EXPECT_EQ(cfg.authentication.webhookCacheTTL, minutes(2));
    EXPECT_EQ(cfg.authorization.webhookCacheAuthorizedTTL, minutes(5));
    EXPECT_EQ(cfg.authorization.webhookCacheUnauthorizedTTL, seconds(30));
    EXPECT_EQ(cfg.containerRuntimeEndpoint, "unix:///run/containerd/containerd.sock");
    EXPECT_EQ(cfg.shutdownGracePeriod, seconds(0));
    EXPECT_EQ(cfg.verbosity, 0);
  }
  AgentConfig cfg;
  std::vector<std::string> warnings;
  ASSERT_TRUE(applyConfigFile(testdata("kubeadm_v1.23_config.yaml"), cfg, warnings).ok());
  EXPECT_EQ(cfg.resolvConf, "/run/systemd/resolve/resolv.conf");
}

TEST(ConfigFile, AppliesImplementedFields) {
  Loaded l = load(kHeader + R"(
staticPodPath: manifests
podLogsDir: /data/pods
syncFrequency: 30s
fileCheckFrequency: 5s
runtimeRequestTimeout: 10m
address: "::"
port: 11250
readOnlyPort: 10255
healthzPort: 0
maxPods: 20
podPidsLimit: -5
podCIDR: 10.244.0.0/24
resolvConf: ""
registerNode: false
failSwapOn: false
serializeImagePulls: false
enableServer: false
kubeAPIQPS: 0
kubeAPIBurst: 7
providerID: "kind://docker/kind/node"
featureGates: {GracefulNodeShutdown: false}
systemReserved: {cpu: 100m, memory: 1Gi}
evictionHard: {}
enforceNodeAllocatable: []
registerWithTaints:
- key: dedicated
  value: infra
  effect: NoSchedule
- key: example.com/spot
  effect: PreferNoSchedule
nodeStatusUpdateFrequency: 20s
crashLoopBackOff: {maxContainerRestartPeriod: 1m}
logging: {verbosity: 4, format: text}
tlsCertFile: pki/serving.crt
authentication: {x509: {clientCAFile: ca.crt}}
)");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_THAT(l.warnings, IsEmpty());
  const AgentConfig& c = l.cfg;
  EXPECT_EQ(c.staticPodPath, "/etc/cubelet/manifests");  // relative to the file's directory
  EXPECT_EQ(c.tlsCertFile, "/etc/cubelet/pki/serving.crt");
  EXPECT_EQ(c.authentication.clientCAFile, "/etc/cubelet/ca.crt");
  EXPECT_EQ(c.podLogsDir, "/data/pods");
  EXPECT_EQ(c.syncFrequency, seconds(30));
  EXPECT_EQ(c.fileCheckFrequency, seconds(5));
  EXPECT_EQ(c.runtimeRequestTimeout, minutes(10));
  EXPECT_EQ(c.address, "::");
  EXPECT_EQ(c.port, 11250);
  EXPECT_EQ(c.readOnlyPort, 10255);
  EXPECT_EQ(c.healthzPort, 0);
  EXPECT_EQ(c.maxPods, 20);
  EXPECT_EQ(c.podPidsLimit, -1);
  EXPECT_EQ(c.podCIDR, "10.244.0.0/24");
  EXPECT_EQ(c.resolvConf, "");
  EXPECT_FALSE(c.registerNode);
  EXPECT_FALSE(c.failSwapOn);
  EXPECT_FALSE(c.serializeImagePulls);
  EXPECT_FALSE(c.enableServer);
  EXPECT_EQ(c.kubeAPIQPS, 0);
  EXPECT_EQ(c.kubeAPIBurst, 7);
  EXPECT_EQ(c.providerID, "kind://docker/kind/node");
  EXPECT_EQ(c.featureGates, (std::map<std::string, bool>{{"GracefulNodeShutdown", false}}));
  EXPECT_EQ(c.systemReserved,
            (std::map<std::string, std::string>{{"cpu", "100m"}, {"memory", "1Gi"}}));
  EXPECT_THAT(c.evictionHard, IsEmpty());
  EXPECT_THAT(c.enforceNodeAllocatable, IsEmpty());
  EXPECT_THAT(c.registerWithTaints, ElementsAre(Taint{"dedicated", "infra", "NoSchedule"},
                                                Taint{"example.com/spot", "", "PreferNoSchedule"}));
  // An explicit update frequency is also the report frequency, as in the kubelet.
  EXPECT_EQ(c.nodeStatusUpdateFrequency, seconds(20));
  EXPECT_EQ(c.nodeStatusReportFrequency, seconds(20));
  EXPECT_EQ(c.crashLoopBackOffMax, minutes(1));
  EXPECT_EQ(c.verbosity, 4);
}

TEST(ConfigFile, WarnsForKnownFieldsCubeletDoesNotImplement) {
  Loaded l = load(kHeader +
                  "cpuManagerPolicy: static\ntopologyManagerPolicy: best-effort\ntracing: null\n"
                  "logging: {format: json, vmodule: [{filePattern: x, verbosity: 2}]}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  const std::string file = "/etc/cubelet/config.yaml";
  EXPECT_THAT(l.warnings, UnorderedElementsAre(unimplemented(file, "cpuManagerPolicy"),
                                               unimplemented(file, "topologyManagerPolicy"),
                                               unimplemented(file, "logging.format"),
                                               unimplemented(file, "logging.vmodule")));
}

struct ErrorCase {
  std::string text;
  std::string_view wantError;
};

TEST(ConfigFile, ErrorsNameFileAndField) {
  const ErrorCase cases[] = {
      {kHeader + "noSuchField: 1\n", "/etc/cubelet/config.yaml: unknown field \"noSuchField\""},
      {kHeader + "StaticPodPath: /x\n", "unknown field \"StaticPodPath\""},  // case-sensitive
      {kHeader + "syncFrequency: abc\n",
       "/etc/cubelet/config.yaml: syncFrequency: invalid duration \"abc\""},
      {kHeader + "syncFrequency: 10\n",
       "/etc/cubelet/config.yaml: syncFrequency: expected a duration string such as \"10s\", "
       "got number 10"},
      {kHeader + "fileCheckFrequency: -5s\n", "fileCheckFrequency: must not be negative"},
      {kHeader + "staticPodPath: 12\n", "staticPodPath: expected string, got number 12"},
      {kHeader + "maxPods: many\n", "maxPods: expected integer, got string \"many\""},
      {kHeader + "maxPods: 3000000000\n", "maxPods: value 3000000000 out of range for int32"},
      {kHeader + "failSwapOn: \"false\"\n", "failSwapOn: expected boolean, got string"},
      {kHeader + "clusterDNS: 10.96.0.10\n", "clusterDNS: expected array"},
      {kHeader + "clusterDNS: [1]\n", "clusterDNS[0]: expected string, got number 1"},
      {kHeader + "featureGates: {A: 1}\n", "featureGates[A]: expected boolean"},
      {kHeader + "evictionHard: {pid: 100}\n", "evictionHard[pid]: expected string"},
      {kHeader + "authentication: {webhook: {cacheTTL: 2x}}\n",
       "authentication.webhook.cacheTTL: invalid duration \"2x\""},
      {kHeader + "authentication: {x509: {clientCAfile: /x}}\n",
       "authentication.x509: unknown field \"clientCAfile\""},
      {kHeader + "authorization: {mode: Webhook, webhok: {}}\n",
       "authorization: unknown field \"webhok\""},
      {kHeader + "authentication: []\n", "authentication: expected object, got array"},
      {kHeader + "logging: {verbosity: -1}\n", "logging.verbosity: invalid verbosity -1"},
      {kHeader + "logging: {text: {}}\n", "logging: unknown field \"text\""},
      {kHeader + "registerWithTaints: [{key: k, effect: Maybe}]\n",
       "registerWithTaints[0]: invalid effect \"Maybe\""},
      {kHeader + "registerWithTaints: [{key: k, efect: NoSchedule}]\n",
       "registerWithTaints[0]: unknown field \"efect\""},
      {kHeader + "crashLoopBackOff: {maxContainerRestartPeriod: 10m}\n",
       "crashLoopBackOff.maxContainerRestartPeriod: must be between 1s and 300s, got 10m0s"},
      {"kind: KubeletConfiguration\n",
       "/etc/cubelet/config.yaml: missing apiVersion; expected \"kubelet.config.k8s.io/v1beta1\""},
      {"apiVersion: kubelet.config.k8s.io/v1beta1\n",
       "/etc/cubelet/config.yaml: missing kind; expected \"KubeletConfiguration\""},
      {"apiVersion: kubelet.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n",
       "apiVersion is string \"kubelet.config.k8s.io/v1alpha1\", expected"},
      {"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n",
       "kind is string \"KubeProxyConfiguration\", expected \"KubeletConfiguration\""},
      {"", "/etc/cubelet/config.yaml: the file is empty"},
      {"- a\n- b\n", "expected a KubeletConfiguration object, got array"},
      {kHeader + "staticPodPath: [unclosed\n", "/etc/cubelet/config.yaml:"},
  };
  for (const ErrorCase& c : cases) {
    Loaded l = load(c.text);
    ASSERT_FALSE(l.status.ok()) << c.text;
    EXPECT_THAT(std::string(l.status.message()), HasSubstr(c.wantError)) << c.text;
  }
}

TEST(ConfigFile, AcceptsJson) {
  Loaded l = load(R"({"apiVersion": "kubelet.config.k8s.io/v1beta1",
                      "kind": "KubeletConfiguration", "maxPods": 42, "clusterDomain": "x.local"})");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.cfg.maxPods, 42);
  EXPECT_EQ(l.cfg.clusterDomain, "x.local");
}

TEST(ConfigFile, MissingFileIsAnErrorNamingIt) {
  AgentConfig cfg;
  std::vector<std::string> warnings;
  absl::Status s = applyConfigFile("/nonexistent/cubelet/config.yaml", cfg, warnings);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("read config file /nonexistent/cubelet/config.yaml"));
}

TEST(ConfigFile, EveryWarningNamesAKubeletField) {
  // A few fields from each era of the v1beta1 API, all accepted.
  Loaded l = load(kHeader +
                  "enableContentionProfiling: true\nshowHiddenMetricsForVersion: '1.30'\n"
                  "kernelMemcgNotification: true\nfailCgroupV1: false\n"
                  "podHousekeepingPeriod: 2s\nuserNamespaces: {idsPerPod: 65536}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.warnings.size(), 6u);
  EXPECT_THAT(l.warnings, Contains(unimplemented("/etc/cubelet/config.yaml", "failCgroupV1")));
}

}  // namespace
}  // namespace agent::config

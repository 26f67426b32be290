// Command-line parsing: pflag forms, kubelet flags cubelet ignores, unknown flags, and
// how flags bind to the configuration.
#include "agent/config/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agent::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::StatusOr<CommandLine> parse(std::vector<std::string_view> args) {
  return parseCommandLine(args);
}

// Parses and applies `args` over a default AgentConfig.
absl::StatusOr<AgentConfig> applyArgs(std::vector<std::string_view> args) {
  auto cl = parse(std::move(args));
  if (!cl.ok()) return cl.status();
  AgentConfig cfg;
  absl::Status s = applyFlags(*cl, cfg);
  if (!s.ok()) return s;
  return cfg;
}

struct FormCase {
  std::vector<std::string_view> args;
  std::string wantRootDir;
  int wantVerbosity;
  bool wantEnableServer;
};

TEST(ParseCommandLine, AcceptsPflagForms) {
  const FormCase cases[] = {
      {{"--root-dir=/a"}, "/a", 0, true},
      {{"--root-dir", "/a"}, "/a", 0, true},
      {{"--root_dir=/a"}, "/a", 0, true},  // '_' normalizes to '-'
      {{"--root-dir="}, "", 0, true},
      {{"--v=3"}, "/var/lib/kubelet", 3, true},
      {{"--v", "3"}, "/var/lib/kubelet", 3, true},
      {{"-v=3"}, "/var/lib/kubelet", 3, true},
      {{"-v", "3"}, "/var/lib/kubelet", 3, true},
      {{"-v3"}, "/var/lib/kubelet", 3, true},
      {{"--enable-server=false"}, "/var/lib/kubelet", 0, false},
      {{"--enable-server=0"}, "/var/lib/kubelet", 0, false},
      {{"--enable-server=false", "--enable-server"}, "/var/lib/kubelet", 0, true},
      {{"--v=1", "--root-dir", "/b", "--v=2", "--"}, "/b", 2, true},
  };
  for (const FormCase& c : cases) {
    auto cfg = applyArgs(c.args);
    ASSERT_TRUE(cfg.ok()) << ::testing::PrintToString(c.args) << ": " << cfg.status();
    EXPECT_EQ(cfg->rootDir, c.wantRootDir) << ::testing::PrintToString(c.args);
    EXPECT_EQ(cfg->verbosity, c.wantVerbosity) << ::testing::PrintToString(c.args);
    EXPECT_EQ(cfg->enableServer, c.wantEnableServer) << ::testing::PrintToString(c.args);
  }
}

struct ErrorCase {
  std::vector<std::string_view> args;
  std::string_view wantError;
};

TEST(ParseCommandLine, RejectsBadCommandLines) {
  const ErrorCase cases[] = {
      {{"--no-such-flag=1"}, "unknown flag: --no-such-flag"},
      {{"--kubeconfigg", "/x"}, "unknown flag: --kubeconfigg"},
      {{"-x"}, "unknown shorthand flag: 'x' in -x"},
      {{"-kubeconfig=/x"}, "unknown shorthand flag: 'k'"},
      {{"run"}, "no positional arguments, got \"run\""},
      {{"--", "extra"}, "no positional arguments, got \"extra\""},
      {{"--fail-swap-on", "false"}, "boolean flags take their value as --flag=false"},
      {{"--root-dir"}, "flag needs an argument: --root-dir"},
      {{"---v=1"}, "bad flag syntax: ---v=1"},
      {{"--runonce=maybe"}, "--runonce: invalid boolean \"maybe\""},
  };
  for (const ErrorCase& c : cases) {
    auto cl = parse(c.args);
    ASSERT_FALSE(cl.ok()) << ::testing::PrintToString(c.args);
    EXPECT_THAT(std::string(cl.status().message()), HasSubstr(c.wantError))
        << ::testing::PrintToString(c.args);
  }
}

TEST(ParseCommandLine, WarnsOnceForKubeletFlagsCubeletDoesNotImplement) {
  auto cl = parse({"--cpu-manager-policy=static", "--network-plugin", "cni", "--runonce",
                   "--cpu-manager-policy", "none", "--log_dir=/tmp", "--v=2"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(cl->warnings,
              ElementsAre("flag --cpu-manager-policy is not implemented by cubelet yet; ignored",
                          "flag --network-plugin is not implemented by cubelet yet; ignored",
                          "flag --runonce is not implemented by cubelet yet; ignored",
                          "flag --log-dir is not implemented by cubelet yet; ignored"));
  // "cni" was consumed as --network-plugin's value and --runonce took none: only --v is left.
  ASSERT_EQ(cl->flags.size(), 1u);
  EXPECT_EQ(cl->flags[0].name, "v");
}

TEST(ParseCommandLine, AcceptsKubeadmCommandLine) {
  // What kubeadm's systemd drop-in and kubeadm-flags.env pass to the kubelet.
  auto cl =
      parse({"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
             "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
             "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
             "--pod-infra-container-image=registry.k8s.io/pause:3.9"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(cl->warnings, IsEmpty());
  EXPECT_EQ(configFileFlag(*cl), "/var/lib/kubelet/config.yaml");
  AgentConfig cfg;
  ASSERT_TRUE(applyFlags(*cl, cfg).ok());
  EXPECT_EQ(cfg.bootstrapKubeconfig, "/etc/kubernetes/bootstrap-kubelet.conf");
  EXPECT_EQ(cfg.kubeconfig, "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(cfg.containerRuntimeEndpoint, "unix:///var/run/containerd/containerd.sock");
  EXPECT_EQ(cfg.podInfraContainerImage, "registry.k8s.io/pause:3.9");
}

TEST(ParseCommandLine, AcceptsDockershimEraFlags) {
  auto cl =
      parse({"--container-runtime=remote", "--network-plugin=cni", "--cni-conf-dir=/tmp/net.d",
             "--cni-bin-dir=/tmp/bin", "--image-pull-progress-deadline=1m"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->warnings.size(), 3u);
  AgentConfig cfg;
  ASSERT_TRUE(applyFlags(*cl, cfg).ok());
  EXPECT_EQ(cfg.cniConfDir, "/tmp/net.d");
  EXPECT_EQ(cfg.cniBinDir, "/tmp/bin");
}

TEST(ParseCommandLine, CniIpMasqIsACubeletBoolDefaultingToTrue) {
  AgentConfig defaults;
  EXPECT_TRUE(defaults.cniIpMasq);
  auto cl = parse({"--cni-ip-masq=false"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(cl->warnings, IsEmpty());
  AgentConfig cfg;
  ASSERT_TRUE(applyFlags(*cl, cfg).ok());
  EXPECT_FALSE(cfg.cniIpMasq);
  auto bad = parse({"--cni-ip-masq=maybe"});
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_FALSE(applyFlags(*bad, cfg).ok());
  EXPECT_THAT(flagsUsage(), HasSubstr("--cni-ip-masq"));
}

TEST(ParseCommandLine, HelpStopsParsingAndVersionIsReported) {
  for (std::vector<std::string_view> args :
       {std::vector<std::string_view>{"-h"}, {"--help"}, {"--v=2", "--help", "--bogus"}}) {
    auto cl = parse(args);
    ASSERT_TRUE(cl.ok()) << cl.status();
    EXPECT_TRUE(cl->help);
  }
  auto unknownFirst = parse({"--bogus", "--help"});
  EXPECT_FALSE(unknownFirst.ok());
  auto version = parse({"--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(version->version);
  auto noVersion = parse({"--version=false"});
  ASSERT_TRUE(noVersion.ok());
  EXPECT_FALSE(noVersion->version);
}

TEST(ApplyFlags, TypedValuesAndErrorsNameTheFlag) {
  auto cfg = applyArgs(
      {"--sync-frequency=1m30s", "--file-check-frequency", "300ms", "--max-pods=50",
       "--cluster-dns=10.96.0.10,fd00::a", "--node-labels=a=b", "--node-labels", "c=d",
       "--register-with-taints=k=v:NoSchedule", "--kube-reserved=cpu=100m,memory=100Mi",
       "--eviction-hard=memory.available<200Mi", "--feature-gates=A=true", "--pod-max-pids=4096",
       "--anonymous-auth=false", "--authorization-mode=AlwaysAllow",
       "--crash-loop-backoff-base=100ms", "--worker-threads=2"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->syncFrequency, seconds(90));
  EXPECT_EQ(cfg->fileCheckFrequency, milliseconds(300));
  EXPECT_EQ(cfg->maxPods, 50);
  EXPECT_THAT(cfg->clusterDNS, ElementsAre("10.96.0.10", "fd00::a"));
  EXPECT_EQ(cfg->nodeLabels, (std::map<std::string, std::string>{{"a", "b"}, {"c", "d"}}));
  EXPECT_THAT(cfg->registerWithTaints, ElementsAre(Taint{"k", "v", "NoSchedule"}));
  EXPECT_EQ(cfg->kubeReserved,
            (std::map<std::string, std::string>{{"cpu", "100m"}, {"memory", "100Mi"}}));
  EXPECT_EQ(cfg->evictionHard, (std::map<std::string, std::string>{{"memory.available", "200Mi"}}));
  EXPECT_EQ(cfg->featureGates, (std::map<std::string, bool>{{"A", true}}));
  EXPECT_EQ(cfg->podPidsLimit, 4096);
  EXPECT_FALSE(cfg->authentication.anonymousEnabled);
  EXPECT_EQ(cfg->authorization.mode, "AlwaysAllow");
  EXPECT_EQ(cfg->crashLoopBackOffBase, milliseconds(100));
  EXPECT_EQ(cfg->workerThreads, 2);

  const ErrorCase errors[] = {
      {{"--sync-frequency=abc"}, "--sync-frequency: invalid duration \"abc\""},
      {{"--sync-frequency=-1s"}, "--sync-frequency: duration \"-1s\" must not be negative"},
      {{"--max-pods=many"}, "--max-pods: invalid integer \"many\""},
      {{"--max-pods=99999999999"}, "--max-pods: invalid integer \"99999999999\": out of range"},
      {{"--fail-swap-on=yes"}, "--fail-swap-on: invalid boolean \"yes\""},
      {{"--v=-1"}, "--v: invalid integer \"-1\""},
      {{"--node-labels=kubernetes.io/role=x"}, "--node-labels: label \"kubernetes.io/role\""},
      {{"--node-labels=bad key=x"}, "--node-labels: invalid key \"bad key\""},
      {{"--register-with-taints=k=v"}, "--register-with-taints: invalid taint \"k=v\""},
      {{"--kube-reserved=cpu"}, "--kube-reserved: malformed item \"cpu\""},
  };
  for (const ErrorCase& c : errors) {
    auto bad = applyArgs(c.args);
    ASSERT_FALSE(bad.ok()) << ::testing::PrintToString(c.args);
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(c.wantError));
  }
}

TEST(ApplyFlags, ListsAndMapsFollowPflagRepetitionRules) {
  AgentConfig fromFile;
  fromFile.clusterDNS = {"10.0.0.10"};
  fromFile.kubeReserved = {{"pid", "100"}};
  fromFile.featureGates = {{"FromFile", true}, {"Both", false}};
  auto cl = parse({"--cluster-dns=1.1.1.1", "--cluster-dns=8.8.8.8", "--kube-reserved=cpu=1",
                   "--kube-reserved=memory=1Gi", "--feature-gates=Both=true"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  ASSERT_TRUE(applyFlags(*cl, fromFile).ok());
  // The first occurrence replaces the file's list or map, later ones add to it.
  EXPECT_THAT(fromFile.clusterDNS, ElementsAre("1.1.1.1", "8.8.8.8"));
  EXPECT_EQ(fromFile.kubeReserved,
            (std::map<std::string, std::string>{{"cpu", "1"}, {"memory", "1Gi"}}));
  // Feature gates merge over the file's, key by key.
  EXPECT_EQ(fromFile.featureGates,
            (std::map<std::string, bool>{{"Both", true}, {"FromFile", true}}));
}

TEST(FlagsUsage, ListsImplementedFlags) {
  std::string text = flagsUsage();
  for (std::string_view flag : {"--kubeconfig", "--config", "--container-runtime-endpoint",
                                "--pod-manifest-path", "--node-ip", "--register-with-taints",
                                "--cni-conf-dir", "--v int", "--crash-loop-backoff-base"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
  EXPECT_THAT(text, HasSubstr("[cubelet only]"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("--cpu-manager-policy")));
}

}  // namespace
}  // namespace agent::config

// The pod sandbox config as the kubelet's generatePodSandboxConfig makes it:
// hostname from spec.hostname/subdomain/setHostnameAsFQDN (errors fail the
// config), DNS warnings handed back for events, MakePortMappings' dedupe, and the
// namespace modes of namespacesForPod.
#include "agent/runtime/sandbox_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agent::runtime {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::runtime::v1;

api::Pod makePod() {
  api::Pod p;
  p.metadata.name = "web-0";
  p.metadata.namespace_ = "ns";
  p.metadata.uid = "u1";
  p.spec.dnsPolicy = "ClusterFirst";
  p.spec.containers.push_back(api::Container{.name = "c", .image = "img"});
  return p;
}

RuntimeOptions opts() {
  RuntimeOptions o;
  o.clusterDNS = {"10.96.0.10"};
  o.clusterDomain = "cluster.local";
  o.podLogsDir = "/var/log/pods";
  return o;
}

TEST(SandboxConfigTest, FormatPodAsTheKubelet) { EXPECT_EQ(formatPod(makePod()), "web-0_ns(u1)"); }

TEST(SandboxConfigTest, Hostnames) {
  struct Case {
    const char* name;
    std::string hostname, subdomain;
    std::optional<bool> fqdn;
    std::string want;
  };
  std::vector<Case> cases = {
      {"pod name", "", "", std::nullopt, "web-0"},
      {"spec.hostname", "db", "", std::nullopt, "db"},
      {"subdomain alone keeps the short name", "db", "svc", std::nullopt, "db"},
      {"setHostnameAsFQDN false", "db", "svc", false, "db"},
      {"setHostnameAsFQDN", "db", "svc", true, "db.svc.ns.svc.cluster.local"},
      {"FQDN needs a subdomain", "db", "", true, "db"},
  };
  for (const auto& c : cases) {
    api::Pod p = makePod();
    p.spec.hostname = c.hostname;
    p.spec.subdomain = c.subdomain;
    p.spec.setHostnameAsFQDN = c.fqdn;
    auto config = makeSandboxConfig(p, 0, opts(), nullptr);
    ASSERT_TRUE(config.ok()) << c.name << ": " << config.status();
    EXPECT_EQ(config->hostname(), c.want) << c.name;
  }
}

TEST(SandboxConfigTest, LongPodNameIsTruncatedTo63) {
  api::Pod p = makePod();
  p.metadata.name = std::string(70, 'a');
  auto config = makeSandboxConfig(p, 0, opts(), nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hostname(), std::string(63, 'a'));
}

TEST(SandboxConfigTest, HostNetworkPodGetsNoHostname) {
  api::Pod p = makePod();
  p.spec.hostNetwork = true;
  p.spec.hostname = "db";
  auto config = makeSandboxConfig(p, 0, opts(), nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hostname(), "");
  EXPECT_EQ(config->linux().security_context().namespace_options().network(), v1::NODE);
}

TEST(SandboxConfigTest, InvalidHostnameOrSubdomainFailsTheConfig) {
  api::Pod p = makePod();
  p.spec.hostname = "Bad_Name";
  auto config = makeSandboxConfig(p, 0, opts(), nullptr);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("pod Hostname \"Bad_Name\" is not a valid DNS label"));

  p = makePod();
  p.spec.subdomain = "-sub";
  config = makeSandboxConfig(p, 0, opts(), nullptr);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("pod Subdomain \"-sub\" is not a valid DNS label"));
}

TEST(SandboxConfigTest, FqdnTooLongForTheKernelFailsTheConfig) {
  api::Pod p = makePod();
  p.spec.hostname = std::string(40, 'h');
  p.spec.subdomain = "sub";
  p.spec.setHostnameAsFQDN = true;
  auto config = makeSandboxConfig(p, 0, opts(), nullptr);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("failed to construct FQDN from pod hostname and cluster domain"));
  // Without setHostnameAsFQDN the same names are fine.
  p.spec.setHostnameAsFQDN = false;
  EXPECT_TRUE(makeSandboxConfig(p, 0, opts(), nullptr).ok());
}

TEST(SandboxConfigTest, DnsConfigAndWarnings) {
  api::Pod p = makePod();
  p.spec.dnsPolicy = "None";
  p.spec.dnsConfig = api::PodDNSConfig{
      {"1.1.1.1"}, {"a.example"}, {{"ndots", std::string("2")}, {"edns0", std::nullopt}}};
  std::vector<network::DnsWarning> warnings;
  auto config = makeSandboxConfig(p, 0, opts(), &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->dns_config().servers(), ::testing::ElementsAre("1.1.1.1"));
  EXPECT_THAT(config->dns_config().searches(), ::testing::ElementsAre("a.example"));
  EXPECT_THAT(config->dns_config().options(), ::testing::ElementsAre("ndots:2", "edns0"));
  EXPECT_TRUE(warnings.empty());

  // ClusterFirst without a cluster DNS falls back with a MissingClusterDNS warning
  // naming the pod as format.Pod does.
  p = makePod();
  RuntimeOptions o = opts();
  o.clusterDNS.clear();
  config = makeSandboxConfig(p, 0, o, &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_FALSE(warnings.empty());
  EXPECT_EQ(warnings[0].reason, "MissingClusterDNS");
  EXPECT_THAT(warnings[0].message, HasSubstr("web-0_ns(u1)"));
}

TEST(SandboxConfigTest, DnsWarningsSurviveAHostnameError) {
  api::Pod p = makePod();
  p.spec.hostname = "Bad_Name";
  RuntimeOptions o = opts();
  o.clusterDNS.clear();
  std::vector<network::DnsWarning> warnings;
  EXPECT_FALSE(makeSandboxConfig(p, 0, o, &warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].reason, "MissingClusterDNS");
}

api::ContainerPort port(const char* name, int32_t hostPort, int32_t containerPort,
                        const char* protocol = "TCP", const char* hostIP = "") {
  return api::ContainerPort{name, hostPort, containerPort, protocol, hostIP};
}

TEST(SandboxConfigTest, PortMappingsAsMakePortMappings) {
  api::Pod p = makePod();
  p.spec.containers[0].ports = {
      port("http", 8080, 80),
      port("http", 8081, 81),               // same name: dropped
      port("", 0, 9090),                    // no hostPort: still mapped
      port("", 0, 9090),                    // identical unnamed: dropped
      port("", 0, 9090, "UDP"),             // other protocol: kept
      port("", 53, 53, "UDP", "10.0.0.1"),  // v4 host IP
      port("", 53, 53, "UDP", "fd00::1"),   // same port on v6: kept
      port("", 53, 53, "UDP", "10.0.0.1"),  // duplicate: dropped
  };
  // Port names are per container: another container may reuse one.
  api::Container second{.name = "d", .image = "img"};
  second.ports = {port("http", 8082, 82)};
  p.spec.containers.push_back(second);
  // Init containers' ports are not mapped.
  api::Container init{.name = "init", .image = "img"};
  init.ports = {port("", 7070, 70)};
  p.spec.initContainers.push_back(init);

  auto config = makeSandboxConfig(p, 0, opts(), nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  std::vector<std::string> got;
  for (const auto& pm : config->port_mappings()) {
    got.push_back(v1::Protocol_Name(pm.protocol()) + " " + pm.host_ip() + ":" +
                  std::to_string(pm.host_port()) + "->" + std::to_string(pm.container_port()));
  }
  EXPECT_THAT(got,
              ::testing::ElementsAre("TCP :8080->80", "TCP :0->9090", "UDP :0->9090",
                                     "UDP 10.0.0.1:53->53", "UDP fd00::1:53->53", "TCP :8082->82"));
}

TEST(SandboxConfigTest, NamespaceModesAsNamespacesForPod) {
  struct Case {
    bool hostNetwork, hostPID, hostIPC;
    std::optional<bool> share;
    v1::NamespaceMode network, pid, ipc;
  };
  std::vector<Case> cases = {
      {false, false, false, std::nullopt, v1::POD, v1::CONTAINER, v1::POD},
      {true, false, false, std::nullopt, v1::NODE, v1::CONTAINER, v1::POD},
      {false, true, false, std::nullopt, v1::POD, v1::NODE, v1::POD},
      {false, false, true, std::nullopt, v1::POD, v1::CONTAINER, v1::NODE},
      {false, false, false, true, v1::POD, v1::POD, v1::POD},
      {false, false, false, false, v1::POD, v1::CONTAINER, v1::POD},
      {false, true, false, true, v1::POD, v1::NODE, v1::POD},  // hostPID wins
  };
  for (const auto& c : cases) {
    api::Pod p = makePod();
    p.spec.hostNetwork = c.hostNetwork;
    p.spec.hostPID = c.hostPID;
    p.spec.hostIPC = c.hostIPC;
    p.spec.shareProcessNamespace = c.share;
    auto config = makeSandboxConfig(p, 0, opts(), nullptr);
    ASSERT_TRUE(config.ok()) << config.status();
    const auto& ns = config->linux().security_context().namespace_options();
    EXPECT_EQ(ns.network(), c.network);
    EXPECT_EQ(ns.pid(), c.pid);
    EXPECT_EQ(ns.ipc(), c.ipc);
  }
}

}  // namespace
}  // namespace agent::runtime

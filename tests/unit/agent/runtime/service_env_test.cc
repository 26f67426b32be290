#include "agent/runtime/service_env.h"

#include <gtest/gtest.h>

namespace agent::runtime {
namespace {

std::shared_ptr<const api::Service> svc(const std::string& ns, const std::string& name,
                                        const std::string& ip,
                                        std::vector<api::ServicePort> ports) {
  auto s = std::make_shared<api::Service>();
  s->metadata.namespace_ = ns;
  s->metadata.name = name;
  s->clusterIP = ip;
  s->ports = std::move(ports);
  return s;
}

TEST(ServiceEnvTest, NamedAndUnnamedPorts) {
  // The first port unnamed, the second named, as validation allows.
  auto s = svc("ns", "my-svc", "10.0.0.7", {{"", "TCP", 8080}, {"dns-udp", "UDP", 53}});
  EnvList want = {
      {"MY_SVC_SERVICE_HOST", "10.0.0.7"},
      {"MY_SVC_SERVICE_PORT", "8080"},
      {"MY_SVC_SERVICE_PORT_DNS_UDP", "53"},
      {"MY_SVC_PORT", "tcp://10.0.0.7:8080"},
      {"MY_SVC_PORT_8080_TCP", "tcp://10.0.0.7:8080"},
      {"MY_SVC_PORT_8080_TCP_PROTO", "tcp"},
      {"MY_SVC_PORT_8080_TCP_PORT", "8080"},
      {"MY_SVC_PORT_8080_TCP_ADDR", "10.0.0.7"},
      {"MY_SVC_PORT_53_UDP", "udp://10.0.0.7:53"},
      {"MY_SVC_PORT_53_UDP_PROTO", "udp"},
      {"MY_SVC_PORT_53_UDP_PORT", "53"},
      {"MY_SVC_PORT_53_UDP_ADDR", "10.0.0.7"},
  };
  EXPECT_EQ(envVarsFromServices({s.get()}), want);
}

TEST(ServiceEnvTest, EmptyProtocolIsTcp) {
  auto s = svc("ns", "a", "10.0.0.1", {{"web", "", 80}});
  EnvList got = envVarsFromServices({s.get()});
  EnvList want = {
      {"A_SERVICE_HOST", "10.0.0.1"},         {"A_SERVICE_PORT", "80"},
      {"A_SERVICE_PORT_WEB", "80"},           {"A_PORT", "tcp://10.0.0.1:80"},
      {"A_PORT_80_TCP", "tcp://10.0.0.1:80"}, {"A_PORT_80_TCP_PROTO", "tcp"},
      {"A_PORT_80_TCP_PORT", "80"},           {"A_PORT_80_TCP_ADDR", "10.0.0.1"},
  };
  EXPECT_EQ(got, want);
}

TEST(ServiceEnvTest, NamesUpperCasedDashesToUnderscores) {
  EXPECT_EQ(serviceEnvName("redis-master"), "REDIS_MASTER");
  EXPECT_EQ(serviceEnvName("a1-b2"), "A1_B2");
  EXPECT_EQ(serviceEnvName("kubernetes"), "KUBERNETES");
}

TEST(ServiceEnvTest, ServicesWithoutClusterIPAreSkipped) {
  auto headless = svc("ns", "headless", "None", {{"", "TCP", 80}});
  auto external = svc("ns", "ext", "", {{"", "TCP", 80}});
  EXPECT_TRUE(envVarsFromServices({headless.get(), external.get()}).empty());
}

TEST(ServiceEnvTest, WhichServicesAPodSees) {
  std::vector<std::shared_ptr<const api::Service>> all = {
      svc("default", "kubernetes", "10.96.0.1", {{"https", "TCP", 443}}),
      svc("default", "other", "10.96.0.2", {{"", "TCP", 80}}),
      svc("ns", "zeta", "10.96.0.4", {{"", "TCP", 90}}),
      svc("ns", "alpha", "10.96.0.3", {{"", "TCP", 81}}),
      svc("ns", "none", "None", {{"", "TCP", 82}}),
      svc("elsewhere", "x", "10.96.0.9", {{"", "TCP", 83}}),
  };
  auto hosts = [](const EnvList& env) {
    std::vector<std::string> out;
    for (const auto& [k, v] : env) {
      if (k.ends_with("_SERVICE_HOST")) out.push_back(k + "=" + v);
    }
    return out;
  };
  struct Case {
    const char* ns;
    bool links;
    std::vector<std::string> want;
  } cases[] = {
      // Own namespace's services (sorted by name) and always default/kubernetes.
      {"ns",
       true,
       {"ALPHA_SERVICE_HOST=10.96.0.3", "KUBERNETES_SERVICE_HOST=10.96.0.1",
        "ZETA_SERVICE_HOST=10.96.0.4"}},
      // enableServiceLinks: false keeps only the master service.
      {"ns", false, {"KUBERNETES_SERVICE_HOST=10.96.0.1"}},
      {"default", true, {"KUBERNETES_SERVICE_HOST=10.96.0.1", "OTHER_SERVICE_HOST=10.96.0.2"}},
      {"default", false, {"KUBERNETES_SERVICE_HOST=10.96.0.1"}},
      {"empty", true, {"KUBERNETES_SERVICE_HOST=10.96.0.1"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(hosts(serviceLinkEnv(c.ns, c.links, all)), c.want) << c.ns << " " << c.links;
  }
}

TEST(ServiceEnvTest, OwnNamespaceKubernetesServiceReplacesMasterWithLinks) {
  std::vector<std::shared_ptr<const api::Service>> all = {
      svc("ns", "kubernetes", "10.1.1.1", {{"", "TCP", 1}}),
      svc("default", "kubernetes", "10.96.0.1", {{"https", "TCP", 443}}),
  };
  EnvList on = serviceLinkEnv("ns", true, all);
  ASSERT_FALSE(on.empty());
  EXPECT_EQ(on[0], (std::pair<std::string, std::string>{"KUBERNETES_SERVICE_HOST", "10.1.1.1"}));
  EnvList off = serviceLinkEnv("ns", false, all);
  ASSERT_FALSE(off.empty());
  EXPECT_EQ(off[0], (std::pair<std::string, std::string>{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}));
}

}  // namespace
}  // namespace agent::runtime

// The runtime manager's pod networking against a real gRPC CRI double: the managed
// /etc/hosts written under the pod dir and mounted into each container (the
// node's file for host-network pods), the pod's IPs handed to the container, DNS
// warnings as pod events, and a sandbox config error failing the sandbox with the
// kubelet's event before anything is created.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "agent/api/pod_decode.h"
#include "agent/runtime/etc_hosts.h"
#include "agent/runtime/runtime_manager.h"
#include "core/atomic_file.h"
#include "cri/grpc_runtime_client.h"
#include "network/hosts.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/fake_cri_env.h"

namespace agent::runtime {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class PodNetworkRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("pod-net");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    cri_->addImage("busybox:1.35");
    opts_ = cubelet::testing::testRuntimeOptions(dir_);
    opts_.clusterDNS = {"10.96.0.10"};
    opts_.clusterDomain = "cluster.local";
    opts_.nodeIPs = {"192.168.1.5"};
    opts_.hostsFile = dir_ + "/node-hosts";
    ASSERT_TRUE(
        core::writeFileAtomic(opts_.hostsFile, "127.0.0.1\tlocalhost\n10.1.1.1\tnode\n").ok());
    runtime_ = std::make_unique<RuntimeManager>(*client_, *client_, opts_);
  }

  std::shared_ptr<const api::Pod> pod(json specExtra, json container = json::object()) {
    container["name"] = "c";
    container["image"] = "busybox:1.35";
    json j = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u1"}}},
              {"spec", {{"nodeName", "node-1"}, {"containers", {container}}}}};
    j["spec"].update(specExtra);
    auto p = api::decodePod(j);
    EXPECT_TRUE(p.ok()) << p.status();
    api::applyPodDefaults(*p);
    return std::make_shared<const api::Pod>(std::move(*p));
  }

  SyncResult sync(std::shared_ptr<const api::Pod> p) {
    SyncRequest req;
    req.pod = p;
    req.status.uid = p->metadata.uid;
    req.actions = computePodActions(*p, req.status);
    for (size_t i : req.actions.containersToStart) req.starts.push_back({i, false});
    return runtime_->syncPod(req);
  }

  const ::runtime::v1::Mount* hostsMount(const ::runtime::v1::ContainerConfig& c) {
    for (const auto& m : c.mounts()) {
      if (m.container_path() == "/etc/hosts") return &m;
    }
    return nullptr;
  }

  std::string dir_;
  RuntimeOptions opts_;
  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  std::unique_ptr<RuntimeManager> runtime_;
};

TEST_F(PodNetworkRuntimeTest, ManagedHostsFileWrittenAndMounted) {
  auto p =
      pod({{"hostname", "db"},
           {"subdomain", "sub"},
           {"hostAliases", {{{"ip", "10.9.9.9"}, {"hostnames", {"foo", "bar"}}}}}},
          {{"env",
            {{{"name", "IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}}}});
  SyncResult res = sync(p);
  ASSERT_EQ(res.sandboxError, "");
  ASSERT_EQ(res.starts.size(), 1u);
  ASSERT_EQ(res.starts[0].reason, "") << res.starts[0].message;
  ASSERT_EQ(cri_->sandboxIds().size(), 1u);
  auto status = client_->podSandboxStatus(cri_->sandboxIds()[0], false);
  ASSERT_TRUE(status.ok());
  std::string ip = status->status().network().ip();
  ASSERT_FALSE(ip.empty());

  std::string path = opts_.rootDir + "/pods/u1/etc-hosts";
  auto content = core::readFile(path);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, network::managedHostsFile({ip}, "db", "sub.ns.svc.cluster.local",
                                                {{"10.9.9.9", {"foo", "bar"}}}));
  EXPECT_THAT(*content, HasSubstr(ip + "\tdb.sub.ns.svc.cluster.local\tdb"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  auto config = cri_->containerConfig(cri_->containerIds()[0]);
  ASSERT_TRUE(config.has_value());
  const auto* m = hostsMount(*config);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->host_path(), path);
  EXPECT_FALSE(m->readonly());
  std::map<std::string, std::string> env;
  for (const auto& kv : config->envs()) env[kv.key()] = kv.value();
  EXPECT_EQ(env["IP"], ip);
  EXPECT_EQ(cri_->sandboxConfig(cri_->sandboxIds()[0])->hostname(), "db");
}

TEST_F(PodNetworkRuntimeTest, HostNetworkPodGetsTheNodeHostsFileAndIP) {
  auto p =
      pod({{"hostNetwork", true}, {"hostAliases", {{{"ip", "10.9.9.9"}, {"hostnames", {"foo"}}}}}},
          {{"env",
            {{{"name", "IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}}}});
  SyncResult res = sync(p);
  ASSERT_EQ(res.sandboxError, "");
  ASSERT_EQ(res.starts.size(), 1u);
  ASSERT_EQ(res.starts[0].reason, "") << res.starts[0].message;
  auto content = core::readFile(opts_.rootDir + "/pods/u1/etc-hosts");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, network::hostNetworkHostsFile("127.0.0.1\tlocalhost\n10.1.1.1\tnode\n",
                                                    {{"10.9.9.9", {"foo"}}}));
  auto config = cri_->containerConfig(cri_->containerIds()[0]);
  ASSERT_TRUE(config.has_value());
  ASSERT_NE(hostsMount(*config), nullptr);
  std::map<std::string, std::string> env;
  for (const auto& kv : config->envs()) env[kv.key()] = kv.value();
  EXPECT_EQ(env["IP"], "192.168.1.5");
  EXPECT_EQ(cri_->sandboxConfig(cri_->sandboxIds()[0])->hostname(), "");
}

TEST_F(PodNetworkRuntimeTest, MissingNodeHostsFileFailsTheContainerNotThePod) {
  opts_.hostsFile = dir_ + "/no-such-hosts";
  runtime_ = std::make_unique<RuntimeManager>(*client_, *client_, opts_);
  SyncResult res = sync(pod({{"hostNetwork", true}}));
  ASSERT_EQ(res.sandboxError, "");
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, kCreateContainerConfigError);
  EXPECT_THAT(res.starts[0].message, HasSubstr(opts_.hostsFile));
  EXPECT_TRUE(cri_->containerIds().empty());
}

TEST_F(PodNetworkRuntimeTest, InvalidHostnameFailsTheSandboxWithTheKubeletEvent) {
  SyncResult res = sync(pod({{"hostname", "Bad_Name"}}));
  EXPECT_THAT(res.sandboxError,
              HasSubstr("CreatePodSandboxError: Failed to generate sandbox config for pod "
                        "\"p_ns(u1)\": pod Hostname \"Bad_Name\" is not a valid DNS label"));
  bool found = false;
  for (const auto& e : res.events) {
    if (e.event.reason != "FailedCreatePodSandBox") continue;
    found = true;
    EXPECT_TRUE(e.event.warning);
    EXPECT_EQ(e.container, "");
    EXPECT_THAT(e.event.message,
                HasSubstr("Failed to create pod sandbox: pod Hostname \"Bad_Name\""));
  }
  EXPECT_TRUE(found);
  // Nothing half-created: no sandbox, no container, no log directory, no hosts file.
  EXPECT_EQ(cri_->callCount("RunPodSandbox"), 0);
  EXPECT_TRUE(res.starts.empty());
  struct stat st {};
  EXPECT_NE(::stat((opts_.podLogsDir + "/ns_p_u1").c_str(), &st), 0);
  EXPECT_NE(::stat((opts_.rootDir + "/pods/u1/etc-hosts").c_str(), &st), 0);
}

TEST_F(PodNetworkRuntimeTest, RunPodSandboxFailureGetsTheKubeletEvent) {
  cri_->failWith("RunPodSandbox", grpc::Status(grpc::StatusCode::UNKNOWN, "cni plugin failed"));
  SyncResult res = sync(pod(json::object()));
  EXPECT_THAT(res.sandboxError, HasSubstr("CreatePodSandboxError: Failed to create sandbox for "
                                          "pod \"p_ns(u1)\": "));
  EXPECT_THAT(res.sandboxError, HasSubstr("cni plugin failed"));
  bool found = false;
  for (const auto& e : res.events) {
    if (e.event.reason == "FailedCreatePodSandBox") {
      found = true;
      EXPECT_THAT(e.event.message, HasSubstr("Failed to create pod sandbox: "));
      EXPECT_THAT(e.event.message, HasSubstr("cni plugin failed"));
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(PodNetworkRuntimeTest, DnsWarningsBecomePodEvents) {
  opts_.clusterDNS.clear();
  runtime_ = std::make_unique<RuntimeManager>(*client_, *client_, opts_);
  SyncResult res = sync(pod(json::object()));
  ASSERT_EQ(res.sandboxError, "");
  int missing = 0;
  for (const auto& e : res.events) {
    if (e.event.reason == "MissingClusterDNS") {
      ++missing;
      EXPECT_TRUE(e.event.warning);
      EXPECT_EQ(e.container, "");
    }
  }
  // Once per sync, though the config serves both the sandbox and the container.
  EXPECT_EQ(missing, 1);
}

TEST_F(PodNetworkRuntimeTest, PortMappingsReachTheSandbox) {
  auto p = pod(json::object(), {{"ports",
                                 {{{"containerPort", 80}, {"hostPort", 8080}},
                                  {{"containerPort", 53}, {"protocol", "UDP"}}}}});
  SyncResult res = sync(p);
  ASSERT_EQ(res.sandboxError, "");
  auto config = cri_->sandboxConfig(cri_->sandboxIds()[0]);
  ASSERT_TRUE(config.has_value());
  ASSERT_EQ(config->port_mappings_size(), 2);
  EXPECT_EQ(config->port_mappings(0).host_port(), 8080);
  EXPECT_EQ(config->port_mappings(0).container_port(), 80);
  EXPECT_EQ(config->port_mappings(1).protocol(), ::runtime::v1::UDP);
  EXPECT_EQ(config->port_mappings(1).host_port(), 0);
}

TEST(EtcHostsTest, MountDecision) {
  api::Container c;
  c.name = "c";
  EXPECT_FALSE(shouldMountEtcHosts(c, {}));
  EXPECT_TRUE(shouldMountEtcHosts(c, {"10.0.0.1"}));
  c.volumeMounts.push_back(api::VolumeMount{.name = "v", .mountPath = "/etc/hostsx"});
  EXPECT_TRUE(shouldMountEtcHosts(c, {"10.0.0.1"}));
  c.volumeMounts.push_back(api::VolumeMount{.name = "h", .mountPath = "/etc/hosts"});
  EXPECT_FALSE(shouldMountEtcHosts(c, {"10.0.0.1"}));
}

TEST(EtcHostsTest, NoFileWithoutPodIPs) {
  char tmpl[] = "/tmp/etc-hosts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  RuntimeOptions o;
  o.rootDir = root;
  api::Pod p;
  p.metadata.uid = "u9";
  api::Container c;
  auto m = ensureEtcHostsMount(p, c, {}, network::PodHostname{"h", ""}, o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->has_value());
  struct stat st {};
  EXPECT_NE(::stat(etcHostsFile(root, "u9").c_str(), &st), 0);
  m = ensureEtcHostsMount(p, c, {"10.0.0.1", "fd00::1"}, network::PodHostname{"h", ""}, o);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  auto content = core::readFile(etcHostsFile(root, "u9"));
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, network::managedHostsFile({"10.0.0.1", "fd00::1"}, "h", "", {}));
  EXPECT_TRUE(core::removeAll(root).ok());
}

}  // namespace
}  // namespace agent::runtime

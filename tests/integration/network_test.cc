// Pod networking on real containerd with the real CNI plugins from Debian, all inside
// the binary's own network namespace (tests/support/integration_main.cc): pod IPs from
// the pod CIDR and pod-to-pod traffic, a pod reaching the node through the bridge
// gateway, a hostPort reached from a second namespace over a veth pair, the exact
// resolv.conf, /etc/hosts and hostname the kubelet gives each DNS policy, the conflist
// following the pod CIDR (flag and API), and the bad inputs: a missing plugin, a
// malformed or overlapping CIDR, a hostPort conflict, DNS over the kubelet's limits and
// an add-on whose plugin fails. Events come from cubelet's -v=3 log (standalone) or
// the fake API server (cluster).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "network/cni_config.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/logged_events.h"
#include "tests/support/net_checks.h"
#include "tests/support/volume_checks.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kPodCidr[] = "10.77.0.0/24";
constexpr char kGateway[] = "10.77.0.1";

std::string readHostFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string conflistPath() { return containerd().cniConfDir() + "/" + network::kCniConfigFile; }

constexpr char kHostsHead[] =
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n";

// Every test starts and ends on a node with no pod network: the tests of this
// binary share one network namespace, bridge, host-local store and CNI config dir.
template <typename Base>
class NetworkFixture : public Base {
 protected:
  void SetUp() override {
    Base::SetUp();
    resetPodNetwork(containerd().cniConfDir(), network::kDefaultBridge, network::kCniNetworkName);
  }
  void TearDown() override {
    if (this->cubelet_ && this->cubelet_->running()) {
      auto rc = this->cubelet_->stop();
      EXPECT_TRUE(rc.ok()) << rc.status();
      if (rc.ok()) {
        EXPECT_EQ(*rc, 0) << "cubelet exit status";
      }
    }
    // Sandboxes made under a broken add-on config cannot be torn down with it.
    replaceForeignCniConfigs(containerd().cniConfDir(), network::kCniConfigFile);
    Base::TearDown();
    resetPodNetwork(containerd().cniConfDir(), network::kDefaultBridge, network::kCniNetworkName);
  }

  // Stops cubelet (expecting a clean exit) so that it can start again with other flags.
  void stopCubelet() {
    auto rc = this->cubelet_->stop();
    ASSERT_TRUE(rc.ok()) << rc.status();
    EXPECT_EQ(*rc, 0) << "cubelet exit status";
    this->cubelet_.reset();
  }

  // Runs `script` in the container until its stdout contains `want`.
  ExecResult waitForOutput(const std::string& id, const std::string& script,
                           const std::string& want, std::chrono::milliseconds timeout = 20s) {
    ExecResult r;
    pollUntil(
        [&] {
          r = shIn(*this->cri_, id, script);
          return r.ok && absl::StrContains(r.out, want);
        },
        timeout);
    return r;
  }

  bool waitForConflist(const std::string& cidr, std::chrono::milliseconds timeout = 20s) {
    return pollUntil(
        [&] { return absl::StrContains(readHostFile(conflistPath()), "\"" + cidr + "\""); },
        timeout);
  }
};

class NetworkStandalone : public NetworkFixture<AgentTest> {
 protected:
  // --v=3: cubelet logs the events it records.
  void start(std::vector<std::string> flags) {
    flags.push_back("--v=3");
    startCubelet(std::move(flags));
  }
  void writePod(const std::string& name, const std::string& yaml) {
    cubelet_->writeManifest(name + ".yaml", absl::StrReplaceAll(yaml, {{"IMAGE", kBusyboxImage}}));
  }
  // A plain pod (one `main` container running `command`) with `extraSpec` lines.
  void writeSimplePod(const std::string& name, const std::string& command,
                      const std::string& extraSpec = "") {
    cubelet_->writeManifest(name + ".yaml", podManifest(name, command, "Always", extraSpec));
  }
  // status.podIP of a static pod once it has one ("" after the timeout).
  std::string waitForPodIP(const std::string& name, std::chrono::milliseconds timeout = 60s) {
    std::string ip;
    cubelet_->waitForPod(
        name,
        [&](const std::optional<json>& p) {
          if (p && (*p)["status"].contains("podIP")) ip = (*p)["status"]["podIP"];
          return !ip.empty();
        },
        timeout);
    EXPECT_FALSE(ip.empty()) << name << " got no podIP: " << describePod(name);
    return ip;
  }
  std::string describePod(const std::string& name) {
    auto p = cubelet_->pod(name);
    return p ? p->dump() : "(no such pod)";
  }
  std::vector<LoggedEvent> events(const std::string& pod, const std::string& reason,
                                  const std::string& ns = "default") {
    return loggedEvents(cubelet_->log(), ns + "/" + pod + "-it-node", reason);
  }
  // The first Warning event of `pod` with `reason` whose message contains `part`.
  std::optional<LoggedEvent> waitForEvent(const std::string& pod, const std::string& reason,
                                          const std::string& part,
                                          std::chrono::milliseconds timeout = 30s) {
    std::optional<LoggedEvent> found;
    pollUntil(
        [&] {
          for (const auto& e : events(pod, reason)) {
            if (e.type == "Warning" && absl::StrContains(e.message, part)) found = e;
          }
          return found.has_value();
        },
        timeout);
    return found;
  }
  // Waits for a line of cubelet's log that contains every one of `parts`.
  bool waitForLogLine(const std::vector<std::string>& parts,
                      std::chrono::milliseconds timeout = 10s) {
    return pollUntil(
        [&] {
          std::vector<std::string> lines = absl::StrSplit(cubelet_->log(), '\n');
          return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
            return std::all_of(parts.begin(), parts.end(),
                               [&](const std::string& p) { return absl::StrContains(line, p); });
          });
        },
        timeout);
  }
  // The network is not ready: host-network pods run, the others get NetworkNotReady
  // and no sandbox (the kubelet does not even try), and no conflist is written.
  void expectNetworkNotReadyButHostNetworkRuns() {
    writeSimplePod("hn", "sleep 3600", "  hostNetwork: true\n");
    writeSimplePod("pn", "sleep 3600");
    EXPECT_TRUE(cubelet_->waitForPhase("hn", "Running", 60s)) << describePod("hn");
    auto e = waitForEvent("pn", "NetworkNotReady", "network is not ready");
    EXPECT_TRUE(e.has_value()) << describeEvents(loggedEvents(cubelet_->log()));
    EXPECT_EQ((*cubelet_->pod("pn"))["status"].value("phase", ""), "Pending") << describePod("pn");
    EXPECT_TRUE(sandboxesOf("pn-it-node").empty());
    EXPECT_FALSE(fs::exists(conflistPath())) << readHostFile(conflistPath());
  }
};

// ---------------------------------------------------------------------------
// Traffic.

TEST_F(NetworkStandalone, TwoPodsGetIpsFromThePodCidrAndReachEachOther) {
  start({std::string("--pod-cidr=") + kPodCidr});
  ASSERT_TRUE(waitForConflist(kPodCidr)) << readHostFile(conflistPath());
  writeSimplePod("server", httpdCommand("served-by-server"), "");
  writeSimplePod("client", "sleep 3600");
  std::string serverIP = waitForPodIP("server");
  std::string clientIP = waitForPodIP("client");
  EXPECT_TRUE(ipv4InCidr(serverIP, kPodCidr)) << serverIP;
  EXPECT_TRUE(ipv4InCidr(clientIP, kPodCidr)) << clientIP;
  EXPECT_NE(serverIP, clientIP);
  EXPECT_NE(serverIP, kGateway);
  json server = *cubelet_->pod("server");
  EXPECT_EQ(server["status"]["podIPs"], json::array({{{"ip", serverIP}}})) << server.dump();

  std::string client = runningContainer("client-it-node");
  ASSERT_FALSE(client.empty());
  // The pod's eth0 holds the address cubelet reports.
  ExecResult addr = shIn(*cri_, client, "ip -4 -o addr show dev eth0");
  EXPECT_TRUE(absl::StrContains(addr.out, " " + clientIP + "/24 ")) << addr.describe();
  ExecResult got = waitForOutput(client, httpGet(serverIP, 8080), "served-by-server");
  EXPECT_EQ(httpBody(got.out), "served-by-server\n") << got.describe();
}

TEST_F(NetworkStandalone, PodReachesAServerOnTheNodeThroughTheBridgeGateway) {
  NodeTcpServer server("hello-from-node\n");
  ASSERT_TRUE(server.listening());
  start({std::string("--pod-cidr=") + kPodCidr});
  writeSimplePod("caller", "sleep 3600");
  std::string ip = waitForPodIP("caller");
  std::string id = runningContainer("caller-it-node");
  ASSERT_FALSE(id.empty());
  ExecResult route = shIn(*cri_, id, "ip route show default");
  EXPECT_TRUE(absl::StartsWith(route.out, std::string("default via ") + kGateway + " "))
      << route.describe();

  ExecResult r = waitForOutput(id,
                               "echo hello-from-pod | nc -w 3 " + std::string(kGateway) + " " +
                                   std::to_string(server.port()),
                               "hello-from-node");
  EXPECT_EQ(r.out, "hello-from-node\n") << r.describe();
  auto conn = server.waitForConnection(5s);
  ASSERT_TRUE(conn.has_value());
  EXPECT_EQ(conn->received, "hello-from-pod\n");
  // Traffic to the node is not masqueraded: the server sees the pod's own address.
  EXPECT_EQ(conn->peer, ip);
}

TEST_F(NetworkStandalone, HostPortForwardsFromAnotherNamespaceIntoThePod) {
  auto client = ClientNetns::create("itnet-client", "itnet0", "192.168.77.1/24", "192.168.77.2/24");
  ASSERT_TRUE(client.ok()) << client.status();
  start({std::string("--pod-cidr=") + kPodCidr});
  writePod("web", R"Y(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, hostPort: 30080}]
)Y");
  ASSERT_TRUE(cubelet_->waitForPhase("web", "Running", 60s)) << describePod("web");
  EXPECT_TRUE(ipv4InCidr(waitForPodIP("web"), kPodCidr));

  absl::StatusOr<CommandResult> got;
  pollUntil(
      [&] {
        got = (*client)->run(
            {"/bin/busybox", "sh", "-c", httpGet("192.168.77.1", 30080, "/bin/busybox nc")});
        return got.ok() && absl::StrContains(got->output, "via-host-port");
      },
      20s);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(httpBody(got->output), "via-host-port\n") << "exit " << got->exitCode;
  // Only the host port is forwarded, not the container port.
  auto direct = (*client)->run(
      {"/bin/busybox", "sh", "-c", httpGet("192.168.77.1", 8080, "/bin/busybox nc")});
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(direct->output.find("via-host-port"), std::string::npos) << direct->output;
}

// ---------------------------------------------------------------------------
// DNS, /etc/hosts and hostname.

TEST_F(NetworkStandalone, ResolvConfHostsAndHostnameAreTheKubeletsForEveryDnsPolicy) {
  const std::string hostResolv = dir_ + "/host-resolv.conf";
  std::ofstream(hostResolv) << "# the node's resolver\nnameserver 192.0.2.53\n"
                               "search example.test corp.test\noptions timeout:2\n";
  start({std::string("--pod-cidr=") + kPodCidr, "--cluster-dns=10.96.0.10",
         "--cluster-domain=cluster.local", "--resolv-conf=" + hostResolv});
  writePod("cf", R"Y(apiVersion: v1
kind: Pod
metadata: {name: cf, namespace: team-a}
spec:
  terminationGracePeriodSeconds: 1
  hostname: web
  subdomain: backend
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [foo.local, bar.local]}
  - {ip: 10.1.2.4, hostnames: [baz.local]}
  dnsConfig:
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers:
  - {name: main, image: IMAGE, command: ["sleep", "3600"]}
)Y");
  writePod("none", R"Y(apiVersion: v1
kind: Pod
metadata: {name: none}
spec:
  terminationGracePeriodSeconds: 1
  hostname: solo
  subdomain: grp
  setHostnameAsFQDN: true
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.10, 192.0.2.11]
    searches: [a.example, b.example]
    options: [{name: ndots, value: "1"}]
  containers:
  - {name: main, image: IMAGE, command: ["sleep", "3600"]}
)Y");
  writeSimplePod("def", "sleep 3600", "  dnsPolicy: Default\n");
  writePod("hn", R"Y(apiVersion: v1
kind: Pod
metadata: {name: hn}
spec:
  terminationGracePeriodSeconds: 1
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  hostAliases:
  - {ip: 10.9.9.9, hostnames: [alias.hn]}
  containers:
  - {name: main, image: IMAGE, command: ["sleep", "3600"]}
)Y");

  struct Case {
    std::string pod, ns, resolv, hostsTail, hostname;
  };
  std::string cfIP = waitForPodIP("cf");
  std::string noneIP = waitForPodIP("none");
  std::string defIP = waitForPodIP("def");
  char nodeHostname[256] = {};
  ::gethostname(nodeHostname, sizeof nodeHostname - 1);
  const std::vector<Case> cases = {
      {"cf", "team-a",
       "search team-a.svc.cluster.local svc.cluster.local cluster.local example.test corp.test\n"
       "nameserver 10.96.0.10\noptions edns0 ndots:2\n",
       cfIP + "\tweb.backend.team-a.svc.cluster.local\tweb\n"
              "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"
              "10.1.2.4\tbaz.local\n",
       "web"},
      {"none", "default",
       "search a.example b.example\nnameserver 192.0.2.10\nnameserver 192.0.2.11\n"
       "options ndots:1\n",
       noneIP + "\tsolo.grp.default.svc.cluster.local\tsolo\n",
       "solo.grp.default.svc.cluster.local"},
      {"def", "default",
       "search example.test corp.test\nnameserver 192.0.2.53\noptions timeout:2\n",
       defIP + "\tdef-it-node\n", "def-it-node"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pod);
    std::string id = runningContainer(c.pod + "-it-node");
    ASSERT_FALSE(id.empty());
    ExecResult resolv = execIn(*cri_, id, {"cat", "/etc/resolv.conf"});
    EXPECT_EQ(sortOptions(resolv.out), c.resolv) << resolv.describe();
    ExecResult hosts = execIn(*cri_, id, {"cat", "/etc/hosts"});
    EXPECT_EQ(hosts.out, kHostsHead + c.hostsTail) << hosts.describe();
    EXPECT_EQ(execIn(*cri_, id, {"hostname"}).text, c.hostname);
    // The managed file lives in the kubelet's layout.
    std::string uid = (*cubelet_->pod(c.pod))["metadata"]["uid"];
    EXPECT_EQ(readHostFile(cubelet_->rootDir() + "/pods/" + uid + "/etc-hosts"), hosts.out);
  }
  // Host network: the node's hostname and hosts file (plus aliases); ClusterFirstWithHostNet
  // gives it the cluster resolver.
  std::string hn = runningContainer("hn-it-node");
  ASSERT_FALSE(hn.empty());
  EXPECT_EQ(execIn(*cri_, hn, {"cat", "/etc/resolv.conf"}).out,
            "search default.svc.cluster.local svc.cluster.local cluster.local example.test "
            "corp.test\nnameserver 10.96.0.10\noptions ndots:5\n");
  EXPECT_EQ(execIn(*cri_, hn, {"cat", "/etc/hosts"}).out,
            "# Kubernetes-managed hosts file (host network).\n" + readHostFile("/etc/hosts") +
                "\n# Entries added by HostAliases.\n10.9.9.9\talias.hn\n");
  EXPECT_EQ(execIn(*cri_, hn, {"hostname"}).text, std::string(nodeHostname));
  EXPECT_TRUE(loggedEvents(cubelet_->log(), "team-a/cf-it-node", "DNSConfigForming").empty());
}

// ---------------------------------------------------------------------------
// The pod CIDR changes and the configuration follows.

TEST_F(NetworkStandalone, PodCidrChangeRewritesTheConflistAndNewPodsFollow) {
  start({"--pod-cidr=10.78.0.0/24"});
  ASSERT_TRUE(waitForConflist("10.78.0.0/24")) << readHostFile(conflistPath());
  writeSimplePod("before", "sleep 3600");
  EXPECT_TRUE(ipv4InCidr(waitForPodIP("before"), "10.78.0.0/24"));

  stopCubelet();
  start({"--pod-cidr=10.79.0.0/24"});
  ASSERT_TRUE(waitForConflist("10.79.0.0/24")) << readHostFile(conflistPath());
  EXPECT_FALSE(absl::StrContains(readHostFile(conflistPath()), "10.78.0.0/24"));
  writeSimplePod("after", "sleep 3600");
  std::string ip = waitForPodIP("after");
  EXPECT_TRUE(ipv4InCidr(ip, "10.79.0.0/24")) << ip;
  EXPECT_TRUE(cubelet_->waitForPhase("after", "Running", 30s)) << describePod("after");
  // The pod made before keeps running with its address.
  EXPECT_EQ((*cubelet_->pod("before"))["status"].value("phase", ""), "Running");
}

class NetworkCluster : public NetworkFixture<ClusterTest> {
 protected:
  static constexpr char kNodePath[] = "/api/v1/nodes/it-node";
  static bool nodeReady(const json& node) {
    for (const auto& c : node["status"].value("conditions", json::array())) {
      if (c["type"] == "Ready") return c["status"] == "True";
    }
    return false;
  }
  // The CIDR the API assigned to the node, once it has one.
  std::string waitForNodeCidr() {
    json node = waitForObject(
        kNodePath, [](const json& n) { return !n["spec"].value("podCIDR", "").empty(); });
    return node["spec"].value("podCIDR", "");
  }
};

TEST_F(NetworkCluster, NodePodCidrFromTheApiDrivesTheConflistAndReadiness) {
  startJoined({"--v=3"});
  std::string cidr = waitForNodeCidr();
  ASSERT_FALSE(cidr.empty());
  EXPECT_TRUE(absl::EndsWith(cidr, "/24") &&
              ipv4InCidr(cidr.substr(0, cidr.find('/')), kClusterCidr))
      << cidr;
  ASSERT_TRUE(waitForConflist(cidr)) << readHostFile(conflistPath());
  json node = waitForObject(kNodePath, nodeReady);
  EXPECT_TRUE(nodeReady(node)) << node["status"].dump();

  createPod(podObject("p", "sleep 3600"));
  json pod = waitForPodPhase("p", "Running");
  std::string ip = pod["status"].value("podIP", "");
  EXPECT_TRUE(ipv4InCidr(ip, cidr)) << ip << " not in " << cidr;
  EXPECT_EQ(pod["status"]["podIPs"], json::array({{{"ip", ip}}})) << pod["status"].dump();
}

// ---------------------------------------------------------------------------
// Bad input.

TEST_F(NetworkStandalone, MissingPortmapPluginKeepsTheNetworkNotReady) {
  const std::string bin = dir_ + "/cni-bin";
  ASSERT_TRUE(pluginDirWithout("/usr/lib/cni", bin, "portmap").ok());
  start({"--cni-bin-dir=" + bin, std::string("--pod-cidr=") + kPodCidr});
  EXPECT_TRUE(waitForLogLine({"portmap", bin})) << "no log line names portmap and " << bin;
  expectNetworkNotReadyButHostNetworkRuns();
}

TEST_F(NetworkStandalone, MalformedPodCidrRunsDegradedWithAClearError) {
  start({"--pod-cidr=10.77.0.0/33"});
  EXPECT_TRUE(waitForLogLine({"--pod-cidr", "10.77.0.0/33"}))
      << "no log line names --pod-cidr and 10.77.0.0/33";
  expectNetworkNotReadyButHostNetworkRuns();
  EXPECT_TRUE(cubelet_->running());
}

TEST_F(NetworkStandalone, PodCidrOverlappingAHostNetworkRunsDegraded) {
  // A host interface in 10.99.0.0/24; a pod CIDR over it would steal its routes.
  ASSERT_TRUE(hostSh("ip link add itnetov0 type veth peer name itnetov1 && "
                     "ip addr add 10.99.0.1/24 dev itnetov0 && ip link set itnetov0 up")
                  .ok());
  start({"--pod-cidr=10.99.0.0/16"});
  EXPECT_TRUE(waitForLogLine({"10.99.0.0/16", "10.99.0.1/24"}))
      << "no log line names the pod CIDR and the host network it overlaps";
  expectNetworkNotReadyButHostNetworkRuns();
  (void)hostSh("ip link del itnetov0");
}

TEST_F(NetworkCluster, NodeStaysNotReadyWhileThePodNetworkIsNot) {
  const std::string bin = dir_ + "/cni-bin";
  ASSERT_TRUE(pluginDirWithout("/usr/lib/cni", bin, "bridge").ok());
  startJoined({"--v=3", "--cni-bin-dir=" + bin});
  ASSERT_FALSE(waitForNodeCidr().empty());
  // The runtime's NetworkReady=false is the node's Ready=False, as the kubelet words it.
  json node = waitForObject(kNodePath, [](const json& n) {
    for (const auto& c : n["status"].value("conditions", json::array())) {
      if (c["type"] == "Ready") {
        return c["status"] == "False" &&
               absl::StrContains(c.value("message", ""),
                                 "container runtime network not ready: NetworkReady=false "
                                 "reason:NetworkPluginNotReady");
      }
    }
    return false;
  });
  EXPECT_FALSE(nodeReady(node)) << node["status"].dump();
  createPod(podObject("p", "sleep 3600"));
  std::vector<json> events;
  EXPECT_TRUE(pollUntil(
      [&] {
        events = api_->list("/api/v1/namespaces/default/events");
        return std::any_of(events.begin(), events.end(), [](const json& e) {
          return e["involvedObject"].value("name", "") == "p" &&
                 e.value("reason", "") == "NetworkNotReady" && e.value("type", "") == "Warning";
        });
      },
      30s))
      << json(events).dump();
  EXPECT_EQ((*api_->get(podPath("p")))["status"].value("phase", "Pending"), "Pending");
  EXPECT_TRUE(sandboxesOf("p").empty());
  EXPECT_FALSE(fs::exists(conflistPath()));
}

TEST_F(NetworkCluster, HostPortConflictRejectsTheSecondPodAsNodePorts) {
  startJoined({"--v=3"});
  auto withHostPort = [&](const std::string& name) {
    json pod = podObject(name, httpdCommand(name));
    pod["spec"]["containers"][0]["ports"] =
        json::array({{{"containerPort", 8080}, {"hostPort", 30082}, {"protocol", "TCP"}}});
    return pod;
  };
  createPod(withHostPort("first"));
  waitForPodPhase("first", "Running");
  createPod(withHostPort("second"));
  json second = waitForPodPhase("second", "Failed");
  EXPECT_EQ(second["status"].value("reason", ""), "NodePorts") << second["status"].dump();
  EXPECT_TRUE(absl::StrContains(second["status"].value("message", ""), "NodePorts"))
      << second["status"].dump();
  std::vector<json> events;
  bool event = pollUntil(
      [&] {
        events = api_->list("/api/v1/namespaces/default/events");
        return std::any_of(events.begin(), events.end(), [](const json& e) {
          return e["involvedObject"].value("name", "") == "second" &&
                 e.value("reason", "") == "NodePorts" && e.value("type", "") == "Warning";
        });
      },
      15s);
  EXPECT_TRUE(event) << "no NodePorts Warning event for the rejected pod: " << json(events).dump();
  EXPECT_TRUE(sandboxesOf("second").empty());
  EXPECT_EQ((*api_->get(podPath("first")))["status"].value("phase", ""), "Running");
}

TEST_F(NetworkStandalone, DnsOverTheKubeletsLimitsIsTruncatedWithWarnings) {
  // 30 host search domains + 3 cluster ones + 2 from dnsConfig = 35 > 32; 2 cluster
  // nameservers + 2 from dnsConfig = 4 > 3.
  std::vector<std::string> hostSearch;
  for (int i = 0; i < 30; ++i) hostSearch.push_back("h" + std::to_string(i) + ".test");
  const std::string hostResolv = dir_ + "/host-resolv.conf";
  std::ofstream(hostResolv) << "nameserver 192.0.2.53\nsearch " << absl::StrJoin(hostSearch, " ")
                            << "\n";
  start({std::string("--pod-cidr=") + kPodCidr, "--cluster-dns=10.96.0.10,10.96.0.11",
         "--cluster-domain=cluster.local", "--resolv-conf=" + hostResolv});
  writePod("many", R"Y(apiVersion: v1
kind: Pod
metadata: {name: many}
spec:
  terminationGracePeriodSeconds: 1
  dnsConfig:
    nameservers: [10.0.0.1, 10.0.0.2]
    searches: [extra1.test, extra2.test]
  containers:
  - {name: main, image: IMAGE, command: ["sleep", "3600"]}
)Y");
  std::vector<std::string> applied = {"default.svc.cluster.local", "svc.cluster.local",
                                      "cluster.local"};
  applied.insert(applied.end(), hostSearch.begin(), hostSearch.begin() + 29);
  const std::string searchLine = absl::StrJoin(applied, " ");
  std::string id = runningContainer("many-it-node");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/etc/resolv.conf"}).out,
            "search " + searchLine +
                "\nnameserver 10.96.0.10\nnameserver 10.96.0.11\nnameserver 10.0.0.1\n"
                "options ndots:5\n");
  auto ns = waitForEvent("many", "DNSConfigForming",
                         "Nameserver limits were exceeded, some nameservers have been omitted, "
                         "the applied nameserver line is: 10.96.0.10 10.96.0.11 10.0.0.1");
  EXPECT_TRUE(ns.has_value()) << describeEvents(events("many", "DNSConfigForming"));
  auto search = waitForEvent("many", "DNSConfigForming",
                             "Search Line limits were exceeded, some search paths have been "
                             "omitted, the applied search line is: " +
                                 searchLine);
  EXPECT_TRUE(search.has_value()) << describeEvents(events("many", "DNSConfigForming"));
  EXPECT_TRUE(cubelet_->waitForPhase("many", "Running", 10s)) << describePod("many");
}

TEST_F(NetworkStandalone, FailingAddonPluginFailsOnlyThatPodsSandbox) {
  // A network add-on's config whose plugin does not exist: cubelet leaves the network
  // to it, and every sandbox with a pod network fails in CNI ADD.
  const std::string addon = containerd().cniConfDir() + "/05-addon.conflist";
  const std::string addonConf =
      R"({"cniVersion": "0.4.0", "name": "addon", "plugins": [{"type": "cubelet-no-such-plugin"}]})";
  std::ofstream(addon) << addonConf;
  start({std::string("--pod-cidr=") + kPodCidr});
  writeSimplePod("hn", "sleep 3600", "  hostNetwork: true\n");
  writeSimplePod("pn", "sleep 3600");
  EXPECT_TRUE(cubelet_->waitForPhase("hn", "Running", 60s)) << describePod("hn");
  auto e = waitForEvent("pn", "FailedCreatePodSandBox", "cubelet-no-such-plugin", 60s);
  EXPECT_TRUE(e.has_value()) << describeEvents(loggedEvents(cubelet_->log()));
  json pn = *cubelet_->pod("pn");
  EXPECT_EQ(pn["status"].value("phase", ""), "Pending") << pn.dump();
  EXPECT_EQ(stateSummary(containerStatus(pn, "main")), "waiting:ContainerCreating") << pn.dump();
  for (const auto& s : sandboxesOf("pn-it-node")) {
    EXPECT_NE(s.state(), runtime::v1::SANDBOX_READY) << "a sandbox of pn is up: " << s.id();
  }
  EXPECT_FALSE(fs::exists(conflistPath()));
  EXPECT_EQ(readHostFile(addon), addonConf);
}

}  // namespace
}  // namespace cubelet::testing

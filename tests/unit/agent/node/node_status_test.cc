#include "agent/node/node_status.h"

#include "agent/node/node_object.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace agent::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const core::WallTime kT0 = core::WallTime(std::chrono::seconds(1704067200));  // 2024-01-01

NodeConfigFacts config() {
  NodeConfigFacts c;
  c.nodeName = "node-a";
  c.hostname = "node-a";
  c.nodeIPs = {"192.0.2.10"};
  c.kubeletVersion = "v1.33.0";
  c.evictionHard = {{"memory.available", "100Mi"},
                    {"nodefs.available", "10%"},
                    {"imagefs.available", "15%"},
                    {"nodefs.inodesFree", "5%"}};
  return c;
}

MachineInfo machine() {
  MachineInfo m;
  m.machineID = "mid";
  m.systemUUID = "uuid";
  m.bootID = "boot";
  m.kernelVersion = "6.1.0-18-amd64";
  m.osImage = "Debian GNU/Linux 12 (bookworm)";
  m.hostname = "node-a";
  m.architecture = "amd64";
  m.memoryCapacityBytes = int64_t{8152384} * 1024;
  m.numCores = 4;
  m.ephemeralStorageBytes = 103880232960;
  return m;
}

RuntimeFacts readyRuntime() {
  RuntimeFacts f;
  f.runtimeName = "containerd";
  f.runtimeVersion = "1.6.20";
  f.statusOk = true;
  f.conditions = {{"RuntimeReady", true, "", ""}, {"NetworkReady", true, "", ""}};
  f.images = std::vector<RuntimeImage>{};
  return f;
}

struct Env {
  NodeConfigFacts cfg = config();
  MachineInfo m = machine();
  RuntimeFacts rt = readyRuntime();
  RuntimeHealth health;
  PressureFlags pressure;

  NodeStatus compute(core::WallTime now, const NodeStatus* prev = nullptr,
                     bool withRuntime = true) {
    if (withRuntime) observeRuntime(health, rt, now);
    NodeStatusInput in;
    in.config = &cfg;
    in.machine = &m;
    in.runtime = withRuntime ? &rt : nullptr;
    in.health = health;
    in.pressure = pressure;
    in.previous = prev;
    in.now = now;
    return computeNodeStatus(in);
  }
};

TEST(ResourceAmount, PrintsAsApimachinery) {
  struct Case {
    ResourceAmount a;
    std::string want;
  } cases[] = {
      {{int64_t{8152384} * 1024, false, true}, "8152384Ki"},
      {{int64_t{2} << 30, false, true}, "2Gi"},
      {{int64_t{1} << 40, false, true}, "1Ti"},
      {{0, false, true}, "0"},
      {{1000, false, true}, "1k"},  // below 1024 BinarySI prints as DecimalSI
      {{1536, false, true}, "1536"},
      {{92418467686, false, true}, "92418467686"},
      {{4000, true, false}, "4"},
      {{3700, true, false}, "3700m"},
      {{100, true, false}, "100m"},
      {{110, false, false}, "110"},
      {{1000, false, false}, "1k"},
      {{0, true, false}, "0"},
  };
  for (const auto& c : cases) EXPECT_EQ(c.a.str(), c.want) << c.a.value;
}

TEST(NodeStatus, CapacityAndDefaultAllocatable) {
  Env e;
  NodeStatus s = e.compute(kT0);
  json j = s.toJson();
  EXPECT_EQ(j["capacity"], (json{{"cpu", "4"},
                                 {"memory", "8152384Ki"},
                                 {"pods", "110"},
                                 {"ephemeral-storage", "101445540Ki"}}));
  // memory - 100Mi; ephemeral-storage - 10% computed with a float32 fraction as upstream.
  EXPECT_EQ(j["allocatable"], (json{{"cpu", "4"},
                                    {"memory", "8049984Ki"},
                                    {"pods", "110"},
                                    {"ephemeral-storage", "93492209510"}}));
}

TEST(NodeStatus, AllocatableSubtractsReservedAndEviction) {
  struct Case {
    std::string name;
    std::map<std::string, std::string> kube, system, eviction;
    std::vector<HugePageInfo> hugePages;
    json wantAllocatable;
  } cases[] = {
      {"reserved and eviction",
       {{"cpu", "100m"}, {"memory", "256Mi"}},
       {{"cpu", "200m"}, {"memory", "128Mi"}, {"ephemeral-storage", "1Gi"}, {"pid", "100"}},
       {{"memory.available", "100Mi"}, {"nodefs.available", "10%"}},
       {},
       {{"cpu", "3700m"},
        {"memory", "7656768Ki"},
        {"pods", "110"},
        {"ephemeral-storage", "92418467686"}}},
      {"no eviction thresholds",
       {},
       {},
       {},
       {},
       {{"cpu", "4"},
        {"memory", "8152384Ki"},
        {"pods", "110"},
        {"ephemeral-storage", "101445540Ki"}}},
      {"absolute nodefs threshold and never negative",
       {{"memory", "100Gi"}, {"cpu", "5"}},
       {},
       {{"nodefs.available", "1Gi"}},
       {},
       {{"cpu", "0"}, {"memory", "0"}, {"pods", "110"}, {"ephemeral-storage", "100396964Ki"}}},
      {"huge pages come out of allocatable memory",
       {},
       {},
       {{"memory.available", "100Mi"}},
       {{2 << 20, 0}, {1 << 30, 2}},
       {{"cpu", "4"},
        {"memory", "5952832Ki"},
        {"pods", "110"},
        {"ephemeral-storage", "101445540Ki"},
        {"hugepages-2Mi", "0"},
        {"hugepages-1Gi", "2Gi"}}},
  };
  for (const auto& c : cases) {
    Env e;
    e.cfg.kubeReserved = c.kube;
    e.cfg.systemReserved = c.system;
    e.cfg.evictionHard = c.eviction;
    e.m.hugePages = c.hugePages;
    json j = e.compute(kT0).toJson();
    EXPECT_EQ(j["allocatable"], c.wantAllocatable) << c.name;
    if (!c.hugePages.empty()) {
      EXPECT_EQ(j["capacity"]["hugepages-2Mi"], "0");
      EXPECT_EQ(j["capacity"]["hugepages-1Gi"], "2Gi");
    }
  }
}

TEST(NodeStatus, NodeInfoAddressesEndpointsJson) {
  Env e;
  e.cfg.nodeIPs = {"192.0.2.10", "2001:db8::10"};
  e.cfg.port = 10250;
  json j = e.compute(kT0).toJson();
  EXPECT_EQ(j["addresses"], json::parse(R"([{"type":"InternalIP","address":"192.0.2.10"},
      {"type":"InternalIP","address":"2001:db8::10"},{"type":"Hostname","address":"node-a"}])"));
  EXPECT_EQ(j["daemonEndpoints"], json::parse(R"({"kubeletEndpoint":{"Port":10250}})"));
  EXPECT_EQ(j["nodeInfo"], json::parse(R"J({"machineID":"mid","systemUUID":"uuid","bootID":"boot",
      "kernelVersion":"6.1.0-18-amd64","osImage":"Debian GNU/Linux 12 (bookworm)",
      "containerRuntimeVersion":"containerd://1.6.20","kubeletVersion":"v1.33.0",
      "kubeProxyVersion":"","operatingSystem":"linux","architecture":"amd64"})J"));
  // Without runtime facts the version is unknown.
  json k = e.compute(kT0, nullptr, false).toJson();
  EXPECT_EQ(k["nodeInfo"]["containerRuntimeVersion"], "containerd://Unknown");
}

TEST(NodeStatus, ConditionsOfAHealthyNode) {
  Env e;
  json j = e.compute(kT0).toJson();
  EXPECT_EQ(j["conditions"], json::parse(R"([
    {"type":"MemoryPressure","status":"False","lastHeartbeatTime":"2024-01-01T00:00:00Z",
     "lastTransitionTime":"2024-01-01T00:00:00Z","reason":"KubeletHasSufficientMemory",
     "message":"kubelet has sufficient memory available"},
    {"type":"DiskPressure","status":"False","lastHeartbeatTime":"2024-01-01T00:00:00Z",
     "lastTransitionTime":"2024-01-01T00:00:00Z","reason":"KubeletHasNoDiskPressure",
     "message":"kubelet has no disk pressure"},
    {"type":"PIDPressure","status":"False","lastHeartbeatTime":"2024-01-01T00:00:00Z",
     "lastTransitionTime":"2024-01-01T00:00:00Z","reason":"KubeletHasSufficientPID",
     "message":"kubelet has sufficient PID available"},
    {"type":"Ready","status":"True","lastHeartbeatTime":"2024-01-01T00:00:00Z",
     "lastTransitionTime":"2024-01-01T00:00:00Z","reason":"KubeletReady",
     "message":"kubelet is posting ready status"}])"));
}

TEST(NodeStatus, NotReadyReasons) {
  struct Case {
    std::string name;
    std::function<void(Env&)> setup;
    bool withRuntime = true;
    std::string wantMessage;
  } cases[] = {
      {"no runtime status yet", [](Env&) {}, false,
       "container runtime status check may not have completed yet"},
      {"network not ready",
       [](Env& e) {
         e.rt.conditions[1] = {"NetworkReady", false, "NetworkPluginNotReady",
                               "Network plugin returns error: cni plugin not initialized"};
       },
       true,
       "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
       "message:Network plugin returns error: cni plugin not initialized"},
      {"runtime and network not ready",
       [](Env& e) {
         e.rt.conditions = {{"RuntimeReady", false, "Broken", "it broke"}};
       },
       true,
       "[container runtime status check may not have completed yet, container runtime not "
       "ready: RuntimeReady=false reason:Broken message:it broke, container runtime network "
       "not ready: <nil>]"},
      {"no ephemeral-storage capacity", [](Env& e) { e.m.ephemeralStorageBytes.reset(); }, true,
       "missing node capacity for resources: ephemeral-storage"},
  };
  for (auto& c : cases) {
    Env e;
    c.setup(e);
    NodeStatus s = e.compute(kT0, nullptr, c.withRuntime);
    const NodeCondition* ready = s.condition("Ready");
    ASSERT_NE(ready, nullptr) << c.name;
    EXPECT_EQ(ready->status, "False") << c.name;
    EXPECT_EQ(ready->reason, "KubeletNotReady") << c.name;
    EXPECT_EQ(ready->message, c.wantMessage) << c.name;
  }
}

TEST(NodeStatus, RuntimeIsDownWhenStatusStopsAnswering) {
  Env e;
  NodeStatus s0 = e.compute(kT0);
  EXPECT_EQ(s0.condition("Ready")->status, "True");
  // Status calls fail from now on: ready while the last good one is recent...
  e.rt.statusOk = false;
  NodeStatus s1 = e.compute(kT0 + 20s, &s0);
  EXPECT_EQ(s1.condition("Ready")->status, "True");
  // ...down after 30 s without one.
  NodeStatus s2 = e.compute(kT0 + 30s, &s1);
  EXPECT_EQ(s2.condition("Ready")->status, "False");
  EXPECT_EQ(s2.condition("Ready")->message, "container runtime is down");
  EXPECT_EQ(s2.condition("Ready")->lastTransitionTime, kT0 + 30s);
  // Recovered.
  e.rt.statusOk = true;
  NodeStatus s3 = e.compute(kT0 + 40s, &s2);
  EXPECT_EQ(s3.condition("Ready")->status, "True");
  EXPECT_EQ(s3.condition("Ready")->lastTransitionTime, kT0 + 40s);
}

TEST(NodeStatus, TransitionTimesMoveOnlyOnFlips) {
  Env e;
  NodeStatus s0 = e.compute(kT0);
  NodeStatus s1 = e.compute(kT0 + 10s, &s0);
  for (const auto& c : s1.conditions) {
    EXPECT_EQ(c.lastHeartbeatTime, kT0 + 10s) << c.type;
    EXPECT_EQ(c.lastTransitionTime, kT0) << c.type;
  }
  e.pressure.memory = true;
  e.pressure.pid = true;
  NodeStatus s2 = e.compute(kT0 + 20s, &s1);
  const NodeCondition* mem = s2.condition("MemoryPressure");
  EXPECT_EQ(mem->status, "True");
  EXPECT_EQ(mem->reason, "KubeletHasInsufficientMemory");
  EXPECT_EQ(mem->message, "kubelet has insufficient memory available");
  EXPECT_EQ(mem->lastTransitionTime, kT0 + 20s);
  const NodeCondition* pid = s2.condition("PIDPressure");
  EXPECT_EQ(pid->reason, "KubeletHasInsufficientPID");
  EXPECT_EQ(pid->message, "kubelet has insufficient PID available");
  EXPECT_EQ(s2.condition("DiskPressure")->lastTransitionTime, kT0);
  e.pressure.disk = true;
  NodeStatus s3 = e.compute(kT0 + 30s, &s2);
  EXPECT_EQ(s3.condition("DiskPressure")->reason, "KubeletHasDiskPressure");
  EXPECT_EQ(s3.condition("DiskPressure")->message, "kubelet has disk pressure");
  EXPECT_EQ(s3.condition("MemoryPressure")->lastTransitionTime, kT0 + 20s);
  EXPECT_EQ(s3.condition("Ready")->lastTransitionTime, kT0);
}

TEST(NodeStatus, ConditionOrderOfThePreviousStatusIsKept) {
  Env e;
  NodeStatus prev = e.compute(kT0);
  std::reverse(prev.conditions.begin(), prev.conditions.end());
  NodeStatus s = e.compute(kT0 + 10s, &prev);
  ASSERT_EQ(s.conditions.size(), 4u);
  EXPECT_EQ(s.conditions[0].type, "Ready");
  EXPECT_EQ(s.conditions[3].type, "MemoryPressure");
}

TEST(NodeStatus, ImagesBiggestFirstCappedWithDigestsBeforeTags) {
  Env e;
  std::vector<RuntimeImage> imgs;
  for (int i = 0; i < 60; ++i) {
    RuntimeImage img;
    img.sizeBytes = (i * 37) % 60 * 1000 + 1;  // a permutation of sizes
    img.repoTags = {absl::StrCat("example.com/img", i, ":v1")};
    img.repoDigests = {absl::StrCat("example.com/img", i, "@sha256:", i)};
    imgs.push_back(img);
  }
  RuntimeImage many;
  many.sizeBytes = 10'000'000;
  many.repoTags = {"t1", "t2", "t3", "t4"};
  many.repoDigests = {"d1", "d2"};
  imgs.push_back(many);
  e.rt.images = imgs;
  NodeStatus s = e.compute(kT0);
  ASSERT_EQ(s.images.size(), 50u);
  EXPECT_EQ(s.images[0].names, (std::vector<std::string>{"d1", "d2", "t1", "t2", "t3"}));
  EXPECT_EQ(s.images[0].sizeBytes, 10'000'000);
  EXPECT_EQ(s.images[1].sizeBytes, 59001);
  for (size_t i = 1; i < s.images.size(); ++i) {
    EXPECT_GE(s.images[i - 1].sizeBytes, s.images[i].sizeBytes);
  }
  EXPECT_EQ(s.images.back().sizeBytes, 11001);
  EXPECT_EQ(s.images[1].names.size(), 2u);
  EXPECT_NE(s.images[1].names[0].find("@sha256:"), std::string::npos);
  json j = s.toJson();
  EXPECT_EQ(j["images"][0],
            json::parse(R"({"names":["d1","d2","t1","t2","t3"],"sizeBytes":10000000})"));

  e.cfg.nodeStatusMaxImages = -1;
  EXPECT_EQ(e.compute(kT0).images.size(), 61u);
}

TEST(NodeStatus, ChangedIgnoresOnlyHeartbeats) {
  Env e;
  NodeStatus s0 = e.compute(kT0);
  NodeStatus s1 = e.compute(kT0 + 10s, &s0);
  EXPECT_FALSE(statusChanged(s0, s1));
  EXPECT_FALSE(s0 == s1);

  struct Case {
    std::string name;
    std::function<void(NodeStatus&)> mutate;
  } cases[] = {
      {"transition time", [](NodeStatus& s) { s.conditions[0].lastTransitionTime += 1s; }},
      {"condition status", [](NodeStatus& s) { s.conditions[3].status = "False"; }},
      {"condition missing", [](NodeStatus& s) { s.conditions.pop_back(); }},
      {"allocatable", [](NodeStatus& s) { s.allocatable["memory"].value -= 1; }},
      {"capacity", [](NodeStatus& s) { s.capacity["pods"].value = 10; }},
      {"address", [](NodeStatus& s) { s.addresses[0].address = "192.0.2.11"; }},
      {"boot id", [](NodeStatus& s) { s.nodeInfo.bootID = "other"; }},
      {"images",
       [](NodeStatus& s) {
         s.images.push_back({{"x"}, 1});
       }},
      {"port", [](NodeStatus& s) { s.kubeletPort = 1; }},
  };
  for (const auto& c : cases) {
    NodeStatus m = s1;
    c.mutate(m);
    EXPECT_TRUE(statusChanged(s0, m)) << c.name;
  }
}

TEST(NodeObject, LabelsTaintsAnnotations) {
  NodeConfigFacts cfg = config();
  cfg.nodeLabels = {{"node-role.kubernetes.io/edge", ""}, {"kubernetes.io/arch", "custom"}};
  cfg.registerWithTaints = {{"dedicated", "edge", "NoSchedule"}, {"gpu", "", "NoExecute"}};
  Env e;
  json node = initialNodeJson(cfg, "amd64", e.compute(kT0));
  EXPECT_EQ(node["apiVersion"], "v1");
  EXPECT_EQ(node["kind"], "Node");
  EXPECT_EQ(node["metadata"]["name"], "node-a");
  EXPECT_EQ(node["metadata"]["labels"], json::parse(R"({"kubernetes.io/hostname":"node-a",
      "kubernetes.io/os":"linux","kubernetes.io/arch":"custom","beta.kubernetes.io/os":"linux",
      "beta.kubernetes.io/arch":"amd64","node-role.kubernetes.io/edge":""})"));
  EXPECT_EQ(node["metadata"]["annotations"],
            json::parse(R"({"volumes.kubernetes.io/controller-managed-attach-detach":"true"})"));
  EXPECT_EQ(node["spec"]["taints"], json::parse(R"([{"key":"dedicated","value":"edge",
      "effect":"NoSchedule"},{"key":"gpu","effect":"NoExecute"}])"));
  EXPECT_FALSE(node["spec"].contains("unschedulable"));
  EXPECT_EQ(node["status"]["nodeInfo"]["architecture"], "amd64");
  EXPECT_EQ(node["status"]["conditions"].size(), 4u);

  NodeConfigFacts plain = config();
  json p = initialNodeJson(plain, "arm64", e.compute(kT0));
  EXPECT_FALSE(p["spec"].contains("taints"));
  EXPECT_EQ(p["metadata"]["labels"]["kubernetes.io/arch"], "arm64");
}

TEST(NodeObject, ReconcileExistingNode) {
  NodeConfigFacts cfg = config();
  cfg.nodeLabels = {{"topology.kubernetes.io/zone", "z1"}, {"team", "a"}};
  api::ObjectMeta existing;
  existing.name = "node-a";
  existing.labels = {{"kubernetes.io/hostname", "old-name"},
                     {"kubernetes.io/os", "linux"},
                     {"beta.kubernetes.io/os", "linux"},
                     {"beta.kubernetes.io/arch", "amd64"},
                     {"team", "b"}};
  auto patch = reconcileExistingNode(cfg, "amd64", existing);
  ASSERT_TRUE(patch.has_value());
  // Only the kubelet's default labels are reconciled; "team" stays as the cluster has it.
  EXPECT_EQ(*patch, json::parse(R"({"metadata":{
      "labels":{"kubernetes.io/hostname":"node-a","kubernetes.io/arch":"amd64",
                "topology.kubernetes.io/zone":"z1"},
      "annotations":{"volumes.kubernetes.io/controller-managed-attach-detach":"true"}}})"));

  existing.labels = initialLabels(cfg, "amd64");
  existing.labels["team"] = "b";
  existing.annotations = {{kAnnotationControllerManagedAttach, "true"}, {"other", "x"}};
  EXPECT_FALSE(reconcileExistingNode(cfg, "amd64", existing).has_value());

  // An empty default label we own is removed; attach-detach off removes the annotation.
  cfg.nodeLabels = {{"topology.kubernetes.io/zone", ""}};
  cfg.controllerAttachDetach = false;
  existing.labels["topology.kubernetes.io/zone"] = "z1";
  patch = reconcileExistingNode(cfg, "amd64", existing);
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ(*patch, json::parse(R"({"metadata":{
      "labels":{"topology.kubernetes.io/zone":null},
      "annotations":{"volumes.kubernetes.io/controller-managed-attach-detach":null}}})"));
}

TEST(NodeConfigFacts, FromAgentConfig) {
  config::AgentConfig c;
  c.nodeName = "n1";
  c.nodeIP = "10.0.0.1,fd00::1";
  c.nodeLabels = {{"a", "b"}};
  c.maxPods = 30;
  c.port = 10251;
  NodeConfigFacts f = nodeConfigFacts(c, "192.0.2.1", "v1.33.0");
  EXPECT_EQ(f.nodeIPs, (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  EXPECT_EQ(f.hostname, "n1");
  EXPECT_EQ(f.maxPods, 30);
  EXPECT_EQ(f.port, 10251);
  EXPECT_EQ(f.evictionHard.at("memory.available"), "100Mi");
  c.nodeIP = "";
  EXPECT_EQ(nodeConfigFacts(c, "192.0.2.1", "v1").nodeIPs, (std::vector<std::string>{"192.0.2.1"}));
}

}  // namespace
}  // namespace agent::node

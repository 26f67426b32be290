// cubelet joined to a (fake) API server, running pods on the private containerd:
// registration and Ready, the Lease, pods from the API with their status, graceful
// deletion, mirror pods of static pods, env from ConfigMaps/Secrets/Services,
// admission, an API outage, watch expiry, and the Node authorizer's rules
// (ClusterTest fails any test that made a request the authorizer denied).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "tests/support/cluster_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const json* findCondition(const json& obj, const std::string& type) {
  if (!obj.contains("status") || !obj["status"].contains("conditions")) return nullptr;
  for (const auto& c : obj["status"]["conditions"]) {
    if (c.value("type", "") == type) return &c;
  }
  return nullptr;
}

bool conditionTrue(const json& obj, const std::string& type) {
  const json* c = findCondition(obj, type);
  return c && c->value("status", "") == "True";
}

std::string containerState(const json& pod, const std::string& name) {
  if (!pod.contains("status")) return "";
  for (const auto& cs : pod["status"].value("containerStatuses", json::array())) {
    if (cs.value("name", "") != name) continue;
    for (const auto& [k, v] : cs["state"].items()) return k;
  }
  return "";
}

using Cluster = ClusterTest;

TEST_F(Cluster, RegistersNodeReadyWithLeaseAndRunsAnApiPod) {
  startJoined();
  json node = waitForObject("/api/v1/nodes/it-node",
                            [](const json& n) { return conditionTrue(n, "Ready"); });
  EXPECT_EQ(node["metadata"]["labels"].value("kubernetes.io/hostname", ""), "it-node");
  EXPECT_EQ(node["metadata"]["labels"].value("kubernetes.io/os", ""), "linux");
  EXPECT_EQ(node["status"]["capacity"].value("pods", ""), "110");
  EXPECT_TRUE(node["status"]["allocatable"].contains("memory"));
  EXPECT_EQ(
      node["status"]["nodeInfo"].value("containerRuntimeVersion", "").rfind("containerd://", 0),
      0u);
  // --port (the test cubelets get a free one instead of 10250).
  EXPECT_EQ(node["status"]["daemonEndpoints"]["kubeletEndpoint"].value("Port", 0),
            cubelet_->apiPort());
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure"}) {
    const json* c = findCondition(node, t);
    ASSERT_NE(c, nullptr) << t;
    EXPECT_EQ(c->value("status", ""), "False") << t;
  }
  json lease =
      waitForObject("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/it-node",
                    [](const json& l) { return l.contains("spec"); });
  EXPECT_EQ(lease["spec"].value("holderIdentity", ""), "it-node");
  EXPECT_EQ(lease["spec"].value("leaseDurationSeconds", 0), 40);

  createPod(podObject("web", "echo hello; sleep 3600"));
  json pod = waitForPodPhase("web", "Running");
  EXPECT_EQ(pod["status"].value("hostIP", ""), "127.0.0.1");
  EXPECT_FALSE(pod["status"].value("podIP", "").empty());
  EXPECT_EQ(containerState(pod, "main"), "running");
  auto cs = pod["status"]["containerStatuses"][0];
  EXPECT_EQ(cs.value("containerID", "").rfind("containerd://", 0), 0u);
  EXPECT_TRUE(cs.value("ready", false));
  EXPECT_EQ(pod["status"].value("qosClass", ""), "BestEffort");
  EXPECT_EQ(containersOf("web").size(), 1u);
  // The kubelet's events for the pod's container, from source "kubelet".
  std::set<std::string> reasons;
  for (int i = 0; i < 100 && !reasons.count("Started"); ++i) {
    for (const auto& e : api_->list("/api/v1/namespaces/default/events")) {
      if (e["involvedObject"].value("name", "") != "web") continue;
      EXPECT_EQ(e["source"].value("component", ""), "kubelet");
      // The pod itself gets only the kubelet's warning that no --cluster-dns is set.
      if (e["involvedObject"].value("fieldPath", "").empty()) {
        EXPECT_EQ(e.value("reason", ""), "MissingClusterDNS");
        continue;
      }
      EXPECT_EQ(e["involvedObject"].value("fieldPath", ""), "spec.containers{main}");
      reasons.insert(e.value("reason", ""));
    }
    if (!reasons.count("Started")) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(reasons.count("Pulled"));
  EXPECT_TRUE(reasons.count("Created"));
  EXPECT_TRUE(reasons.count("Started"));
}

TEST_F(Cluster, ReadinessProbeAndReadinessGatesReachTheApi) {
  startJoined();
  json pod = podObject("ready", "sleep 4; touch /tmp/ready; sleep 3600");
  pod["spec"]["containers"][0]["readinessProbe"] = {{"exec", {{"command", {"cat", "/tmp/ready"}}}},
                                                    {"periodSeconds", 1}};
  pod["spec"]["readinessGates"] = {{{"conditionType", "example.com/lb"}}};
  createPod(pod);
  // Running but not ready while the file is missing; the probe's failures are events.
  json running = waitForPodPhase("ready", "Running");
  EXPECT_FALSE(running["status"]["containerStatuses"][0].value("ready", true));
  EXPECT_FALSE(conditionTrue(running, "ContainersReady"));
  bool unhealthy = false;
  for (int i = 0; i < 100 && !unhealthy; ++i) {
    for (const auto& e : api_->list("/api/v1/namespaces/default/events")) {
      if (e["involvedObject"].value("name", "") == "ready" &&
          e.value("reason", "") == "Unhealthy" &&
          e.value("message", "").rfind("Readiness probe failed: ", 0) == 0) {
        unhealthy = true;
      }
    }
    if (!unhealthy) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(unhealthy);
  // Ready containers, but the gate's condition does not exist yet.
  json gated = waitForObject(podPath("ready"),
                             [](const json& p) { return conditionTrue(p, "ContainersReady"); });
  EXPECT_TRUE(gated["status"]["containerStatuses"][0].value("ready", false));
  const json* ready = findCondition(gated, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->value("status", ""), "False");
  EXPECT_EQ(ready->value("reason", ""), "ReadinessGatesNotReady");
  EXPECT_EQ(ready->value("message", ""),
            "corresponding condition of pod readiness gate \"example.com/lb\" does not exist.");
  // A load balancer controller sets the gate: the pod becomes Ready and the
  // controller's condition stays.
  json gate = {{"type", "example.com/lb"}, {"status", "True"}};
  ASSERT_TRUE(api_->patch(podPath("ready") + "/status", "application/strategic-merge-patch+json",
                          {{"status", {{"conditions", {gate}}}}})
                  .ok());
  json done =
      waitForObject(podPath("ready"), [](const json& p) { return conditionTrue(p, "Ready"); });
  EXPECT_TRUE(conditionTrue(done, "example.com/lb"));
  EXPECT_EQ(done["status"]["containerStatuses"][0].value("restartCount", -1), 0);
}

TEST_F(Cluster, DeletionStopsWithinGraceReportsAndRemovesThePod) {
  startJoined();
  createPod(podObject("doomed", "trap 'exit 0' TERM; sleep 3600 & wait"));
  waitForPodPhase("doomed", "Running");
  auto del = api_->remove(podPath("doomed"), 5);
  ASSERT_TRUE(del.ok()) << del.status();
  // The agent stops it, reports its final status, and deletes the object with
  // grace 0 (the fake API server answers a DELETE by a node only with the UID
  // precondition it checks).
  auto last = api_->waitFor(
      podPath("doomed"),
      [](const json& p) { return p["status"].value("phase", "") == "Succeeded"; }, 30s);
  EXPECT_TRUE(last.ok() || absl::IsNotFound(api_->get(podPath("doomed")).status()))
      << last.status();
  EXPECT_TRUE(waitForGone(podPath("doomed")));
  // The server records a request after answering it: look a little while.
  bool deletedByNode = false;
  for (int i = 0; i < 50 && !deletedByNode; ++i) {
    for (const auto& r : api_->requests()) {
      if (r.method == "DELETE" && r.path == podPath("doomed") && r.user == "system:node:it-node" &&
          r.code == 200) {
        deletedByNode = true;
      }
    }
    if (!deletedByNode) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(deletedByNode);
  // And its containers leave the runtime.
  for (int i = 0; i < 100 && !containersOf("doomed").empty(); ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(containersOf("doomed").empty());
}

TEST_F(Cluster, StaticPodGetsAMirrorPodRecreatedWhenDeleted) {
  startJoined();
  cubelet_->writeManifest("static.yaml", podManifest("static", "sleep 3600"));
  std::string path = podPath("static-it-node");
  json mirror = waitForObject(path, [](const json& p) {
    return p.contains("status") && p["status"].value("phase", "") == "Running";
  });
  auto ann = mirror["metadata"].value("annotations", json::object());
  EXPECT_TRUE(ann.contains("kubernetes.io/config.mirror"));
  EXPECT_EQ(ann.value("kubernetes.io/config.mirror", ""),
            ann.value("kubernetes.io/config.hash", "x"));
  ASSERT_EQ(mirror["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(mirror["metadata"]["ownerReferences"][0].value("kind", ""), "Node");
  std::string firstUid = mirror["metadata"].value("uid", "");
  ASSERT_TRUE(api_->remove(path, 0).ok());
  json again = waitForObject(path, [&](const json& p) {
    return p.is_object() && p.contains("metadata") && p["metadata"].value("uid", "") != firstUid;
  });
  EXPECT_NE(again["metadata"].value("uid", ""), firstUid);
  // The static pod itself kept running.
  EXPECT_EQ(containersOf("static-it-node").size(), 1u);
  cubelet_->removeManifest("static.yaml");
  EXPECT_TRUE(waitForGone(path));
}

TEST_F(Cluster, EnvironmentFromEverySource) {
  startJoined();
  ASSERT_TRUE(
      api_->create("/api/v1/namespaces/default/configmaps",
                   {{"metadata", {{"name", "cfg"}}}, {"data", {{"COLOR", "blue"}, {"SIZE", "L"}}}})
          .ok());
  ASSERT_TRUE(
      api_->create("/api/v1/namespaces/default/secrets",
                   {{"metadata", {{"name", "sec"}}}, {"data", {{"PASSWORD", "aHVudGVyMg=="}}}})
          .ok());
  ASSERT_TRUE(api_->create("/api/v1/namespaces/default/services",
                           {{"metadata", {{"name", "db-svc"}}},
                            {"spec",
                             {{"clusterIP", "10.96.0.20"},
                              {"ports", {{{"name", "pg"}, {"port", 5432}, {"protocol", "TCP"}}}}}}})
                  .ok());
  json pod = podObject("envpod", "env; sleep 3600");
  auto& c = pod["spec"]["containers"][0];
  c["env"] = {
      {{"name", "FROM_CM"},
       {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "COLOR"}}}}}},
      {{"name", "FROM_SECRET"},
       {"valueFrom", {{"secretKeyRef", {{"name", "sec"}, {"key", "PASSWORD"}}}}}},
      {{"name", "MY_POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "MY_NODE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "COMBINED"}, {"value", "$(FROM_CM)-$(MY_POD)"}}};
  c["envFrom"] = {{{"prefix", "CM_"}, {"configMapRef", {{"name", "cfg"}}}}};
  json created = createPod(pod);
  waitForPodPhase("envpod", "Running");
  // What `env` printed, from the container's log.
  std::string log = cubelet_->podLogsDir() + "/default_envpod_" +
                    created["metadata"].value("uid", "") + "/main/0.log";
  std::string env;
  for (int i = 0; i < 100 && env.find("COMBINED=") == std::string::npos; ++i) {
    std::ifstream in(log);
    env.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::this_thread::sleep_for(100ms);
  }
  for (const char* want :
       {"FROM_CM=blue", "FROM_SECRET=hunter2", "MY_POD=envpod", "MY_NODE=it-node",
        "COMBINED=blue-envpod", "CM_COLOR=blue", "CM_SIZE=L", "DB_SVC_SERVICE_HOST=10.96.0.20",
        "DB_SVC_SERVICE_PORT=5432", "DB_SVC_PORT_5432_TCP_ADDR=10.96.0.20"}) {
    EXPECT_NE(env.find(want), std::string::npos) << want;
  }
}

TEST_F(Cluster, MissingConfigMapWaitsThenStartsWhenItAppears) {
  startJoined();
  json pod = podObject("needs-cm", "sleep 3600");
  pod["spec"]["containers"][0]["env"] = {
      {{"name", "X"}, {"valueFrom", {{"configMapKeyRef", {{"name", "later"}, {"key", "x"}}}}}}};
  createPod(pod);
  // Once the watch has answered, the kubelet's message: the ConfigMap is not found.
  waitForObject(podPath("needs-cm"), [](const json& p) {
    if (!p.contains("status")) return false;
    for (const auto& cs : p["status"].value("containerStatuses", json::array())) {
      const json& w = cs["state"].value("waiting", json::object());
      if (w.value("reason", "") == "CreateContainerConfigError" &&
          w.value("message", "") == "configmap \"later\" not found")
        return true;
    }
    return false;
  });
  ASSERT_TRUE(api_->create("/api/v1/namespaces/default/configmaps",
                           {{"metadata", {{"name", "later"}}}, {"data", {{"x", "1"}}}})
                  .ok());
  waitForPodPhase("needs-cm", "Running", 30s);
}

TEST_F(Cluster, PodThatDoesNotFitIsRejected) {
  startJoined();
  waitForObject("/api/v1/nodes/it-node", [](const json& n) { return conditionTrue(n, "Ready"); });
  json pod = podObject("huge", "sleep 3600");
  pod["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "5000"}}}};
  createPod(pod);
  json failed = waitForPodPhase("huge", "Failed");
  EXPECT_EQ(failed["status"].value("reason", ""), "OutOfcpu");
  EXPECT_EQ(failed["status"]
                .value("message", "")
                .rfind("Pod was rejected: Node didn't have enough "
                       "resource: cpu, requested: 5000000",
                       0),
            0u)
      << failed["status"].dump();
  EXPECT_TRUE(containersOf("huge").empty());
  // Reported once, not rewritten over and over.
  std::this_thread::sleep_for(2s);
  int patches = 0;
  for (const auto& r : api_->requests()) {
    if (r.method == "PATCH" && r.path == podPath("huge") + "/status") ++patches;
  }
  EXPECT_LE(patches, 2);
}

TEST_F(Cluster, NodeSelectorUsesTheNodesLabelsFromTheApi) {
  startJoined();
  waitForObject("/api/v1/nodes/it-node", [](const json& n) { return conditionTrue(n, "Ready"); });
  // An administrator labels the node.
  auto labeled = api_->patch("/api/v1/nodes/it-node", "application/merge-patch+json",
                             {{"metadata", {{"labels", {{"disk", "ssd"}}}}}});
  ASSERT_TRUE(labeled.ok()) << labeled.status();
  std::this_thread::sleep_for(1s);  // the agent's Node watch sees it
  json fits = podObject("on-ssd", "sleep 3600");
  fits["spec"]["nodeSelector"] = {{"disk", "ssd"}};
  createPod(fits);
  waitForPodPhase("on-ssd", "Running");
  json misfit = podObject("on-hdd", "sleep 3600");
  misfit["spec"]["nodeSelector"] = {{"disk", "hdd"}};
  createPod(misfit);
  json failed = waitForPodPhase("on-hdd", "Failed");
  EXPECT_EQ(failed["status"].value("reason", ""), "NodeAffinity");
}

TEST_F(Cluster, ImageChangeRestartsTheContainerAndDeadlineEndsThePod) {
  startJoined();
  json pod = podObject("changing", "sleep 3600");
  createPod(pod);
  waitForPodPhase("changing", "Running");
  std::string before = containersOf("changing").at(0).id();
  auto patched = api_->patch(
      podPath("changing"), "application/strategic-merge-patch+json",
      {{"spec",
        {{"containers", {{{"name", "main"}, {"image", kPauseImage}, {"command", {"/pause"}}}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  // A new container (another ID) runs the new image.
  waitForObject(podPath("changing"), [&](const json& p) {
    for (const auto& cs : p["status"].value("containerStatuses", json::array())) {
      if (cs["state"].contains("running") &&
          cs.value("containerID", "") != "containerd://" + before)
        return true;
    }
    return false;
  });
  bool pauseRunning = false;
  for (const auto& c : containersOf("changing")) {
    if (c.state() == runtime::v1::CONTAINER_RUNNING && c.id() != before) {
      pauseRunning =
          c.image().image().find("pause") != std::string::npos || c.image_ref().size() > 0;
    }
  }
  EXPECT_TRUE(pauseRunning);

  json timed = podObject("deadline", "sleep 3600");
  timed["spec"]["activeDeadlineSeconds"] = 2;
  createPod(timed);
  json failed = waitForPodPhase("deadline", "Failed", 30s);
  EXPECT_EQ(failed["status"].value("reason", ""), "DeadlineExceeded");
  EXPECT_EQ(failed["status"].value("message", ""),
            "Pod was active on the node longer than the specified deadline");
}

TEST_F(Cluster, ApiOutageKeepsPodsRunningAndStatusConverges) {
  startJoined();
  createPod(podObject("steady", "sleep 3600"));
  waitForPodPhase("steady", "Running");
  api_->stop();
  // Meanwhile a container of a second pod... the API is down, so change the
  // runtime instead: the steady pod keeps running throughout.
  std::this_thread::sleep_for(30s);
  EXPECT_EQ(containersOf("steady").size(), 1u);
  ASSERT_TRUE(api_->resume().ok());
  createPod(podObject("after", "sleep 3600"));
  waitForPodPhase("after", "Running", 90s);
  EXPECT_TRUE(cubelet_->running());
}

TEST_F(Cluster, WatchExpiryRelistsAndPicksUpNewPods) {
  startJoined();
  createPod(podObject("before", "sleep 3600"));
  waitForPodPhase("before", "Running");
  api_->compactHistory();
  api_->closeWatches();
  createPod(podObject("after-410", "sleep 3600"));
  waitForPodPhase("after-410", "Running");
}

TEST_F(Cluster, AgentRestartNeitherRestartsContainersNorRewritesStatus) {
  startJoined();
  createPod(podObject("survivor", "sleep 3600"));
  waitForPodPhase("survivor", "Running");
  std::string containerId = containersOf("survivor").at(0).id();
  std::this_thread::sleep_for(2s);  // the status settles
  auto rc = cubelet_->stop();
  ASSERT_TRUE(rc.ok()) << rc.status();
  api_->clearRequests();
  startJoined();
  waitForObject("/api/v1/nodes/it-node", [](const json& n) { return conditionTrue(n, "Ready"); });
  std::this_thread::sleep_for(5s);
  auto cs = containersOf("survivor");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].id(), containerId);
  for (const auto& r : api_->requests()) {
    EXPECT_FALSE(r.method == "PATCH" && r.path == podPath("survivor") + "/status")
        << "status rewritten after restart";
  }
  EXPECT_EQ(waitForPodPhase("survivor", "Running")["status"]["containerStatuses"][0].value(
                "restartCount", -1),
            0);
}

TEST_F(Cluster, TlsBootstrapFromABootstrapTokenKubeconfig) {
  std::string bootstrap = dir_ + "/bootstrap-kubelet.conf";
  ASSERT_TRUE(api_->writeTokenKubeconfig(bootstrap, api_->addBootstrapToken()).ok());
  std::string kubeconfig = dir_ + "/new/kubelet.conf";
  std::string certDir = dir_ + "/pki-node";
  startCubelet(
      {"--bootstrap-kubeconfig", bootstrap, "--kubeconfig", kubeconfig, "--cert-dir", certDir});
  // The agent asks for a client certificate; the test plays the approver.
  std::string csrName;
  for (int i = 0; i < 300 && csrName.empty(); ++i) {
    for (const auto& csr : api_->list("/apis/certificates.k8s.io/v1/certificatesigningrequests")) {
      EXPECT_EQ(csr["spec"].value("signerName", ""), "kubernetes.io/kube-apiserver-client-kubelet");
      csrName = csr["metadata"].value("name", "");
    }
    if (csrName.empty()) std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(csrName.empty()) << "no CertificateSigningRequest";
  ASSERT_TRUE(api_->approveCsr(csrName).ok());
  // With the issued certificate it registers as system:node:it-node.
  waitForObject("/api/v1/nodes/it-node", [](const json& n) { return conditionTrue(n, "Ready"); });
  EXPECT_TRUE(std::filesystem::exists(kubeconfig));
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_symlink(certDir + "/kubelet-client-current.pem", ec));
  // The server records a request after answering it: look a little while.
  bool registeredAsNode = false;
  for (int i = 0; i < 50 && !registeredAsNode; ++i) {
    for (const auto& r : api_->requests()) {
      if (r.method == "POST" && r.path == "/api/v1/nodes" && r.user == "system:node:it-node") {
        registeredAsNode = true;
      }
    }
    if (!registeredAsNode) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(registeredAsNode);
}

}  // namespace
}  // namespace cubelet::testing

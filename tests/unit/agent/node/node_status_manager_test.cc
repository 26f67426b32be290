#include "agent/node/node_status_manager.h"

#include <gtest/gtest.h>

#include "agent/node/node_lease.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::node {
namespace {

using namespace std::chrono_literals;
using agent::kubeapi::Request;
using agent::kubeapi::Response;
using nlohmann::json;

Response answer(long code, const json& body) {
  return Response{absl::OkStatus(), code, body.dump()};
}
Response status(long code, const std::string& reason) {
  return answer(code, {{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"status", "Failure"},
                       {"reason", reason},
                       {"code", code}});
}

NodeStatusManagerOptions options() {
  NodeStatusManagerOptions o;
  o.config.nodeName = "node-a";
  o.config.hostname = "node-a";
  o.config.nodeIPs = {"192.0.2.10"};
  o.config.kubeletVersion = "v1.33.0";
  o.config.nodeLabels = {{"team", "edge"}};
  o.config.evictionHard = {{"memory.available", "100Mi"}};
  o.machine.machineID = "mid";
  o.machine.bootID = "boot";
  o.machine.architecture = "amd64";
  o.machine.memoryCapacityBytes = int64_t{4} << 30;
  o.machine.numCores = 2;
  o.machine.ephemeralStorageBytes = int64_t{100} << 30;
  o.random = [] { return 0.0; };
  return o;
}

// The API server's Node store, as far as registration and status go.
struct NodeServer {
  std::optional<json> node;
  int failPosts = 0;
  int failPatches = 0;
  std::vector<json> statusPatches;

  Response handle(const Request& r) {
    json body = r.body.empty() ? json() : json::parse(r.body);
    if (r.method == "POST" && r.path == "/api/v1/nodes") {
      if (failPosts > 0) {
        --failPosts;
        return Response{absl::UnavailableError("connection refused"), 0, ""};
      }
      if (node) return status(409, "AlreadyExists");
      node = body;
      (*node)["metadata"]["uid"] = "uid-1";
      return answer(201, *node);
    }
    if (r.method == "GET" && r.path == "/api/v1/nodes/node-a") {
      return node ? answer(200, *node) : status(404, "NotFound");
    }
    if (r.method == "PATCH" && r.path == "/api/v1/nodes/node-a/status") {
      if (failPatches > 0) {
        --failPatches;
        return status(500, "InternalError");
      }
      if (!node) return status(404, "NotFound");
      EXPECT_EQ(r.contentType, "application/strategic-merge-patch+json");
      if (body.contains("status")) statusPatches.push_back(body["status"]);
      // Enough of a strategic merge for these tests: metadata maps merged, status replaced.
      for (const char* m : {"labels", "annotations"}) {
        if (!body.contains("metadata") || !body["metadata"].contains(m)) continue;
        for (auto& [k, v] : body["metadata"][m].items()) {
          if (v.is_null()) {
            (*node)["metadata"][m].erase(k);
          } else {
            (*node)["metadata"][m][k] = v;
          }
        }
      }
      if (body.contains("status")) (*node)["status"] = body["status"];
      return answer(200, *node);
    }
    return status(405, "MethodNotAllowed");
  }
};

class NodeStatusManagerTest : public ::testing::Test {
 protected:
  NodeStatusManagerTest() : api_(loop_) {
    api_.setHandler([this](const Request& r) { return server_.handle(r); });
    facts_.runtimeName = "containerd";
    facts_.runtimeVersion = "1.7.0";
    facts_.statusOk = true;
    facts_.conditions = {{"RuntimeReady", true, "", ""}, {"NetworkReady", true, "", ""}};
    facts_.images = std::vector<RuntimeImage>{{{"busybox:1"}, {"busybox@sha256:1"}, 1000}};
  }
  std::unique_ptr<NodeStatusManager> make(NodeStatusManagerOptions o = options()) {
    // Answers asynchronously, as the CRI calls on the worker pool do.
    auto provider = [this](std::function<void(RuntimeFacts)> cb) {
      ++factCalls_;
      loop_.post([this, cb] { cb(facts_); });
    };
    auto m = std::make_unique<NodeStatusManager>(loop_, api_, std::move(o), provider);
    m->onNodeUid([this](const std::string& uid) { uids_.push_back(uid); });
    return m;
  }
  void runFor(core::Duration d) {
    loop_.runPending();
    for (core::Duration t{0}; t < d; t += 10ms) {
      loop_.advance(10ms);
      loop_.runPending();
    }
  }
  std::vector<std::string> methods() const {
    std::vector<std::string> out;
    for (const auto& r : api_.requests()) out.push_back(r.method + " " + r.path);
    return out;
  }

  core::SimEventLoop loop_;
  cubelet::testing::FakeApiClient api_;
  NodeServer server_;
  RuntimeFacts facts_;
  int factCalls_ = 0;
  std::vector<std::string> uids_;
};

TEST_F(NodeStatusManagerTest, RegistersThenSendsStatus) {
  auto m = make();
  m->start();
  EXPECT_FALSE(m->registered());
  runFor(100ms);
  EXPECT_TRUE(m->registered());
  EXPECT_EQ(m->nodeUid(), "uid-1");
  EXPECT_EQ(uids_, (std::vector<std::string>{"uid-1"}));
  EXPECT_EQ(methods(),
            (std::vector<std::string>{"POST /api/v1/nodes", "PATCH /api/v1/nodes/node-a/status"}));
  json node = json::parse(api_.requests()[0].body);
  EXPECT_EQ(node["kind"], "Node");
  EXPECT_EQ(node["metadata"]["name"], "node-a");
  EXPECT_EQ(node["metadata"]["labels"]["kubernetes.io/hostname"], "node-a");
  EXPECT_EQ(node["metadata"]["labels"]["kubernetes.io/arch"], "amd64");
  EXPECT_EQ(node["metadata"]["labels"]["team"], "edge");
  EXPECT_EQ(node["status"]["capacity"]["memory"], "4Gi");
  EXPECT_EQ(node["status"]["allocatable"]["memory"], "3996Mi");
  EXPECT_EQ(node["status"]["nodeInfo"]["containerRuntimeVersion"], "containerd://1.7.0");
  EXPECT_EQ(node["status"]["images"][0]["names"],
            json::parse(R"(["busybox@sha256:1","busybox:1"])"));
  json patch = json::parse(api_.requests()[1].body);
  ASSERT_TRUE(patch.contains("status"));
  EXPECT_EQ(patch.size(), 1u);
  EXPECT_EQ(patch["status"]["conditions"][3]["type"], "Ready");
  EXPECT_EQ(patch["status"]["conditions"][3]["status"], "True");
  EXPECT_EQ(patch["status"]["conditions"][3]["reason"], "KubeletReady");
  EXPECT_EQ(patch["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
  ASSERT_NE(m->lastStatus(), nullptr);
  EXPECT_EQ(m->lastStatus()->allocatable.at("cpu").str(), "2");
}

TEST_F(NodeStatusManagerTest, AdoptsAnExistingNode) {
  server_.node = json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a",
      "uid":"uid-old","labels":{"kubernetes.io/hostname":"stale","team":"core",
      "kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux",
      "beta.kubernetes.io/arch":"amd64"}},"status":{}})");
  auto m = make();
  m->start();
  runFor(100ms);
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST /api/v1/nodes", "GET /api/v1/nodes/node-a",
                                                 "PATCH /api/v1/nodes/node-a/status",
                                                 "PATCH /api/v1/nodes/node-a/status"}));
  EXPECT_EQ(json::parse(api_.requests()[2].body), json::parse(R"({"metadata":{
      "labels":{"kubernetes.io/hostname":"node-a"},
      "annotations":{"volumes.kubernetes.io/controller-managed-attach-detach":"true"}}})"));
  EXPECT_TRUE(m->registered());
  EXPECT_EQ(uids_, (std::vector<std::string>{"uid-old"}));
  // --node-labels are not forced onto an existing Node, as upstream.
  EXPECT_EQ((*server_.node)["metadata"]["labels"]["team"], "core");
  EXPECT_EQ((*server_.node)["metadata"]["labels"]["kubernetes.io/hostname"], "node-a");
  ASSERT_EQ(server_.statusPatches.size(), 1u);
}

TEST_F(NodeStatusManagerTest, AdoptionWithoutDifferencesDoesNotPatchMetadata) {
  server_.node = json::parse(R"({"metadata":{"name":"node-a","uid":"uid-old",
      "labels":{"kubernetes.io/hostname":"node-a","kubernetes.io/os":"linux",
      "kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","beta.kubernetes.io/arch":"amd64"},
      "annotations":{"volumes.kubernetes.io/controller-managed-attach-detach":"true"}}})");
  auto m = make();
  m->start();
  runFor(100ms);
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST /api/v1/nodes", "GET /api/v1/nodes/node-a",
                                                 "PATCH /api/v1/nodes/node-a/status"}));
}

TEST_F(NodeStatusManagerTest, RegistrationRetriesWithBackoff) {
  server_.failPosts = 4;
  auto m = make();
  m->start();
  runFor(1s);
  EXPECT_EQ(api_.count("POST", "/api/v1/nodes"), 3u);  // t=0, 200ms, 600ms
  EXPECT_FALSE(m->registered());
  runFor(2s);
  EXPECT_EQ(api_.count("POST", "/api/v1/nodes"), 5u);  // 1400ms, 3000ms (ok)
  EXPECT_TRUE(m->registered());
  EXPECT_EQ(api_.count("PATCH", "/api/v1/nodes/node-a/status"), 1u);
}

TEST_F(NodeStatusManagerTest, SendsOnlyOnChangeOrReportFrequency) {
  auto m = make();
  m->start();
  runFor(100ms);
  ASSERT_EQ(m->statusSends(), 1u);
  int callsBefore = factCalls_;
  // Heartbeats only: computed every 10 s, nothing sent.
  runFor(2min);
  EXPECT_EQ(m->statusSends(), 1u);
  EXPECT_EQ(factCalls_ - callsBefore, 12);
  // The network goes away: sent at the next tick.
  facts_.conditions[1] = {"NetworkReady", false, "NetworkPluginNotReady",
                          "Network plugin returns error: cni plugin not initialized"};
  runFor(10s);
  ASSERT_EQ(m->statusSends(), 2u);
  json ready = server_.statusPatches.back()["conditions"][3];
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "KubeletNotReady");
  EXPECT_EQ(ready["message"],
            "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
            "initialized");
  EXPECT_EQ(ready["lastTransitionTime"], ready["lastHeartbeatTime"]);
  // Unchanged again: the next send comes when nodeStatusReportFrequency has passed.
  runFor(4min + 40s);
  EXPECT_EQ(m->statusSends(), 2u);
  runFor(20s + 100ms);
  EXPECT_EQ(m->statusSends(), 3u);
  json again = server_.statusPatches.back()["conditions"][3];
  EXPECT_EQ(again["lastTransitionTime"], ready["lastTransitionTime"]);
  EXPECT_NE(again["lastHeartbeatTime"], ready["lastHeartbeatTime"]);
}

TEST_F(NodeStatusManagerTest, SyncNowSendsAChangeAtOnce) {
  auto m = make();
  m->start();
  runFor(100ms);
  facts_.images->push_back({{"pause:3.9"}, {}, 500});
  m->syncNow();
  runFor(10ms);
  EXPECT_EQ(m->statusSends(), 2u);
  EXPECT_EQ(server_.statusPatches.back()["images"].size(), 2u);
}

TEST_F(NodeStatusManagerTest, PatchRetriesFiveTimesThenWaitsForTheNextTick) {
  auto m = make();
  m->start();
  runFor(100ms);
  server_.failPatches = 7;
  facts_.runtimeVersion = "1.7.1";
  runFor(10s);
  EXPECT_EQ(api_.count("PATCH", "/api/v1/nodes/node-a/status"), 6u);  // 1 ok + 5 failed
  EXPECT_EQ(m->statusSends(), 1u);
  runFor(10s);
  EXPECT_EQ(api_.count("PATCH", "/api/v1/nodes/node-a/status"), 9u);  // 2 more fail, then ok
  EXPECT_EQ(m->statusSends(), 2u);
  EXPECT_EQ(server_.statusPatches.back()["nodeInfo"]["containerRuntimeVersion"],
            "containerd://1.7.1");
}

TEST_F(NodeStatusManagerTest, WithoutRegisterNodeOnlyUpdatesStatus) {
  server_.node = json::parse(R"({"metadata":{"name":"node-a","uid":"uid-admin"}})");
  auto o = options();
  o.registerNode = false;
  auto m = make(o);
  m->start();
  runFor(100ms);
  EXPECT_EQ(methods(), (std::vector<std::string>{"PATCH /api/v1/nodes/node-a/status"}));
  EXPECT_EQ(uids_, (std::vector<std::string>{"uid-admin"}));
}

// The whole idle heartbeat of a node: status manager and Lease on one client.
TEST_F(NodeStatusManagerTest, IdleNodeStaysWithinTheApiBudget) {
  std::vector<core::MonoTime> times;
  api_.setHandler([&](const Request& r) {
    times.push_back(loop_.monotonicNow());
    if (r.path.rfind("/apis/coordination.k8s.io/", 0) == 0) {
      static std::optional<json> lease;
      static int rv = 0;
      if (r.method == "GET") return lease ? answer(200, *lease) : status(404, "NotFound");
      lease = json::parse(r.body);
      (*lease)["metadata"]["resourceVersion"] = std::to_string(++rv);
      return answer(r.method == "POST" ? 201 : 200, *lease);
    }
    return server_.handle(r);
  });
  auto m = make();
  NodeLeaseOptions lo;
  lo.nodeName = "node-a";
  NodeLease lease(loop_, api_, lo);
  m->onNodeUid([&](const std::string& uid) { lease.setNodeUid(uid); });
  m->start();
  lease.start();
  runFor(10min);
  EXPECT_LE(times.size(), 80u);
  // Start-up (register, first status, find and create the Lease) over, at most 8 in
  // any minute.
  for (auto start = times.front() + 20s; start < times.back(); start += 1s) {
    size_t n = std::count_if(times.begin(), times.end(),
                             [&](core::MonoTime t) { return t >= start && t < start + 60s; });
    EXPECT_LE(n, 8u) << "in the minute from " << (start - times.front()).count();
  }
  ASSERT_TRUE(lease.latest().has_value());
  ASSERT_EQ(lease.latest()->metadata.ownerReferences.size(), 1u);
  EXPECT_EQ(lease.latest()->metadata.ownerReferences[0].uid, "uid-1");
}

TEST_F(NodeStatusManagerTest, NothingRunsAfterDestruction) {
  auto m = make();
  m->start();
  m.reset();
  runFor(1min);
  EXPECT_TRUE(api_.requests().empty());
}

}  // namespace
}  // namespace agent::node

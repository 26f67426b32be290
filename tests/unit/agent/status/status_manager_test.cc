#include "agent/status/status_manager.h"

#include <gtest/gtest.h>

#include "agent/status/pod_status_compute.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/unit/agent/status/fake_pods_api.h"

namespace agent::status {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

api::PodCondition cond(std::string type, std::string status, std::string ltt) {
  return api::PodCondition{std::move(type), std::move(status), "", "", std::move(ltt), ""};
}

// A running pod's status as the agent computes it.
api::PodStatus runningStatus(int restarts = 0) {
  api::PodStatus s;
  s.phase = "Running";
  s.conditions = {cond("PodReadyToStartContainers", "True", "2024-01-01T00:00:01Z"),
                  cond("Initialized", "True", "2024-01-01T00:00:01Z"),
                  cond("Ready", "True", "2024-01-01T00:00:02Z"),
                  cond("ContainersReady", "True", "2024-01-01T00:00:02Z"),
                  cond("PodScheduled", "True", "2024-01-01T00:00:00Z")};
  s.hostIP = "192.0.2.10";
  s.hostIPs = {"192.0.2.10"};
  s.podIP = "10.88.0.7";
  s.podIPs = {"10.88.0.7"};
  s.startTime = "2024-01-01T00:00:00Z";
  s.qosClass = "BestEffort";
  api::ContainerStatus c;
  c.name = "web";
  c.image = "nginx";
  c.imageID = "sha256:1";
  c.containerID = "containerd://c1";
  c.state.running = api::ContainerStateRunning{"2024-01-01T00:00:02Z"};
  c.ready = true;
  c.started = true;
  c.restartCount = restarts;
  s.containerStatuses = {c};
  return s;
}

api::ContainerState terminated(int32_t code, std::string reason) {
  api::ContainerState st;
  st.terminated =
      api::ContainerStateTerminated{code, 0, std::move(reason), "", "", "", "containerd://c1"};
  return st;
}

// What the scheduler leaves on a new pod.
json scheduledStatus() {
  return json::parse(R"({"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True",
      "lastProbeTime":null,"lastTransitionTime":"2024-01-01T00:00:00Z"}]})");
}

class StatusManagerTest : public ::testing::Test {
 protected:
  StatusManagerTest() {
    client.setHandler([this](const kubeapi::Request& r) { return api.handle(r); });
    StatusManagerOptions o;
    o.random = [] { return 0.0; };  // no jitter: delays are exact
    mgr = std::make_unique<StatusManager>(loop, client, o);
  }

  // The pod as the informer would report it, from the fake API's current object.
  void observe(const std::string& ns, const std::string& name) {
    auto s = decodeApiPodState(*api.pod(ns, name));
    ASSERT_TRUE(s.ok()) << s.status();
    mgr->observeApiPod(std::move(*s));
  }
  json apiStatus(const std::string& ns = "default", const std::string& name = "web") {
    return (*api.pod(ns, name))["status"];
  }
  size_t patches() const { return client.count("PATCH", "/api/v1/namespaces/default/pods/web"); }

  PodRef web{"uid-1", "default", "web", false};
  core::SimEventLoop loop;
  cubelet::testing::FakeApiClient client{loop};
  cubelet::testing::FakePodsApi api;
  std::unique_ptr<StatusManager> mgr;
};

TEST_F(StatusManagerTest, ChangedStatusIsPatchedOnceWithTheKubeletsShape) {
  api.add("default", "web", "uid-1", scheduledStatus());
  // Another writer's condition (a readiness gate) is already there.
  (*api.pod("default", "web"))["status"]["conditions"].push_back(
      {{"type", "example.com/gate"}, {"status", "True"}});
  observe("default", "web");
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();

  ASSERT_EQ(client.requests().size(), 1u);
  const auto& req = client.requests()[0];
  EXPECT_EQ(req.method, "PATCH");
  EXPECT_EQ(req.path, "/api/v1/namespaces/default/pods/web/status");
  EXPECT_EQ(req.contentType, "application/strategic-merge-patch+json");
  json p = json::parse(req.body);
  EXPECT_EQ(p["metadata"], json({{"uid", "uid-1"}}));
  const json& s = p["status"];
  EXPECT_EQ(s["$setElementOrder/conditions"],
            json::parse(R"([{"type":"example.com/gate"},{"type":"PodReadyToStartContainers"},
                {"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},
                {"type":"PodScheduled"}])"));
  std::vector<std::string> sent;
  for (const auto& c : s["conditions"]) sent.push_back(c["type"]);
  // The gate is not ours and PodScheduled did not change: neither is sent.
  EXPECT_EQ(sent, (std::vector<std::string>{"PodReadyToStartContainers", "Initialized", "Ready",
                                            "ContainersReady"}));
  ASSERT_EQ(s["containerStatuses"].size(), 1u);
  EXPECT_EQ(s["containerStatuses"][0]["containerID"], "containerd://c1");
  EXPECT_EQ(s["containerStatuses"][0]["state"]["running"]["startedAt"], "2024-01-01T00:00:02Z");
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(mgr->counters().patches, 1u);

  // The API now holds the status plus the gate.
  json now = apiStatus();
  EXPECT_EQ(now["phase"], "Running");
  EXPECT_EQ(now["conditions"].size(), 6u);
  EXPECT_EQ(now["conditions"][0]["type"], "example.com/gate");

  // The same status again, and the informer's echo of the patch: nothing more.
  mgr->setPodStatus(web, runningStatus());
  observe("default", "web");
  loop.runPending();
  EXPECT_EQ(client.requests().size(), 1u);
}

TEST_F(StatusManagerTest, UnchangedStatusSendsNothing) {
  json status = api::toJson(runningStatus());
  api.add("default", "web", "uid-1", status);
  observe("default", "web");
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  EXPECT_TRUE(client.requests().empty());
  EXPECT_EQ(mgr->counters().patches, 0u);
}

TEST_F(StatusManagerTest, BurstWhileInFlightSendsOnlyTheLatestAfterwards) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  mgr->setPodStatus(web, runningStatus(0));
  ASSERT_EQ(patches(), 1u);  // in flight: its answer is not delivered yet
  for (int i = 1; i <= 5; ++i) mgr->setPodStatus(web, runningStatus(i));
  EXPECT_EQ(patches(), 1u);
  loop.runPending();
  ASSERT_EQ(patches(), 2u);
  json last = json::parse(client.requests().back().body);
  EXPECT_EQ(last["status"]["containerStatuses"][0]["restartCount"], 5);
  EXPECT_EQ(apiStatus()["containerStatuses"][0]["restartCount"], 5);
}

TEST_F(StatusManagerTest, ServerErrorsAreRetriedWithBackoff) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  api.failNext(500, 2);
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  EXPECT_EQ(patches(), 1u);
  loop.advance(499ms);
  loop.runPending();
  EXPECT_EQ(patches(), 1u);
  loop.advance(1ms);  // 500 ms after the failure
  loop.runPending();
  EXPECT_EQ(patches(), 2u);
  loop.advance(999ms);
  loop.runPending();
  EXPECT_EQ(patches(), 2u);
  loop.advance(1ms);  // then 1 s
  loop.runPending();
  EXPECT_EQ(patches(), 3u);
  EXPECT_EQ(apiStatus()["phase"], "Running");
  EXPECT_EQ(mgr->counters().failures, 2u);
  // Backoff resets after a success; nothing else is pending.
  loop.advance(60s);
  loop.runPending();
  EXPECT_EQ(patches(), 3u);
}

TEST_F(StatusManagerTest, ConflictRereadsThePodAndPatchesAgain) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  api.failNext(409);
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  ASSERT_EQ(client.requests().size(), 3u);
  EXPECT_EQ(client.requests()[0].method, "PATCH");
  EXPECT_EQ(client.requests()[1].method, "GET");
  EXPECT_EQ(client.requests()[1].path, "/api/v1/namespaces/default/pods/web");
  EXPECT_EQ(client.requests()[2].method, "PATCH");
  EXPECT_EQ(apiStatus()["phase"], "Running");
}

TEST_F(StatusManagerTest, PodRecreatedUnderTheSameNameIsNotWritten) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  api.add("default", "web", "uid-2", scheduledStatus());  // deleted and recreated
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  // PATCH (409: UID precondition), GET (another UID): stop.
  ASSERT_EQ(client.requests().size(), 2u);
  EXPECT_EQ(apiStatus()["phase"], "Pending");
  mgr->setPodStatus(web, runningStatus(1));
  loop.advance(30s);
  loop.runPending();
  EXPECT_EQ(client.requests().size(), 2u);
}

TEST_F(StatusManagerTest, NotFoundDropsThePod) {
  mgr->observeApiPod(
      ApiPodState{"uid-1", "default", "web", "1", false, *api::decodePodStatus(scheduledStatus())});
  mgr->setPodStatus(web, runningStatus());  // the API has no such pod: 404
  loop.runPending();
  EXPECT_EQ(patches(), 1u);
  loop.advance(60s);
  mgr->setPodStatus(web, runningStatus(3));
  loop.runPending();
  EXPECT_EQ(client.requests().size(), 1u);
  // The agent's view is still there for the agent.
  ASSERT_NE(mgr->knownStatus("uid-1"), nullptr);
  EXPECT_EQ(mgr->knownStatus("uid-1")->containerStatuses[0].restartCount, 3);
}

TEST_F(StatusManagerTest, UnknownApiStatusIsReadFirst) {
  api.add("default", "web", "uid-1", scheduledStatus());
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  ASSERT_EQ(client.requests().size(), 2u);
  EXPECT_EQ(client.requests()[0].method, "GET");
  EXPECT_EQ(client.requests()[1].method, "PATCH");
  EXPECT_EQ(apiStatus()["phase"], "Running");
}

TEST_F(StatusManagerTest, TerminalPhaseIsNotReverted) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  api::PodStatus failed = runningStatus();
  failed.phase = "Failed";
  failed.containerStatuses[0].state = terminated(1, "Error");
  failed.containerStatuses[0].ready = false;
  mgr->setPodStatus(web, failed);
  loop.runPending();
  EXPECT_EQ(apiStatus()["phase"], "Failed");
  size_t before = client.requests().size();

  mgr->setPodStatus(web, runningStatus());  // a buggy Running after Failed
  loop.runPending();
  EXPECT_EQ(mgr->knownStatus("uid-1")->phase, "Failed");
  EXPECT_EQ(apiStatus()["phase"], "Failed");
  for (size_t i = before; i < client.requests().size(); ++i) {
    EXPECT_FALSE(json::parse(client.requests()[i].body)["status"].contains("phase"));
  }
  // Nor does it keep rewriting the Ready condition it forces False.
  size_t settled = patches();
  loop.advance(1h);
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  EXPECT_EQ(patches(), settled);

  // Same after a restart: the API's terminal phase wins.
  StatusManager fresh(loop, client);
  auto s = decodeApiPodState(*api.pod("default", "web"));
  fresh.observeApiPod(*s);
  fresh.setPodStatus(web, runningStatus());
  EXPECT_EQ(fresh.knownStatus("uid-1")->phase, "Failed");
  loop.runPending();
  EXPECT_EQ(apiStatus()["phase"], "Failed");
}

// After an agent restart the first computed status equals what the API holds:
// no PATCH, even though the pod was first seen again just now.
TEST_F(StatusManagerTest, RestartDoesNotFlap) {
  api::Pod pod;
  pod.metadata = {.name = "web", .namespace_ = "default", .uid = "uid-1"};
  pod.spec.restartPolicy = "Always";
  pod.spec.containers = {api::Container{.name = "web", .image = "nginx"},
                         api::Container{.name = "log", .image = "busybox"}};
  runtime::PodRuntimeStatus rt;
  runtime::SandboxRuntimeStatus sb;
  sb.id = "sb";
  sb.state = runtime::SandboxState::kReady;
  sb.ip = "10.88.0.7";
  rt.sandboxes.push_back(sb);
  for (const char* n : {"web", "log"}) {
    runtime::ContainerRuntimeStatus c;
    c.id = std::string(n) + "1";
    c.name = n;
    c.state = runtime::ContainerState::kRunning;
    c.createdAtNs = 1;
    c.startedAtNs = 1704067201000000000;
    c.imageRef = "sha256:1";
    rt.containers.push_back(c);
  }
  std::map<std::string, runtime::WaitingReason> waiting;
  auto compute = [&](const api::PodStatus* prev) {
    StatusInput in;
    in.pod = &pod;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.hostIP = "192.0.2.10";
    in.startTime = loop.wallNow();  // firstSeen: reset by the restart
    in.now = loop.wallNow();
    in.previous = prev;
    return computePodStatus(in);
  };

  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  mgr->setPodStatus(web, compute(mgr->knownStatus("uid-1")));
  loop.runPending();
  ASSERT_EQ(patches(), 1u);
  observe("default", "web");

  // Restart an hour later: a new manager, seeded by the informer.
  loop.advance(1h);
  mgr = std::make_unique<StatusManager>(loop, client);
  observe("default", "web");
  mgr->setPodStatus(web, compute(mgr->knownStatus("uid-1")));
  loop.runPending();
  EXPECT_EQ(patches(), 1u);
  EXPECT_EQ(mgr->knownStatus("uid-1")->startTime, "2024-01-01T00:00:00Z");

  // A real change still goes out, keeping the other transition times.
  rt.containers[1].state = runtime::ContainerState::kExited;
  rt.containers[1].exitCode = 1;
  rt.containers[1].finishedAtNs = 1704070800000000000;
  mgr->setPodStatus(web, compute(mgr->knownStatus("uid-1")));
  loop.runPending();
  ASSERT_EQ(patches(), 2u);
  json p = json::parse(client.requests().back().body);
  for (const auto& c : p["status"]["conditions"]) {
    EXPECT_TRUE(c["type"] == "Ready" || c["type"] == "ContainersReady") << c.dump();
  }
}

TEST_F(StatusManagerTest, DeletedPodIsRemovedAfterItsFinalStatus) {
  api.add("default", "web", "uid-1", api::toJson(runningStatus()), /*deleting=*/true);
  observe("default", "web");
  std::vector<std::string> deleted;
  mgr->setOnPodDeleted([&](const std::string& uid) { deleted.push_back(uid); });
  mgr->setPodStatus(web, runningStatus());  // still running: nothing to do
  loop.runPending();
  EXPECT_TRUE(client.requests().empty());

  api::PodStatus stopped = runningStatus();
  stopped.phase = "Succeeded";
  stopped.containerStatuses[0].state = terminated(0, "Completed");
  stopped.containerStatuses[0].ready = false;
  mgr->setPodStatus(web, stopped);
  mgr->markTerminated("uid-1");
  loop.runPending();

  ASSERT_EQ(client.requests().size(), 2u);
  EXPECT_EQ(client.requests().front().method, "PATCH");
  EXPECT_EQ(json::parse(client.requests().front().body)["status"]["phase"], "Succeeded");
  const auto& del = client.requests().back();
  EXPECT_EQ(del.method, "DELETE");
  EXPECT_EQ(del.path, "/api/v1/namespaces/default/pods/web");
  json opts = json::parse(del.body);
  EXPECT_EQ(opts, json::parse(R"({"kind":"DeleteOptions","apiVersion":"v1",
                                  "gracePeriodSeconds":0,"preconditions":{"uid":"uid-1"}})"));
  EXPECT_EQ(deleted, std::vector<std::string>{"uid-1"});
  EXPECT_EQ(api.pod("default", "web"), nullptr);
  EXPECT_EQ(mgr->counters().deletes, 1u);
}

TEST_F(StatusManagerTest, FinalStatusGoesOutBeforeTheDeleteWhichIsRetried) {
  api.add("default", "web", "uid-1", api::toJson(runningStatus()), /*deleting=*/true);
  observe("default", "web");
  int deletes = 0;
  client.setHandler([&](const kubeapi::Request& r) {
    if (r.method == "DELETE" && deletes++ == 0) return kubeapi::Response{{}, 503, ""};
    return api.handle(r);
  });
  std::vector<std::string> deleted;
  mgr->setOnPodDeleted([&](const std::string& uid) { deleted.push_back(uid); });
  api::PodStatus stopped = runningStatus();
  stopped.containerStatuses[0].state = terminated(137, "Error");
  stopped.containerStatuses[0].ready = false;
  mgr->setPodStatus(web, stopped);  // sent at once, still Running
  mgr->markTerminated("uid-1");     // in flight: the final status waits for the answer
  loop.runPending();
  ASSERT_EQ(client.requests().size(), 3u);
  EXPECT_EQ(client.requests()[0].method, "PATCH");
  EXPECT_EQ(client.requests()[1].method, "PATCH");
  // TerminatePod: a phase not terminal yet becomes Failed, and the pod is not ready.
  json final = json::parse(client.requests()[1].body)["status"];
  EXPECT_EQ(final["phase"], "Failed");
  EXPECT_EQ(apiStatus()["phase"], "Failed");
  EXPECT_EQ(client.requests()[2].method, "DELETE");
  EXPECT_TRUE(deleted.empty());
  loop.advance(500ms);
  loop.runPending();
  ASSERT_EQ(client.requests().size(), 4u);
  EXPECT_EQ(client.requests()[3].method, "DELETE");
  EXPECT_EQ(deleted, std::vector<std::string>{"uid-1"});
  EXPECT_EQ(api.pod("default", "web"), nullptr);
}

TEST_F(StatusManagerTest, StaticPodReportsToItsMirrorPod) {
  PodRef st{"static-uid", "kube-system", "etcd-node1", true};
  mgr->setPodStatus(st, runningStatus());
  loop.runPending();
  EXPECT_TRUE(client.requests().empty());  // no mirror pod yet

  api.add("kube-system", "etcd-node1", "mirror-uid", json::object(), /*deleting=*/true);
  auto m = decodeApiPodState(*api.pod("kube-system", "etcd-node1"));
  mgr->observeApiPod(*m);
  loop.runPending();
  EXPECT_TRUE(client.requests().empty());  // not known as its mirror yet
  mgr->setMirrorUid("static-uid", "mirror-uid");
  loop.runPending();
  ASSERT_EQ(client.requests().size(), 1u);
  EXPECT_EQ(client.requests()[0].path, "/api/v1/namespaces/kube-system/pods/etcd-node1/status");
  EXPECT_EQ(json::parse(client.requests()[0].body)["metadata"]["uid"], "mirror-uid");
  EXPECT_EQ(apiStatus("kube-system", "etcd-node1")["phase"], "Running");

  // Mirror pods are never deleted by the status manager, and keep their phase.
  mgr->markTerminated("static-uid");
  loop.runPending();
  EXPECT_EQ(client.count("DELETE", "/"), 0u);
  EXPECT_EQ(mgr->knownStatus("static-uid")->phase, "Running");

  // The mirror pod is replaced: the new one gets the status, the old UID is never used.
  api.add("kube-system", "etcd-node1", "mirror-2");
  mgr->observeApiPodDeleted("mirror-uid");
  mgr->setMirrorUid("static-uid", "mirror-2");
  loop.runPending();
  json last = json::parse(client.requests().back().body);
  EXPECT_EQ(last["metadata"]["uid"], "mirror-2");
  EXPECT_EQ(apiStatus("kube-system", "etcd-node1")["phase"], "Running");
}

TEST_F(StatusManagerTest, ForgetStopsEverything) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  api.failNext(500);
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  mgr->forget("uid-1");
  EXPECT_EQ(mgr->knownStatus("uid-1"), nullptr);
  loop.advance(60s);
  loop.runPending();
  EXPECT_EQ(client.requests().size(), 1u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);
}

TEST_F(StatusManagerTest, StaleInformerEventsDoNotCausePatches) {
  api.add("default", "web", "uid-1", scheduledStatus());
  auto old = decodeApiPodState(*api.pod("default", "web"));
  mgr->observeApiPod(*old);
  mgr->setPodStatus(web, runningStatus());
  loop.runPending();
  ASSERT_EQ(patches(), 1u);
  mgr->observeApiPod(*old);  // the watch lags behind the PATCH answer
  loop.runPending();
  EXPECT_EQ(patches(), 1u);
}

TEST_F(StatusManagerTest, PodDeletedWhileAPatchIsInFlightGetsNothingMore) {
  api.add("default", "web", "uid-1", scheduledStatus());
  observe("default", "web");
  api.failNext(500);
  mgr->setPodStatus(web, runningStatus());
  mgr->observeApiPodDeleted("uid-1");  // the informer: gone (answer still to come)
  loop.runPending();
  loop.advance(60s);
  mgr->setPodStatus(web, runningStatus(2));
  loop.runPending();
  EXPECT_EQ(client.requests().size(), 1u);
  EXPECT_EQ(mgr->knownStatus("uid-1")->containerStatuses[0].restartCount, 2);
}

}  // namespace
}  // namespace agent::status

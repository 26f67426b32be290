// Pod workers against a real gRPC CRI double, on the real event loop and pool:
// graceful termination of a deleted pod, activeDeadlineSeconds, terminal pods.
#include "agent/pods/pod_workers.h"

#include <gtest/gtest.h>

#include "agent/api/pod_decode.h"
#include "core/sd_event_loop.h"
#include "cri/grpc_runtime_client.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/cubelet_process.h"
#include "tests/support/fake_cri_env.h"

namespace agent::pods {
namespace {

using namespace std::chrono_literals;

class PodWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("pod-workers");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    cri_->addImage("busybox:1.35");
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    pool_ = std::make_unique<core::ThreadWorkerPool>(2);
    runtime_ = std::make_unique<runtime::RuntimeManager>(
        *client_, *client_, cubelet::testing::testRuntimeOptions(dir_));
    workers_ = std::make_unique<PodWorkers>(*loop_, *pool_, *runtime_, WorkerSettings{});
    workers_->setOnPodTerminated([this](const std::string& uid) { terminated_.push_back(uid); });
    workers_->start(100ms);
  }

  void TearDown() override {
    // Jobs in flight finish against the runtime manager before it goes.
    if (pool_) pool_->shutdown(5s);
    workers_.reset();
  }

  std::shared_ptr<const api::Pod> pod(const std::string& uid, nlohmann::json extraSpec = {}) {
    nlohmann::json j = {
        {"metadata", {{"name", "p-" + uid}, {"namespace", "default"}, {"uid", uid}}},
        {"spec",
         {{"nodeName", "node-1"},
          {"terminationGracePeriodSeconds", 1},
          {"containers", {{{"name", "c"}, {"image", "busybox:1.35"}}}}}}};
    if (!extraSpec.is_null()) j["spec"].update(extraSpec);
    auto p = api::decodePod(j);
    EXPECT_TRUE(p.ok()) << p.status();
    api::applyPodDefaults(*p);
    return std::make_shared<const api::Pod>(std::move(*p));
  }

  // Runs the loop until `pred` holds (checked every 20 ms) or `limit` passes.
  bool runUntil(const std::function<bool()>& pred, core::Duration limit = 10s) {
    bool ok = false;
    core::MonoTime end = loop_->monotonicNow() + limit;
    core::TimerPtr tick;
    tick = loop_->createTimer([&] {
      if (pred()) {
        ok = true;
        loop_->exit();
      } else if (loop_->monotonicNow() > end) {
        loop_->exit();
      } else {
        tick->enableTimer(20ms);
      }
    });
    tick->enableTimer(0ms);
    EXPECT_TRUE(loop_->run().ok());
    return ok;
  }

  PodView view(const std::string& uid) {
    PodView out;
    workers_->forEachPod([&](const PodView& v) {
      if (v.runtime && v.runtime->uid == uid) out = v;
      if (v.pod && v.pod->metadata.uid == uid) out = v;
    });
    return out;
  }

  bool running(const std::string& uid) {
    PodView v = view(uid);
    return v.runtime && v.runtime->hasRunningContainer();
  }

  std::string dir_;
  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<core::ThreadWorkerPool> pool_;
  std::unique_ptr<runtime::RuntimeManager> runtime_;
  std::unique_ptr<PodWorkers> workers_;
  std::vector<std::string> terminated_;
};

TEST_F(PodWorkersTest, DeletedPodStopsButKeepsItsContainersUntilRemoved) {
  auto p = pod("u1");
  workers_->setDesiredPods({p});
  ASSERT_TRUE(runUntil([&] { return running("u1"); }));
  EXPECT_TRUE(terminated_.empty());

  auto deleted = std::make_shared<api::Pod>(*p);
  deleted->metadata.deletionTimestamp = "2024-01-01T00:00:00Z";
  deleted->metadata.deletionGracePeriodSeconds = 1;
  workers_->setDesiredPods({deleted});
  ASSERT_TRUE(runUntil([&] { return !terminated_.empty(); }));
  EXPECT_EQ(terminated_, std::vector<std::string>{"u1"});
  PodView v = view("u1");
  EXPECT_TRUE(v.terminating);
  EXPECT_TRUE(v.terminated);
  EXPECT_FALSE(v.runtime->hasRunningContainer());
  // The stopped container stays for the final status (and logs) ...
  EXPECT_EQ(cri_->containerIds().size(), 1u);
  EXPECT_EQ(cri_->callCount("StartContainer"), 1);
  // ... until the pod leaves the API.
  workers_->setDesiredPods({});
  ASSERT_TRUE(runUntil([&] { return cri_->containerIds().empty() && cri_->sandboxIds().empty(); }));
  EXPECT_EQ(terminated_.size(), 1u);
}

TEST_F(PodWorkersTest, ActiveDeadlineEndsThePod) {
  workers_->setDesiredPods({pod("u2", {{"activeDeadlineSeconds", 1}})});
  ASSERT_TRUE(runUntil([&] { return running("u2"); }));
  ASSERT_TRUE(runUntil([&] { return !terminated_.empty(); }, 15s));
  PodView v = view("u2");
  EXPECT_EQ(v.terminalReason, "DeadlineExceeded");
  EXPECT_EQ(v.terminalMessage, "Pod was active on the node longer than the specified deadline");
  EXPECT_FALSE(v.runtime->hasRunningContainer());
}

TEST_F(PodWorkersTest, TerminateEndsThePodWithinTheGivenGracePeriod) {
  workers_->setDesiredPods({pod("e1", {{"terminationGracePeriodSeconds", 30}})});
  ASSERT_TRUE(runUntil([&] { return running("e1"); }));
  EXPECT_FALSE(workers_->terminate("nope", "Evicted", "x", 0));
  ASSERT_TRUE(workers_->terminate("e1", "Evicted", "The node was low on resource: memory. ", 5));
  // A second reason does not replace the first.
  EXPECT_FALSE(workers_->terminate("e1", "Terminated", "y", 0));
  ASSERT_TRUE(runUntil([&] { return !terminated_.empty(); }, 15s));
  PodView v = view("e1");
  EXPECT_EQ(v.terminalReason, "Evicted");
  EXPECT_EQ(v.terminalMessage, "The node was low on resource: memory. ");
  EXPECT_FALSE(v.runtime->hasRunningContainer());
  auto stops = cri_->stopCalls();
  ASSERT_FALSE(stops.empty());
  for (const auto& s : stops) EXPECT_EQ(s.second, 5) << s.first;
}

TEST_F(PodWorkersTest, PodTerminalInTheApiIsNeverStarted) {
  auto p = std::make_shared<api::Pod>(*pod("u3"));
  p->statusPhase = "Succeeded";
  workers_->setDesiredPods({p});
  ASSERT_TRUE(runUntil([&] { return !terminated_.empty(); }));
  EXPECT_EQ(cri_->callCount("RunPodSandbox"), 0);
  EXPECT_EQ(cri_->callCount("CreateContainer"), 0);
}

TEST_F(PodWorkersTest, NetworkNotReadyHoldsPodsWithoutHostNetwork) {
  std::vector<std::pair<std::string, runtime::ContainerEvent>> events;
  workers_->setEventSink(
      [&](const api::Pod& p, const std::string&, const runtime::ContainerEvent& e) {
        events.push_back({p.metadata.uid, e});
      });
  workers_->requireNetworkStatus();
  workers_->setDesiredPods({pod("n1"), pod("h1", {{"hostNetwork", true}})});
  // Until the first readiness answer only host-network pods start, silently.
  ASSERT_TRUE(runUntil([&] { return running("h1"); }));
  EXPECT_EQ(cri_->sandboxIds().size(), 1u);

  const std::string err = "container runtime network not ready: NetworkReady=false";
  workers_->setNetworkStatus(err);
  workers_->resync("n1");  // a second sync does not repeat the event
  ASSERT_TRUE(runUntil([&] { return !events.empty(); }));
  runUntil([] { return false; }, 300ms);
  std::vector<std::string> networkEvents;
  for (const auto& [uid, e] : events) {
    if (e.reason != "NetworkNotReady") continue;
    EXPECT_EQ(uid, "n1");
    EXPECT_TRUE(e.warning);
    networkEvents.push_back(e.message);
  }
  EXPECT_EQ(networkEvents, std::vector<std::string>{"network is not ready: " + err});
  EXPECT_EQ(cri_->sandboxIds().size(), 1u);
  EXPECT_FALSE(running("n1"));

  // Ready: the held pod starts without waiting for a resync.
  workers_->setNetworkStatus("");
  ASSERT_TRUE(runUntil([&] { return running("n1"); }, 3s));
  EXPECT_EQ(cri_->sandboxIds().size(), 2u);
}

}  // namespace
}  // namespace agent::pods

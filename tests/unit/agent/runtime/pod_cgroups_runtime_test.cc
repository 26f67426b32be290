// The runtime manager with pod cgroups, against the gRPC CRI double: the pod's cgroup
// is made (on the event loop) before RunPodSandbox, the sandbox gets it as its
// cgroup_parent with the pod's resources, and each container's
// LinuxContainerResources carry the kubelet's shares, quota, memory limit and OOM
// score adjust for Guaranteed, Burstable and BestEffort pods. A cgroup that cannot be
// made fails the sandbox with the kubelet's FailedCreatePodContainer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "agent/cm/pod_cgroups.h"
#include "agent/runtime/runtime_manager.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/fake_cri_env.h"
#include "tests/unit/agent/cm/cm_test_pods.h"
#include "tests/unit/agent/cm/fake_cgroup_manager.h"

namespace agent::runtime {
namespace {

using namespace cubelet::testing;
using namespace std::chrono_literals;
using ::testing::Contains;

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

class PodCgroupsRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = startFakeCri("rt-cgroups");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    cri_->addImage("img");
    loopThread_ = std::make_unique<LoopThread>();
    qos_ = std::make_unique<cm::QosCgroups>(m_, cgroups::CgroupName{}, cgroups::ResourceConfig{},
                                            false);
    cm::PodCgroupsOptions o;
    o.podPidsLimit = 512;
    o.qosUpdatePeriod = core::Duration(0);
    pc_ = std::make_unique<cm::PodCgroups>(loopThread_->loop(), m_, qos_.get(), o,
                                           [] { return cm::PodList{}; });
    ASSERT_TRUE(onLoop([&](cm::Done d) { pc_->start(d); }).ok());
    m_.calls.clear();
    RuntimeOptions opts = testRuntimeOptions(dir_);
    opts.resources.memoryCapacity = kGi;
    opts.podCgroupParent = [this](const api::Pod& p) { return pc_->parentFor(p); };
    opts.ensurePodCgroup = [this](const std::shared_ptr<const api::Pod>& p) {
      // How many sandboxes the runtime had been asked for when the cgroup was made.
      order_.push_back("ensure@" + std::to_string(cri_->callCount("RunPodSandbox")));
      return pc_->ensureBlocking(p, 5s);
    };
    runtime_ = std::make_unique<RuntimeManager>(*client_, *client_, opts);
  }

  void TearDown() override {
    // The loop stops before the managers it calls go.
    loopThread_.reset();
  }

  // Runs `f` on the loop and waits for its answer.
  absl::Status onLoop(std::function<void(cm::Done)> f) {
    auto p = std::make_shared<std::promise<absl::Status>>();
    auto fut = p->get_future();
    loopThread_->loop().post([f, p] { f([p](absl::Status s) { p->set_value(s); }); });
    return fut.get();
  }

  SyncResult start(const api::Pod& pod) {
    SyncRequest req;
    req.pod = std::make_shared<const api::Pod>(pod);
    req.status.uid = pod.metadata.uid;
    req.actions = computePodActions(pod, req.status);
    for (size_t i : req.actions.containersToStart) req.starts.push_back({i, false});
    return runtime_->syncPod(req);
  }

  std::string dir_;
  std::unique_ptr<FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  std::unique_ptr<LoopThread> loopThread_;
  FakeCgroupManager m_;
  std::unique_ptr<cm::QosCgroups> qos_;
  std::unique_ptr<cm::PodCgroups> pc_;
  std::unique_ptr<RuntimeManager> runtime_;
  std::vector<std::string> order_;
};

TEST_F(PodCgroupsRuntimeTest, EachQosClass) {
  struct Want {
    std::string parent;
    int64_t shares, quota, memory, oom;
    int64_t sandboxShares;
  };
  struct Case {
    const char* name;
    api::Pod pod;
    Want want;
  };
  std::vector<Case> cases = {
      {"guaranteed",
       guaranteedPod("g1", "500m", "256Mi"),
       {"/kubepods/podg1", 512, 50000, 256 * kMi, -997, 512}},
      {"burstable",
       burstablePod("b1", "250m", "256Mi"),
       // 1000 - 1000 * 256Mi / 1Gi = 750
       {"/kubepods/burstable/podb1", 256, 0, 0, 750, 256}},
      {"besteffort", bestEffortPod("e1"), {"/kubepods/besteffort/pode1", 2, 0, 0, 1000, 2}},
  };
  for (const auto& c : cases) {
    m_.calls.clear();
    SyncResult res = start(c.pod);
    EXPECT_EQ(res.sandboxError, "") << c.name;
    ASSERT_EQ(res.starts.size(), 1u) << c.name;
    EXPECT_EQ(res.starts[0].reason, "") << c.name << ": " << res.starts[0].message;
    EXPECT_THAT(m_.calls, Contains("create " + c.want.parent)) << c.name;
    ASSERT_NE(m_.config(c.want.parent), nullptr) << c.name;
    EXPECT_EQ(m_.config(c.want.parent)->pidsMax, 512) << c.name;

    std::string sandboxId;
    for (const auto& id : cri_->sandboxIds()) {
      if (cri_->sandboxConfig(id)->metadata().uid() == c.pod.metadata.uid) sandboxId = id;
    }
    ASSERT_FALSE(sandboxId.empty()) << c.name;
    auto sc = cri_->sandboxConfig(sandboxId);
    EXPECT_EQ(sc->linux().cgroup_parent(), c.want.parent) << c.name;
    EXPECT_EQ(sc->linux().resources().cpu_shares(), c.want.sandboxShares) << c.name;
    EXPECT_TRUE(sc->linux().has_overhead()) << c.name;

    std::string containerId;
    for (const auto& id : cri_->containerIds()) {
      if (cri_->containerConfig(id) &&
          cri_->containerConfig(id)->labels().at("io.kubernetes.pod.uid") == c.pod.metadata.uid)
        containerId = id;
    }
    ASSERT_FALSE(containerId.empty()) << c.name;
    // containerConfig returns a copy: keep it alive while `r` refers into it.
    const auto config = cri_->containerConfig(containerId);
    ASSERT_TRUE(config) << c.name;
    const auto& r = config->linux().resources();
    EXPECT_EQ(r.cpu_shares(), c.want.shares) << c.name;
    EXPECT_EQ(r.cpu_quota(), c.want.quota) << c.name;
    EXPECT_EQ(r.cpu_period(), 100000) << c.name;
    EXPECT_EQ(r.memory_limit_in_bytes(), c.want.memory) << c.name;
    EXPECT_EQ(r.oom_score_adj(), c.want.oom) << c.name;
  }
  // Each pod's cgroup was made before its RunPodSandbox.
  EXPECT_EQ(order_, (std::vector<std::string>{"ensure@0", "ensure@1", "ensure@2"}));
}

TEST_F(PodCgroupsRuntimeTest, CgroupFailureFailsTheSandbox) {
  m_.failOn("create /kubepods/burstable/podb2", absl::PermissionDeniedError("mkdir: EACCES"));
  SyncResult res = start(burstablePod("b2"));
  const std::string err =
      "failed to create container for [kubepods burstable podb2] : mkdir: EACCES";
  EXPECT_EQ(res.sandboxError,
            "failed to ensure that the pod: b2 cgroups exist and are correctly applied: " + err);
  // (The other event is the DNS warning of a node without cluster DNS.)
  const ContainerEvent* failed = nullptr;
  for (const auto& e : res.events) {
    if (e.event.reason == "FailedCreatePodContainer") failed = &e.event;
  }
  ASSERT_NE(failed, nullptr);
  EXPECT_TRUE(failed->warning);
  EXPECT_EQ(failed->message, "unable to ensure pod container exists: " + err);
  EXPECT_EQ(cri_->callCount("RunPodSandbox"), 0);
  EXPECT_TRUE(res.starts.empty());
}

TEST_F(PodCgroupsRuntimeTest, CgroupV1HostStillNamesTheParent) {
  m_.setManages(false);
  SyncResult res = start(burstablePod("b3"));
  EXPECT_EQ(res.sandboxError, "");
  EXPECT_TRUE(m_.calls.empty());
  auto ids = cri_->sandboxIds();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(cri_->sandboxConfig(ids[0])->linux().cgroup_parent(), "/kubepods/burstable/podb3");
}

}  // namespace
}  // namespace agent::runtime

// In-place resize: what computePodActions plans for running containers whose CPU or
// memory changed (pure, table-like), and what the runtime manager does with it against
// the gRPC CRI double and the in-memory cgroup manager: UpdateContainerResources with
// the kubelet's values and no restart, nothing when nothing changed, the pod cgroup
// before the containers when limits grow and after them when they shrink, no memory
// limit below current usage, failures retried on the next sync, a RestartContainer
// resizePolicy restarting the container instead, and the record of what each container
// was given surviving an agent restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <future>

#include <nlohmann/json.hpp>

#include "agent/api/pod_decode.h"
#include "agent/cm/pod_cgroups.h"
#include "agent/runtime/actuated_resources.h"
#include "agent/runtime/pod_actions.h"
#include "agent/runtime/runtime_manager.h"
#include "core/atomic_file.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/fake_cri_env.h"
#include "tests/unit/agent/cm/cm_test_pods.h"
#include "tests/unit/agent/cm/fake_cgroup_manager.h"

namespace agent::runtime {
namespace {

using namespace cubelet::testing;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMi = int64_t{1} << 20;

// --- The plan (pure).

ContainerRuntimeStatus running(const api::Container& spec, const std::string& id) {
  ContainerRuntimeStatus s;
  s.id = id;
  s.name = spec.name;
  s.state = ContainerState::kRunning;
  s.hash = containerHash(spec);
  s.actuated = spec.resources;
  return s;
}

PodRuntimeStatus runningPod(const api::Pod& pod) {
  PodRuntimeStatus st;
  st.uid = pod.metadata.uid;
  SandboxRuntimeStatus sb;
  sb.id = "sb";
  sb.state = SandboxState::kReady;
  sb.ip = "10.88.0.9";
  st.sandboxes.push_back(sb);
  for (const auto& c : pod.spec.containers) st.containers.push_back(running(c, "id-" + c.name));
  return st;
}

void setQuantity(api::Pod& pod, size_t i, const char* which, const char* name, const char* v) {
  auto& list = std::string(which) == "limits" ? pod.spec.containers[i].resources.limits
                                              : pod.spec.containers[i].resources.requests;
  list[name] = *api::Quantity::parse(v);
}

std::vector<std::string> names(const std::vector<ContainerToUpdate>& l) {
  std::vector<std::string> out;
  for (const auto& u : l) out.push_back(u.name);
  return out;
}

TEST(PodResizePlanTest, UnchangedResourcesPlanNothing) {
  api::Pod pod = guaranteedPod("u1", "500m", "128Mi");
  PodActions a = computePodActions(pod, runningPod(pod));
  EXPECT_TRUE(a.empty());
}

TEST(PodResizePlanTest, CpuLimitChangeUpdatesInPlace) {
  api::Pod before = guaranteedPod("u1", "500m", "128Mi");
  PodRuntimeStatus st = runningPod(before);
  api::Pod after = before;
  setQuantity(after, 0, "limits", "cpu", "800m");
  setQuantity(after, 0, "requests", "cpu", "800m");
  PodActions a = computePodActions(after, st);
  EXPECT_FALSE(a.killPod);
  EXPECT_TRUE(a.containersToKill.empty());
  EXPECT_TRUE(a.containersToStart.empty());
  EXPECT_TRUE(a.resize.memory.empty());
  ASSERT_EQ(a.resize.cpu.size(), 1u);
  EXPECT_EQ(a.resize.cpu[0].id, "id-c");
  EXPECT_EQ(resizeValuesOf(a.resize.cpu[0].desired).cpuLimitMilli, 800);
  EXPECT_EQ(resizeValuesOf(a.resize.cpu[0].current).cpuLimitMilli, 500);
}

TEST(PodResizePlanTest, DecreasesComeBeforeIncreases) {
  api::Pod before = podWith(
      "u2",
      {ctr("up", {{"cpu", "100m"}, {"memory", "64Mi"}}, {{"cpu", "200m"}, {"memory", "128Mi"}}),
       ctr("down", {{"cpu", "100m"}, {"memory", "64Mi"}}, {{"cpu", "200m"}, {"memory", "128Mi"}})});
  PodRuntimeStatus st = runningPod(before);
  api::Pod after = before;
  setQuantity(after, 0, "limits", "memory", "256Mi");
  setQuantity(after, 0, "limits", "cpu", "400m");
  setQuantity(after, 1, "limits", "memory", "96Mi");
  setQuantity(after, 1, "limits", "cpu", "150m");
  PodActions a = computePodActions(after, st);
  EXPECT_THAT(names(a.resize.memory), ElementsAre("down", "up"));
  EXPECT_THAT(names(a.resize.cpu), ElementsAre("down", "up"));
}

TEST(PodResizePlanTest, RequestOnlyChangeIsACpuUpdate) {
  api::Pod before = burstablePod("u3", "100m", "64Mi");
  PodRuntimeStatus st = runningPod(before);
  api::Pod after = before;
  setQuantity(after, 0, "requests", "cpu", "300m");
  PodActions a = computePodActions(after, st);
  ASSERT_EQ(a.resize.cpu.size(), 1u);
  EXPECT_TRUE(a.resize.memory.empty());
  // A memory request alone is in no cgroup: nothing to do.
  after = before;
  setQuantity(after, 0, "requests", "memory", "96Mi");
  EXPECT_TRUE(computePodActions(after, st).resize.empty());
}

TEST(PodResizePlanTest, QosClassChangeIsNotApplied) {
  api::Pod before = burstablePod("u4", "100m", "64Mi");
  PodRuntimeStatus st = runningPod(before);
  api::Pod after = before;
  // Requests equal to limits on every resource: Guaranteed.
  setQuantity(after, 0, "limits", "cpu", "100m");
  setQuantity(after, 0, "limits", "memory", "64Mi");
  PodActions a = computePodActions(after, st);
  EXPECT_TRUE(a.resize.empty());
  EXPECT_TRUE(a.containersToKill.empty());
}

TEST(PodResizePlanTest, StaticPodsAreNotResized) {
  api::Pod before = guaranteedPod("u5", "500m", "128Mi");
  before.metadata.annotations["kubernetes.io/config.source"] = "file";
  PodRuntimeStatus st = runningPod(before);
  api::Pod after = before;
  setQuantity(after, 0, "limits", "cpu", "800m");
  setQuantity(after, 0, "requests", "cpu", "800m");
  EXPECT_TRUE(computePodActions(after, st).resize.empty());
}

TEST(PodResizePlanTest, WithoutARecordTheRuntimesReportIsUsed) {
  api::Pod pod = burstablePod("u6", "100m", "64Mi");
  setQuantity(pod, 0, "limits", "cpu", "500m");
  PodRuntimeStatus st = runningPod(pod);
  st.containers[0].actuated.reset();
  // Nothing known: not enough information to resize.
  EXPECT_TRUE(computePodActions(pod, st).resize.empty());
  // What runc was given for 100m/500m: shares 102, quota 50000 of 100000; no memory limit.
  st.containers[0].reported = ContainerRuntimeStatus::Reported{102, 50000, 100000, 0};
  EXPECT_TRUE(computePodActions(pod, st).resize.empty()) << "the report rounds back to the spec";
  setQuantity(pod, 0, "limits", "cpu", "700m");
  PodActions a = computePodActions(pod, st);
  ASSERT_EQ(a.resize.cpu.size(), 1u);
  EXPECT_EQ(resizeValuesOf(a.resize.cpu[0].current).cpuLimitMilli, 500);
}

TEST(PodResizePlanTest, HashIgnoresResources) {
  auto hashOf = [](const char* container) {
    auto j = nlohmann::json::parse(std::string(R"({"apiVersion":"v1","kind":"Pod",
        "metadata":{"name":"p"},"spec":{"containers":[)") +
                                   container + "]}}");
    auto pod = api::decodePod(j);
    EXPECT_TRUE(pod.ok()) << pod.status();
    return containerHash(pod->spec.containers[0]);
  };
  std::string a = hashOf(R"({"name":"a","image":"busybox:1.35",
      "resources":{"limits":{"cpu":"1"}}})");
  EXPECT_EQ(a, hashOf(R"({"name":"a","image":"busybox:1.35",
      "resources":{"limits":{"cpu":"2"}},
      "resizePolicy":[{"resourceName":"cpu","restartPolicy":"NotRequired"}]})"));
  EXPECT_NE(a, hashOf(R"({"name":"a","image":"busybox:1.36"})"));
}

TEST(PodResizePlanTest, RestartContainerPolicyRestartsInstead) {
  api::Pod before = guaranteedPod("u8", "500m", "128Mi");
  before.spec.containers[0].resizePolicy = {{"cpu", "NotRequired"}, {"memory", "RestartContainer"}};
  PodRuntimeStatus st = runningPod(before);
  // CPU says NotRequired: in place.
  api::Pod after = before;
  setQuantity(after, 0, "limits", "cpu", "800m");
  setQuantity(after, 0, "requests", "cpu", "800m");
  PodActions a = computePodActions(after, st);
  EXPECT_TRUE(a.containersToKill.empty());
  EXPECT_EQ(a.resize.cpu.size(), 1u);
  // Memory says RestartContainer: the container restarts with everything new, and
  // nothing is updated in place.
  setQuantity(after, 0, "limits", "memory", "256Mi");
  setQuantity(after, 0, "requests", "memory", "256Mi");
  a = computePodActions(after, st);
  EXPECT_TRUE(a.resize.empty());
  EXPECT_FALSE(a.killPod);
  EXPECT_THAT(a.containersToStart, ElementsAre(0u));
  ASSERT_EQ(a.containersToKill.size(), 1u);
  EXPECT_EQ(a.containersToKill[0].id, "id-c");
  EXPECT_EQ(a.containersToKill[0].message, "Container c resize requires restart");
  // The resize is under way until the new container runs.
  EXPECT_TRUE(podResizeInProgress(after, st));
  EXPECT_FALSE(podResizeInProgress(before, st));
}

TEST(PodResizePlanTest, ErrorEventMessage) {
  api::Pod pod = guaranteedPod("u7", "500m", "128Mi");
  pod.metadata.generation = 3;
  EXPECT_EQ(podResizeErrorMessage(pod, "boom"),
            "Pod resize error: {\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"
            "{\"cpu\":\"500m\",\"memory\":\"128Mi\"},\"requests\":{\"cpu\":\"500m\",\"memory\":"
            "\"128Mi\"}}}],\"generation\":3,\"error\":\"boom\"}");
}

// --- Carried out against the CRI double.

class PodResizeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = startFakeCri("rt-resize");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    cri_->addImage("img");
    loopThread_ = std::make_unique<LoopThread>();
    qos_ = std::make_unique<cm::QosCgroups>(m_, cgroups::CgroupName{}, cgroups::ResourceConfig{},
                                            false);
    cm::PodCgroupsOptions o;
    o.qosUpdatePeriod = core::Duration(0);
    pc_ = std::make_unique<cm::PodCgroups>(loopThread_->loop(), m_, qos_.get(), o,
                                           [] { return cm::PodList{}; });
    std::promise<absl::Status> started;
    loopThread_->loop().post([&] { pc_->start([&](absl::Status s) { started.set_value(s); }); });
    ASSERT_TRUE(started.get_future().get().ok());
    makeRuntime();
  }

  void TearDown() override { loopThread_.reset(); }

  void makeRuntime() {
    RuntimeOptions opts = testRuntimeOptions(dir_);
    opts.resources.memoryCapacity = int64_t{4} << 30;
    opts.podCgroupParent = [this](const api::Pod& p) { return pc_->parentFor(p); };
    opts.ensurePodCgroup = [this](const std::shared_ptr<const api::Pod>& p) {
      return pc_->ensureBlocking(p, 5s);
    };
    opts.updatePodCgroup = [this](const std::shared_ptr<const api::Pod>& p,
                                  const cgroups::ResourceConfig& rc) {
      // How many container updates the runtime had when the pod cgroup was set.
      std::string what = rc.memoryMax ? "memory" : rc.cpuQuotaUs ? "cpu-limit" : "cpu-request";
      order_.push_back("pod " + what + "@" + std::to_string(cri_->resourceUpdates().size()));
      return pc_->updateBlocking(p, rc, 5s);
    };
    runtime_ = std::make_unique<RuntimeManager>(*client_, *client_, opts);
  }

  // One sync as the pod worker does it: plan from the runtime's view, then carry out.
  SyncResult sync(const api::Pod& pod) {
    SyncRequest req;
    req.pod = std::make_shared<const api::Pod>(pod);
    auto st = runtime_->getPodStatus(pod.metadata.uid);
    EXPECT_TRUE(st.ok()) << st.status();
    req.status = st.ok() ? *st : PodRuntimeStatus{};
    req.status.uid = pod.metadata.uid;
    req.actions = computePodActions(pod, req.status);
    for (size_t i : req.actions.containersToStart) req.starts.push_back({i, false});
    return runtime_->syncPod(req);
  }

  std::string containerOf(const api::Pod& pod, const std::string& name = "c") {
    for (const auto& id : cri_->containerIds()) {
      auto cfg = cri_->containerConfig(id);
      if (cfg && cfg->labels().at("io.kubernetes.pod.uid") == pod.metadata.uid &&
          cfg->metadata().name() == name)
        return id;
    }
    return "";
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

TEST_F(PodResizeRuntimeTest, CpuLimitChangeIsAppliedWithoutRestart) {
  api::Pod pod = guaranteedPod("g1", "500m", "128Mi");
  SyncResult first = sync(pod);
  ASSERT_EQ(first.starts.size(), 1u);
  ASSERT_EQ(first.starts[0].reason, "") << first.starts[0].message;
  const std::string id = containerOf(pod);
  ASSERT_FALSE(id.empty());

  // Nothing changed: no update.
  sync(pod);
  EXPECT_TRUE(cri_->resourceUpdates().empty());

  setQuantity(pod, 0, "limits", "cpu", "800m");
  setQuantity(pod, 0, "requests", "cpu", "800m");
  SyncResult res = sync(pod);
  EXPECT_EQ(res.resizeError, "");
  EXPECT_TRUE(res.starts.empty());
  auto updates = cri_->resourceUpdates();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].first, id);
  EXPECT_EQ(updates[0].second.cpu_quota(), 80000);
  EXPECT_EQ(updates[0].second.cpu_period(), 100000);
  EXPECT_EQ(updates[0].second.cpu_shares(), 819);
  EXPECT_EQ(updates[0].second.memory_limit_in_bytes(), 128 * kMi);
  EXPECT_EQ(cri_->callCount("StopContainer"), 0);
  EXPECT_EQ(cri_->callCount("CreateContainer"), 1);
  EXPECT_EQ(cri_->containerResources(id)->cpu_quota(), 80000);
  // The pod cgroup grew first: its quota and weight.
  EXPECT_THAT(order_, ElementsAre("pod cpu-limit@0", "pod cpu-request@0"));
  EXPECT_EQ(m_.config("/kubepods/podg1")->cpuQuotaUs, 80000);

  // Applied: the next sync has nothing to do, and the container still runs, never
  // restarted.
  sync(pod);
  EXPECT_EQ(cri_->resourceUpdates().size(), 1u);
  auto st = runtime_->getPodStatus("g1");
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->containers.size(), 1u);
  EXPECT_EQ(st->containers[0].state, ContainerState::kRunning);
  EXPECT_EQ(st->containers[0].restartCount, 0);
}

TEST_F(PodResizeRuntimeTest, PodCgroupFollowsContainersWhenShrinking) {
  api::Pod pod = guaranteedPod("g2", "1", "256Mi");
  sync(pod);
  setQuantity(pod, 0, "limits", "cpu", "500m");
  setQuantity(pod, 0, "requests", "cpu", "500m");
  setQuantity(pod, 0, "limits", "memory", "128Mi");
  setQuantity(pod, 0, "requests", "memory", "128Mi");
  SyncResult res = sync(pod);
  EXPECT_EQ(res.resizeError, "");
  auto updates = cri_->resourceUpdates();
  ASSERT_EQ(updates.size(), 2u);
  // Memory first (CPU still as it was), then CPU with the new memory.
  EXPECT_EQ(updates[0].second.memory_limit_in_bytes(), 128 * kMi);
  EXPECT_EQ(updates[0].second.cpu_quota(), 100000);
  EXPECT_EQ(updates[1].second.memory_limit_in_bytes(), 128 * kMi);
  EXPECT_EQ(updates[1].second.cpu_quota(), 50000);
  // Each of the pod cgroup's limits shrank after the container's.
  EXPECT_THAT(order_, ElementsAre("pod memory@1", "pod cpu-request@2", "pod cpu-limit@2"));
  EXPECT_EQ(m_.config("/kubepods/podg2")->memoryMax, 128 * kMi);
  EXPECT_EQ(m_.config("/kubepods/podg2")->cpuQuotaUs, 50000);
}

TEST_F(PodResizeRuntimeTest, MemoryLimitBelowUsageIsNotApplied) {
  api::Pod pod = guaranteedPod("g3", "500m", "256Mi");
  sync(pod);
  const std::string id = containerOf(pod);
  FakeCriServer::StatsValues v;
  v.memoryUsageBytes = 200 * kMi;
  cri_->setContainerStats(id, v);
  setQuantity(pod, 0, "limits", "memory", "128Mi");
  setQuantity(pod, 0, "requests", "memory", "128Mi");
  SyncResult res = sync(pod);
  EXPECT_THAT(res.resizeError,
              HasSubstr("Aborting attempt to set pod memory limit less than current memory usage "
                        "for pod p-g3"));
  EXPECT_TRUE(cri_->resourceUpdates().empty());
  EXPECT_TRUE(order_.empty());
  // Once it uses less, the next sync applies it.
  v.memoryUsageBytes = 64 * kMi;
  cri_->setContainerStats(id, v);
  res = sync(pod);
  EXPECT_EQ(res.resizeError, "");
  ASSERT_EQ(cri_->resourceUpdates().size(), 1u);
  EXPECT_EQ(cri_->resourceUpdates()[0].second.memory_limit_in_bytes(), 128 * kMi);
}

TEST_F(PodResizeRuntimeTest, FailedUpdateIsRetriedOnTheNextSync) {
  api::Pod pod = burstablePod("b1", "100m", "64Mi");
  setQuantity(pod, 0, "limits", "cpu", "400m");
  sync(pod);
  cri_->failWith("UpdateContainerResources", grpc::Status(grpc::StatusCode::UNKNOWN, "runc: nope"),
                 1);
  setQuantity(pod, 0, "limits", "cpu", "600m");
  SyncResult res = sync(pod);
  EXPECT_THAT(res.resizeError, HasSubstr("updateContainerResources failed for container c"));
  EXPECT_THAT(res.resizeError, HasSubstr("runc: nope"));
  EXPECT_EQ(cri_->callCount("UpdateContainerResources"), 1);
  res = sync(pod);
  EXPECT_EQ(res.resizeError, "");
  ASSERT_EQ(cri_->resourceUpdates().size(), 1u);
  EXPECT_EQ(cri_->resourceUpdates()[0].second.cpu_quota(), 60000);
  EXPECT_EQ(cri_->callCount("StopContainer"), 0);
}

TEST_F(PodResizeRuntimeTest, RestartContainerPolicyRecreatesTheContainer) {
  api::Pod pod = guaranteedPod("g4", "500m", "128Mi");
  pod.spec.containers[0].resizePolicy = {{"memory", "RestartContainer"}};
  sync(pod);
  const std::string first = containerOf(pod);
  setQuantity(pod, 0, "limits", "memory", "256Mi");
  setQuantity(pod, 0, "requests", "memory", "256Mi");
  SyncResult res = sync(pod);
  EXPECT_EQ(res.resizeError, "");
  EXPECT_TRUE(cri_->resourceUpdates().empty());
  EXPECT_EQ(cri_->callCount("StopContainer"), 1);
  EXPECT_EQ(cri_->callCount("CreateContainer"), 2);
  auto st = runtime_->getPodStatus("g4");
  ASSERT_TRUE(st.ok());
  const ContainerRuntimeStatus* now = st->findContainer("c");
  ASSERT_NE(now, nullptr);
  EXPECT_NE(now->id, first);
  EXPECT_EQ(now->state, ContainerState::kRunning);
  EXPECT_EQ(cri_->containerResources(now->id)->memory_limit_in_bytes(), 256 * kMi);
  // Created with the new values and recorded so: nothing left to do.
  sync(pod);
  EXPECT_TRUE(cri_->resourceUpdates().empty());
  EXPECT_EQ(cri_->callCount("CreateContainer"), 2);
}

TEST_F(PodResizeRuntimeTest, RecordSurvivesAnAgentRestart) {
  api::Pod pod = burstablePod("b2", "100m", "64Mi");
  setQuantity(pod, 0, "limits", "cpu", "400m");
  sync(pod);
  setQuantity(pod, 0, "limits", "cpu", "300m");
  ASSERT_EQ(sync(pod).resizeError, "");
  ASSERT_EQ(cri_->resourceUpdates().size(), 1u);

  // A new agent on the same root dir, with a runtime that reports nothing back.
  cri_->setReportsResources(false);
  makeRuntime();
  sync(pod);
  EXPECT_EQ(cri_->resourceUpdates().size(), 1u) << "the checkpoint says it is applied";
  setQuantity(pod, 0, "limits", "cpu", "200m");
  sync(pod);
  ASSERT_EQ(cri_->resourceUpdates().size(), 2u);
  EXPECT_EQ(cri_->resourceUpdates()[1].second.cpu_quota(), 20000);

  // Without the checkpoint and without a report: not enough information, no update.
  ASSERT_EQ(::unlink((dir_ + "/root/" + kActuatedResourcesCheckpoint).c_str()), 0)
      << "checkpoint under " << dir_;
  makeRuntime();
  setQuantity(pod, 0, "limits", "cpu", "100m");
  EXPECT_EQ(sync(pod).resizeError, "");
  EXPECT_EQ(cri_->resourceUpdates().size(), 2u);
}

TEST(ActuatedResourcesTest, CheckpointRoundTripAndDamage) {
  char tmpl[] = "/tmp/actuated-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/state";
  ActuatedResources a(path);
  ASSERT_TRUE(a.load().ok()) << "a missing file is an empty record";
  api::ResourceRequirements r;
  r.requests["cpu"] = *api::Quantity::parse("250m");
  r.limits["memory"] = *api::Quantity::parse("64Mi");
  r.limits["ephemeral-storage"] = *api::Quantity::parse("1Gi");
  ASSERT_TRUE(a.set("c1", r).ok());
  ActuatedResources b(path);
  ASSERT_TRUE(b.load().ok());
  auto got = b.get("c1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->requests.at("cpu").milliValue(), 250);
  EXPECT_EQ(got->limits.at("memory").value(), 64 * kMi);
  EXPECT_EQ(got->limits.count("ephemeral-storage"), 0u) << "only cpu and memory are kept";
  // Forgotten once the runtime no longer has it (and it was recorded before the list).
  ASSERT_TRUE(
      b.retain([](const std::string&) { return false; }, std::chrono::steady_clock::now()).ok());
  EXPECT_FALSE(b.get("c1").has_value());
  ActuatedResources c(path);
  ASSERT_TRUE(c.load().ok());
  EXPECT_FALSE(c.get("c1").has_value());

  ASSERT_TRUE(core::writeFileAtomic(path, "{not json").ok());
  absl::Status s = ActuatedResources(path).load();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace agent::runtime

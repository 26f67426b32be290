// Container GC: the pure choice of containers and sandboxes (table-driven), then a
// pass against the fake CRI server (real gRPC) with the runtime manager removing
// containers and their /var/log/containers links, and the loop side on a simulated
// loop (the 1-minute period, nothing before the first relist).
#include "agent/gc/container_gc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "agent/gc/garbage_collector.h"
#include "agent/runtime/labels.h"
#include "core/atomic_file.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/support/fake_cri_env.h"

namespace cubelet::testing {
namespace {

namespace v1 = ::runtime::v1;
using agent::gc::GcContainer;
using agent::gc::GcSandbox;
using agent::gc::PodGcState;
using agent::gc::PodGcStates;
using agent::runtime::ContainerState;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr PodGcState kLive{};
constexpr PodGcState kEvicted{.terminated = true, .evicted = true};
constexpr PodGcState kDeleted{.terminated = true, .deleted = true};
constexpr PodGcState kDeleting{.terminated = false, .deleted = true};
constexpr PodGcState kCompleted{.terminated = true};

GcContainer ctr(std::string id, std::string uid, std::string name, ContainerState st,
                int64_t created, std::string sandbox = "sb") {
  GcContainer c;
  c.id = std::move(id);
  c.podUid = std::move(uid);
  c.name = std::move(name);
  c.state = st;
  c.createdAtNs = created;
  c.sandboxId = std::move(sandbox);
  return c;
}

std::vector<std::string> ids(const std::vector<GcContainer>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.id);
  return out;
}

TEST(PodGcState, KubeletPredicates) {
  EXPECT_FALSE(agent::gc::shouldPodContentBeRemoved(kLive));
  EXPECT_TRUE(agent::gc::shouldPodContentBeRemoved(kEvicted));
  EXPECT_TRUE(agent::gc::shouldPodContentBeRemoved(kDeleted));
  EXPECT_FALSE(agent::gc::shouldPodContentBeRemoved(kDeleting));
  EXPECT_FALSE(agent::gc::shouldPodContentBeRemoved(kCompleted));
  // Evicted but still stopping: not yet.
  EXPECT_FALSE(agent::gc::shouldPodContentBeRemoved(PodGcState{.evicted = true}));
  EXPECT_TRUE(agent::gc::shouldPodRuntimeBeRemoved(kCompleted));
  EXPECT_FALSE(agent::gc::shouldPodRuntimeBeRemoved(kDeleting));
}

TEST(ContainersToRemove, LivePodKeepsItsContainers) {
  std::vector<GcContainer> cs = {
      ctr("run", "l", "app", ContainerState::kRunning, 40),
      ctr("x3", "l", "app", ContainerState::kExited, 30),
      ctr("x1", "l", "app", ContainerState::kExited, 10),
      ctr("x2", "l", "app", ContainerState::kExited, 20),
      ctr("init", "l", "init", ContainerState::kExited, 5),
      // A created instance may be a start in progress: left alone.
      ctr("new", "l", "side", ContainerState::kCreated, 50),
      ctr("old", "l", "side", ContainerState::kCreated, 1),
  };
  // Its older exited instances are the runtime manager's to prune after a sync.
  PodGcStates pods{{"l", kLive}};
  EXPECT_THAT(ids(agent::gc::containersToRemove(cs, pods, false)), IsEmpty());
  EXPECT_THAT(ids(agent::gc::containersToRemove(cs, pods, true)), IsEmpty());
}

TEST(ContainersToRemove, EndedPodsLoseEveryNonRunningContainer) {
  std::vector<GcContainer> cs;
  for (const char* uid : {"e", "d", "dn", "t", "u"}) {
    cs.push_back(ctr(std::string(uid) + "-old", uid, "app", ContainerState::kExited, 1));
    cs.push_back(ctr(std::string(uid) + "-new", uid, "app", ContainerState::kExited, 2));
    cs.push_back(ctr(std::string(uid) + "-init", uid, "init", ContainerState::kExited, 0));
    cs.push_back(ctr(std::string(uid) + "-c", uid, "side", ContainerState::kCreated, 3));
  }
  cs.push_back(ctr("dn-run", "dn", "web", ContainerState::kRunning, 4));
  // "u" has no worker: the pod workers' business.
  PodGcStates pods{{"e", kEvicted}, {"d", kDeleted}, {"dn", kDeleting}, {"t", kCompleted}};

  auto plain = ids(agent::gc::containersToRemove(cs, pods, false));
  EXPECT_THAT(plain, UnorderedElementsAre("e-old", "e-new", "e-init", "e-c", "d-old", "d-new",
                                          "d-init", "d-c"));
  auto reclaim = ids(agent::gc::containersToRemove(cs, pods, true));
  EXPECT_THAT(reclaim, UnorderedElementsAre("e-old", "e-new", "e-init", "e-c", "d-old", "d-new",
                                            "d-init", "d-c", "t-old", "t-new", "t-init", "t-c"));
}

TEST(SandboxesToRemove, InactiveOnesGoTheNewestOfALivePodStays) {
  std::vector<GcSandbox> sbs = {
      {"l-new", "l", false, 30},  // newest: stays even though not ready
      {"l-mid", "l", false, 20},  {"l-old", "l", false, 10},
      {"l-held", "l", false, 5},  // still holds a container
      {"e-1", "e", false, 10},    {"e-2", "e", false, 20},
      {"e-ready", "e", true, 30}, {"t-1", "t", false, 10},
      {"t-2", "t", false, 20},    {"u-1", "u", false, 1},
  };
  std::vector<GcContainer> remaining = {ctr("c", "l", "app", ContainerState::kExited, 1, "l-held")};
  PodGcStates pods{{"l", kLive}, {"e", kEvicted}, {"t", kCompleted}};
  EXPECT_THAT(agent::gc::sandboxesToRemove(sbs, remaining, pods, false),
              UnorderedElementsAre("l-mid", "l-old", "e-1", "e-2", "t-1"));
  EXPECT_THAT(agent::gc::sandboxesToRemove(sbs, remaining, pods, true),
              UnorderedElementsAre("l-mid", "l-old", "e-1", "e-2", "t-1", "t-2"));
}

// A fake runtime with pods made the way the agent makes them (identity labels).
class ContainerGcRig {
 public:
  explicit ContainerGcRig(const std::string& name) {
    auto env = startFakeCri(name);
    if (!env.ok()) {
      ADD_FAILURE() << env.status();
      return;
    }
    env_ = std::move(*env);
    opts_ = testRuntimeOptions(env_.dir);
    EXPECT_TRUE(core::mkdirAll(opts_.containerLogsLinkDir, 0755).ok());
    manager_ = std::make_unique<agent::runtime::RuntimeManager>(*env_.client, *env_.client, opts_);
    gc_ = std::make_unique<agent::gc::ContainerGc>(*env_.client, *manager_);
    env_.server->addImage("docker.io/library/busybox:1.36");
  }
  ~ContainerGcRig() {
    gc_.reset();
    manager_.reset();
    env_.client.reset();
    env_.server.reset();
    if (!env_.dir.empty()) {
      EXPECT_TRUE(core::removeAll(env_.dir).ok());
    }
  }
  bool ok() const { return env_.client != nullptr; }

  // A ready sandbox of pod `uid`, and the pod's log directory.
  std::string sandbox(const std::string& uid) {
    auto id = env_.client->runPodSandbox(sandboxConfig(uid), "");
    EXPECT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(core::mkdirAll(logDir(uid) + "/app", 0755).ok());
    return id.ok() ? *id : "";
  }
  // The pod stopped: its sandbox is not ready any more.
  void stop(const std::string& sandboxId) {
    EXPECT_TRUE(env_.client->stopPodSandbox(sandboxId).ok());
  }
  // A container of pod `uid` in `sandboxId`; `exitCode` set: it ran and exited.
  std::string container(const std::string& sandboxId, const std::string& uid,
                        const std::string& name, std::optional<int> exitCode) {
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name(name);
    c.mutable_image()->set_image("docker.io/library/busybox:1.36");
    for (const auto& [k, v] :
         agent::runtime::containerLabels({"pod-" + uid, "default", uid}, name)) {
      (*c.mutable_labels())[k] = v;
    }
    auto id = env_.client->createContainer(sandboxId, c, sandboxConfig(uid));
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return "";
    EXPECT_TRUE(env_.client->startContainer(*id).ok());
    if (exitCode) env_.server->exitContainer(*id, *exitCode, *exitCode ? "Error" : "Completed");
    // The link log shippers follow, which must go with the container.
    std::ofstream(linkPath(uid, name, *id)) << "";
    return *id;
  }
  std::string linkPath(const std::string& uid, const std::string& name, const std::string& id) {
    return opts_.containerLogsLinkDir + "/pod-" + uid + "_default_" + name + "-" + id + ".log";
  }
  std::string logDir(const std::string& uid) {
    return opts_.podLogsDir + "/default_pod-" + uid + "_" + uid;
  }

  FakeCriServer& server() { return *env_.server; }
  cri::GrpcRuntimeClient& client() { return *env_.client; }
  agent::gc::ContainerGc& gc() { return *gc_; }

 private:
  v1::PodSandboxConfig sandboxConfig(const std::string& uid) {
    v1::PodSandboxConfig sb;
    sb.mutable_metadata()->set_name("pod-" + uid);
    sb.mutable_metadata()->set_namespace_("default");
    sb.mutable_metadata()->set_uid(uid);
    for (const auto& [k, v] : agent::runtime::sandboxLabels({"pod-" + uid, "default", uid}, {})) {
      (*sb.mutable_labels())[k] = v;
    }
    return sb;
  }

  FakeCriEnv env_;
  agent::runtime::RuntimeOptions opts_;
  std::unique_ptr<agent::runtime::RuntimeManager> manager_;
  std::unique_ptr<agent::gc::ContainerGc> gc_;
};

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::set<std::string> asSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

TEST(ContainerGc, RemovesWhatEndedPodsLeftAndOldSandboxesOfLivePods) {
  ContainerGcRig rig("container-gc");
  ASSERT_TRUE(rig.ok());
  // Evicted and terminated: everything goes, logs too.
  std::string eSb = rig.sandbox("e");
  std::string eApp = rig.container(eSb, "e", "app", 137);
  std::string eInit = rig.container(eSb, "e", "init", 0);
  rig.stop(eSb);
  // Deleted and terminated.
  std::string dSb = rig.sandbox("d");
  std::string dApp = rig.container(dSb, "d", "app", 0);
  rig.stop(dSb);
  // Terminated (Succeeded), neither deleted nor evicted: kept unless reclaiming.
  std::string tSb = rig.sandbox("t");
  std::string tApp = rig.container(tSb, "t", "app", 0);
  rig.stop(tSb);
  // Live: exited instances (the runtime manager's to prune) and a running one; an
  // old dead sandbox.
  std::string lOldSb = rig.sandbox("l");
  rig.stop(lOldSb);
  std::string lSb = rig.sandbox("l");
  std::string l1 = rig.container(lSb, "l", "app", 1);
  std::string l2 = rig.container(lSb, "l", "app", 1);
  std::string l3 = rig.container(lSb, "l", "app", 1);
  std::string lRun = rig.container(lSb, "l", "app", std::nullopt);
  // No worker for it: left to the pod workers.
  std::string uSb = rig.sandbox("u");
  std::string uApp = rig.container(uSb, "u", "app", 0);
  rig.stop(uSb);

  PodGcStates pods{{"e", kEvicted}, {"d", kDeleted}, {"t", kCompleted}, {"l", kLive}};
  auto r = rig.gc().garbageCollect(pods, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->containers, UnorderedElementsAre(eApp, eInit, dApp));
  EXPECT_THAT(r->sandboxes, UnorderedElementsAre(eSb, dSb, lOldSb));
  EXPECT_EQ(asSet(rig.server().containerIds()),
            (std::set<std::string>{tApp, l1, l2, l3, lRun, uApp}));
  EXPECT_EQ(asSet(rig.server().sandboxIds()), (std::set<std::string>{tSb, lSb, uSb}));
  EXPECT_FALSE(exists(rig.linkPath("e", "app", eApp)));
  EXPECT_FALSE(exists(rig.linkPath("e", "init", eInit)));
  EXPECT_TRUE(exists(rig.linkPath("l", "app", l1)));
  EXPECT_TRUE(exists(rig.linkPath("l", "app", l3)));
  EXPECT_TRUE(exists(rig.linkPath("t", "app", tApp)));
  EXPECT_FALSE(exists(rig.logDir("e")));
  EXPECT_FALSE(exists(rig.logDir("d")));
  EXPECT_TRUE(exists(rig.logDir("t")));
  EXPECT_TRUE(exists(rig.logDir("l")));
  EXPECT_TRUE(exists(rig.logDir("u")));

  // The eviction manager's reclaim: every terminated pod goes (its log directory
  // stays, as the kubelet's, which removes only content-removed pods' logs).
  r = rig.gc().garbageCollect(pods, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->containers, ElementsAre(tApp));
  EXPECT_THAT(r->sandboxes, ElementsAre(tSb));
  EXPECT_EQ(asSet(rig.server().containerIds()), (std::set<std::string>{l1, l2, l3, lRun, uApp}));
  EXPECT_EQ(asSet(rig.server().sandboxIds()), (std::set<std::string>{lSb, uSb}));
  EXPECT_FALSE(exists(rig.linkPath("t", "app", tApp)));
  EXPECT_TRUE(exists(rig.logDir("t")));

  // Nothing more the next time.
  r = rig.gc().garbageCollect(pods, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->containers, IsEmpty());
  EXPECT_THAT(r->sandboxes, IsEmpty());
}

TEST(ContainerGc, ListingFailureFailsThePass) {
  ContainerGcRig rig("container-gc-fail");
  ASSERT_TRUE(rig.ok());
  rig.server().failWith("ListContainers", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  auto r = rig.gc().garbageCollect({}, false);
  EXPECT_FALSE(r.ok());
}

class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override { job(); }
};

TEST(GarbageCollector, ContainerPassEveryMinuteOnceTheRuntimeWasListed) {
  ContainerGcRig rig("container-gc-loop");
  ASSERT_TRUE(rig.ok());
  std::string sb = rig.sandbox("e");
  rig.container(sb, "e", "app", 137);
  rig.stop(sb);

  core::SimEventLoop loop;
  InlinePool pool;
  agent::gc::ImageGcManager imageGc(rig.client(), rig.client(), {}, nullptr);
  std::optional<PodGcStates> states;  // not listed yet
  std::vector<std::string> events;
  agent::gc::GarbageCollectorDeps deps;
  deps.podStates = [&] { return states; };
  deps.nodeWarning = [&](const std::string& reason, const std::string&) {
    events.push_back(reason);
  };
  agent::gc::GarbageCollector gc(loop, pool, rig.gc(), imageGc, {}, std::move(deps));
  gc.start();
  loop.runPending();
  loop.advance(std::chrono::minutes(1));
  loop.runPending();
  EXPECT_EQ(rig.server().containerIds().size(), 1u);

  states = PodGcStates{{"e", kEvicted}};
  loop.advance(std::chrono::seconds(59));
  loop.runPending();
  EXPECT_EQ(rig.server().containerIds().size(), 1u);
  loop.advance(std::chrono::seconds(1));
  loop.runPending();
  EXPECT_THAT(rig.server().containerIds(), IsEmpty());
  EXPECT_THAT(rig.server().sandboxIds(), IsEmpty());

  // A failing pass is a ContainerGCFailed event on the node.
  rig.server().failWith("ListContainers", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  loop.advance(std::chrono::minutes(1));
  loop.runPending();
  EXPECT_THAT(events, ElementsAre(agent::gc::kContainerGCFailed));

  // The eviction manager's reclaim, on demand.
  rig.server().clearFaults();
  std::string tSb = rig.sandbox("t");
  rig.container(tSb, "t", "app", 0);
  rig.stop(tSb);
  states = PodGcStates{{"t", kCompleted}};
  std::optional<absl::Status> done;
  gc.deleteAllUnusedContainers([&](absl::Status s) { done = s; });
  loop.runPending();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok()) << *done;
  EXPECT_THAT(rig.server().containerIds(), IsEmpty());
}

}  // namespace
}  // namespace cubelet::testing

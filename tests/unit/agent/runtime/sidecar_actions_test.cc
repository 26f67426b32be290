// Sidecar containers (init containers with restartPolicy Always) as the kubelet runs
// them: started in order with the init containers (done once started, or once the
// startup probe succeeded), restarted whatever the pod's restart policy, killed on a
// failed liveness/startup probe, stopped with the pod once the app containers
// completed, and stopped after the app containers (in reverse order) on termination.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "agent/runtime/pod_actions.h"
#include "agent/runtime/runtime_manager.h"
#include "agent/runtime/sidecars.h"
#include "agent/status/pod_status_compute.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/fake_cri_env.h"

namespace agent::runtime {
namespace {

using namespace std::chrono_literals;

api::Container ctr(const std::string& name, bool sidecar = false) {
  api::Container c;
  c.name = name;
  c.image = "img";
  c.specHash = "hash-" + name;
  if (sidecar) c.restartPolicy = "Always";
  return c;
}

// Init containers A (regular), S (sidecar), B (regular); app container C.
api::Pod sidecarPod(const std::string& policy = "Always") {
  api::Pod p;
  p.metadata.name = "p";
  p.metadata.namespace_ = "default";
  p.metadata.uid = "uid-sc";
  p.spec.restartPolicy = policy;
  p.spec.terminationGracePeriodSeconds = 30;
  p.spec.initContainers = {ctr("A"), ctr("S", true), ctr("B")};
  p.spec.containers = {ctr("C")};
  return p;
}

SandboxRuntimeStatus readySandbox() {
  SandboxRuntimeStatus s;
  s.id = "sb0";
  s.state = SandboxState::kReady;
  s.ip = "10.88.0.5";
  return s;
}

ContainerRuntimeStatus cstat(const api::Container& spec, ContainerState st, int exitCode = 0,
                             int64_t created = 1) {
  ContainerRuntimeStatus c;
  c.id = spec.name + std::to_string(created);
  c.name = spec.name;
  c.state = st;
  c.exitCode = exitCode;
  c.hash = containerHash(spec);
  c.createdAtNs = created;
  c.sandboxId = "sb0";
  return c;
}

PodRuntimeStatus withSandbox(std::vector<ContainerRuntimeStatus> cs) {
  PodRuntimeStatus st;
  st.uid = "uid-sc";
  st.sandboxes.push_back(readySandbox());
  st.containers = std::move(cs);
  sortNewestFirst(st);
  return st;
}

TEST(SidecarActionsTest, IsSidecar) {
  EXPECT_TRUE(isSidecar(ctr("s", true)));
  EXPECT_FALSE(isSidecar(ctr("a")));
  auto pod = sidecarPod();
  EXPECT_TRUE(isSidecarName(pod, "S"));
  EXPECT_FALSE(isSidecarName(pod, "A"));
  EXPECT_FALSE(isSidecarName(pod, "C"));
}

TEST(SidecarActionsTest, StartsInOrderAndSidecarKeepsRunning) {
  auto pod = sidecarPod();
  const auto& in = pod.spec.initContainers;
  // Nothing ran: the first init container.
  auto a = computePodActions(pod, withSandbox({}));
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{0}));
  EXPECT_TRUE(a.containersToStart.empty());
  // A running: wait.
  a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kRunning)}));
  EXPECT_TRUE(a.empty());
  // A done: the sidecar S.
  a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kExited)}));
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1}));
  // S running (no startup probe: started): B starts while S keeps running.
  a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                                          cstat(in[1], ContainerState::kRunning, 0, 2)}));
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{2}));
  EXPECT_TRUE(a.containersToKill.empty());
  EXPECT_TRUE(a.containersToStart.empty());
  // B running: wait for it, S untouched.
  a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                                          cstat(in[1], ContainerState::kRunning, 0, 2),
                                          cstat(in[2], ContainerState::kRunning, 0, 3)}));
  EXPECT_TRUE(a.empty());
  // B done: the app container, with S still running.
  a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                                          cstat(in[1], ContainerState::kRunning, 0, 2),
                                          cstat(in[2], ContainerState::kExited, 0, 3)}));
  EXPECT_TRUE(a.initContainersToStart.empty());
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{0}));
  EXPECT_FALSE(a.killPod);
  // All running: nothing to do.
  a = computePodActions(
      pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                        cstat(in[1], ContainerState::kRunning, 0, 2),
                        cstat(in[2], ContainerState::kExited, 0, 3),
                        cstat(pod.spec.containers[0], ContainerState::kRunning, 0, 4)}));
  EXPECT_TRUE(a.empty());
}

TEST(SidecarActionsTest, SidecarAsLastInitContainerInitializesThePod) {
  api::Pod pod = sidecarPod();
  pod.spec.initContainers = {ctr("A"), ctr("S", true)};
  auto a = computePodActions(
      pod, withSandbox({cstat(pod.spec.initContainers[0], ContainerState::kExited, 0, 1),
                        cstat(pod.spec.initContainers[1], ContainerState::kRunning, 0, 2)}));
  EXPECT_TRUE(a.initContainersToStart.empty());
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{0}));
}

TEST(SidecarActionsTest, CrashedSidecarRestartsAfterInitWhateverThePolicy) {
  for (const char* policy : {"Always", "OnFailure", "Never"}) {
    auto pod = sidecarPod(policy);
    const auto& in = pod.spec.initContainers;
    for (int exitCode : {0, 1}) {
      auto a = computePodActions(
          pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                            cstat(in[1], ContainerState::kExited, exitCode, 2),
                            cstat(in[2], ContainerState::kExited, 0, 3),
                            cstat(pod.spec.containers[0], ContainerState::kRunning, 0, 4)}));
      EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1})) << policy << " " << exitCode;
      EXPECT_TRUE(a.containersToStart.empty()) << policy;
      EXPECT_FALSE(a.killPod) << policy;
    }
    // Its record gone (removed): started again too; A and B are not.
    auto a = computePodActions(
        pod, withSandbox({cstat(pod.spec.containers[0], ContainerState::kRunning, 0, 4)}));
    EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1})) << policy;
  }
}

TEST(SidecarActionsTest, CrashedSidecarDuringInitRestartsBeforeTheNext) {
  auto pod = sidecarPod("Never");
  const auto& in = pod.spec.initContainers;
  // S crashed while B runs: S is started again, B keeps running.
  auto a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                                               cstat(in[1], ContainerState::kExited, 2, 2),
                                               cstat(in[2], ContainerState::kRunning, 0, 3)}));
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1}));
  EXPECT_FALSE(a.killPod);
  // A regular init container failing under Never fails the pod.
  a = computePodActions(pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                                          cstat(in[1], ContainerState::kRunning, 0, 2),
                                          cstat(in[2], ContainerState::kExited, 1, 3)}));
  EXPECT_TRUE(a.killPod);
  EXPECT_TRUE(a.initContainersToStart.empty());
}

TEST(SidecarActionsTest, StartupProbeGatesTheNextInitContainer) {
  auto pod = sidecarPod();
  pod.spec.initContainers[1].startupProbe = api::Probe{};
  const auto& in = pod.spec.initContainers;
  auto st = withSandbox(
      {cstat(in[0], ContainerState::kExited, 0, 1), cstat(in[1], ContainerState::kRunning, 0, 2)});
  bool started = false;
  std::optional<ProbeFailure> failure;
  ProbeVerdict verdict = [&](const api::Pod&, const api::Container& c,
                             const ContainerRuntimeStatus&) -> std::optional<ProbeFailure> {
    return c.name == "S" ? failure : std::nullopt;
  };
  StartupCheck check = [&](const api::Pod&, const api::Container& c,
                           const ContainerRuntimeStatus&) { return c.name == "S" && started; };
  // Not started yet: B waits.
  auto a = computePodActions(pod, st, verdict, check);
  EXPECT_TRUE(a.empty());
  // Without a prober the startup probe never succeeds.
  EXPECT_TRUE(computePodActions(pod, st).empty());
  // Started: B starts.
  started = true;
  a = computePodActions(pod, st, verdict, check);
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{2}));
  // The startup probe failed: S is killed and started again, B still waits.
  started = false;
  failure = ProbeFailure{"startup", 7};
  a = computePodActions(pod, st, verdict, check);
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1}));
  ASSERT_EQ(a.containersToKill.size(), 1u);
  EXPECT_EQ(a.containersToKill[0].id, "S2");
  EXPECT_EQ(a.containersToKill[0].message, "Init container S failed startup probe");
  EXPECT_EQ(a.containersToKill[0].gracePeriodSeconds, std::optional<int64_t>(7));
}

TEST(SidecarActionsTest, LivenessFailureAndSpecChangeRestartTheSidecar) {
  auto pod = sidecarPod();
  pod.spec.initContainers[1].livenessProbe = api::Probe{};
  const auto& in = pod.spec.initContainers;
  auto st = withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                         cstat(in[1], ContainerState::kRunning, 0, 2),
                         cstat(in[2], ContainerState::kExited, 0, 3),
                         cstat(pod.spec.containers[0], ContainerState::kRunning, 0, 4)});
  ProbeVerdict verdict = [](const api::Pod&, const api::Container& c,
                            const ContainerRuntimeStatus&) -> std::optional<ProbeFailure> {
    if (c.name == "S") return ProbeFailure{"liveness", std::nullopt};
    return std::nullopt;
  };
  auto a = computePodActions(pod, st, verdict);
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1}));
  ASSERT_EQ(a.containersToKill.size(), 1u);
  EXPECT_EQ(a.containersToKill[0].name, "S");
  EXPECT_EQ(a.containersToKill[0].message, "Init container S failed liveness probe");
  EXPECT_FALSE(a.killPod);
  EXPECT_TRUE(a.containersToStart.empty());  // C keeps running

  pod.spec.initContainers[1].specHash = "hash-S-v2";
  a = computePodActions(pod, st);
  EXPECT_EQ(a.initContainersToStart, (std::vector<size_t>{1}));
  ASSERT_EQ(a.containersToKill.size(), 1u);
  EXPECT_EQ(a.containersToKill[0].message, "Init container S definition changed");
}

TEST(SidecarActionsTest, AppsCompletedStopsTheSidecars) {
  for (const char* policy : {"Never", "OnFailure"}) {
    auto pod = sidecarPod(policy);
    const auto& in = pod.spec.initContainers;
    auto a = computePodActions(
        pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                          cstat(in[1], ContainerState::kRunning, 0, 2),
                          cstat(in[2], ContainerState::kExited, 0, 3),
                          cstat(pod.spec.containers[0], ContainerState::kExited, 0, 4)}));
    EXPECT_TRUE(a.killPod) << policy;
    EXPECT_FALSE(a.createSandbox) << policy;
    EXPECT_TRUE(a.initContainersToStart.empty()) << policy;
    // A sidecar that crashed meanwhile is not started again either.
    a = computePodActions(
        pod, withSandbox({cstat(in[0], ContainerState::kExited, 0, 1),
                          cstat(in[1], ContainerState::kExited, 1, 2),
                          cstat(in[2], ContainerState::kExited, 0, 3),
                          cstat(pod.spec.containers[0], ContainerState::kExited, 0, 4)}));
    EXPECT_TRUE(a.killPod) << policy;
    EXPECT_TRUE(a.initContainersToStart.empty()) << policy;
  }
}

TEST(SidecarActionsTest, TerminationOrderingWaitsForAppsThenLaterSidecars) {
  api::Pod pod = sidecarPod();
  pod.spec.initContainers = {ctr("S1", true), ctr("A"), ctr("S2", true)};
  pod.spec.containers = {ctr("C1"), ctr("C2")};
  TerminationOrdering o(pod, {"S1", "S2", "C1", "C2"});
  std::mutex mu;
  std::vector<std::string> order;
  auto note = [&](const std::string& s) {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(s);
  };
  // App containers and regular init containers do not wait.
  EXPECT_EQ(o.waitForTurn("C1", 30), 0);
  EXPECT_EQ(o.waitForTurn("A", 30), 0);
  std::thread s1([&] {
    o.waitForTurn("S1", 30);
    note("S1");
    o.containerTerminated("S1");
  });
  std::thread s2([&] {
    o.waitForTurn("S2", 30);
    note("S2");
    o.containerTerminated("S2");
  });
  std::this_thread::sleep_for(100ms);
  note("C1");
  o.containerTerminated("C1");
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(order, (std::vector<std::string>{"C1"}));  // C2 still runs
  }
  note("C2");
  o.containerTerminated("C2");
  s1.join();
  s2.join();
  EXPECT_EQ(order, (std::vector<std::string>{"C1", "C2", "S2", "S1"}));
}

TEST(SidecarActionsTest, TerminationOrderingGivesUpAfterTheGracePeriod) {
  api::Pod pod = sidecarPod();
  TerminationOrdering o(pod, {"S", "C"});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(o.waitForTurn("S", 1), 1);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(o.waitForTurn("S", 0), 0);  // no grace: no wait
  // Containers that were not running are not waited for.
  TerminationOrdering idle(pod, {"S"});
  EXPECT_EQ(idle.waitForTurn("S", 30), 0);
}

// killPod through the CRI double: the sidecars' StopContainer calls come after the
// app container's has returned, the later sidecar first.
TEST(SidecarActionsTest, KillPodStopsSidecarsLastInReverseOrder) {
  auto env = cubelet::testing::startFakeCri("rt-sidecars");
  ASSERT_TRUE(env.ok()) << env.status();
  env->server->addImage("img");
  RuntimeManager rm(*env->client, *env->client, cubelet::testing::testRuntimeOptions(env->dir));
  api::Pod pod = sidecarPod("Never");
  pod.spec.initContainers = {ctr("S1", true), ctr("A"), ctr("S2", true)};
  pod.spec.containers = {ctr("C")};
  auto spec = std::make_shared<const api::Pod>(pod);
  // Drive the pod to running: S1, A (exits), S2, C.
  PodRuntimeStatus status;
  status.uid = pod.metadata.uid;
  for (int round = 0; round < 8; ++round) {
    SyncRequest req;
    req.pod = spec;
    req.status = status;
    req.actions = computePodActions(pod, status);
    for (size_t i : req.actions.initContainersToStart) req.starts.push_back({i, true});
    for (size_t i : req.actions.containersToStart) req.starts.push_back({i, false});
    if (req.actions.empty()) break;
    SyncResult res = rm.syncPod(req);
    ASSERT_EQ(res.sandboxError, "");
    for (const auto& s : res.starts) ASSERT_EQ(s.reason, "") << s.name << ": " << s.message;
    ASSERT_TRUE(res.fresh);
    status = *res.fresh;
    // The regular init container A "exits" as soon as it runs.
    for (const auto& c : status.containers) {
      if (c.name == "A" && c.state == ContainerState::kRunning) {
        env->server->exitContainer(c.id, 0, "Completed");
        auto fresh = rm.getPodStatus(pod.metadata.uid);
        ASSERT_TRUE(fresh.ok());
        status = *fresh;
      }
    }
  }
  std::map<std::string, std::string> ids;
  for (const auto& c : status.containers) {
    if (c.state == ContainerState::kRunning) ids[c.name] = c.id;
  }
  ASSERT_EQ(ids.size(), 3u) << "S1, S2 and C running";

  env->server->delay("StopContainer", 300ms);
  KillRequest kill;
  kill.status = status;
  kill.pod = spec;
  kill.gracePeriodSeconds = 10;
  KillResult k = rm.killPod(kill);
  EXPECT_TRUE(k.status.ok()) << k.status;
  std::vector<std::string> stopped;
  for (const auto& [id, grace] : env->server->stopCalls()) {
    for (const auto& [name, cid] : ids) {
      if (cid == id) stopped.push_back(name);
    }
  }
  EXPECT_EQ(stopped, (std::vector<std::string>{"C", "S2", "S1"}));
}

}  // namespace
}  // namespace agent::runtime

namespace agent::status {
namespace {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;

ContainerRuntimeStatus run(const std::string& name, ContainerState st, int exitCode = 0,
                           int64_t created = 1) {
  ContainerRuntimeStatus c;
  c.id = name + std::to_string(created);
  c.name = name;
  c.state = st;
  c.exitCode = exitCode;
  c.createdAtNs = created;
  c.startedAtNs = 1700000000000000000;
  c.finishedAtNs = st == ContainerState::kExited ? 1700000001000000000 : 0;
  c.sandboxId = "sb0";
  return c;
}

struct StatusFixture {
  api::Pod pod;
  runtime::PodRuntimeStatus rt;
  std::map<std::string, runtime::WaitingReason> waiting;
  std::map<std::string, ContainerHealth> health;  // by container id
  StatusFixture(const std::string& policy) {
    pod.metadata.name = "p";
    pod.metadata.namespace_ = "default";
    pod.metadata.uid = "u";
    pod.spec.restartPolicy = policy;
    pod.spec.initContainers = {api::Container{.name = "A", .image = "img"},
                               api::Container{.name = "S", .image = "img"},
                               api::Container{.name = "B", .image = "img"}};
    pod.spec.initContainers[1].restartPolicy = "Always";
    pod.spec.containers = {api::Container{.name = "C", .image = "img"}};
    runtime::SandboxRuntimeStatus sb;
    sb.id = "sb0";
    sb.state = runtime::SandboxState::kReady;
    sb.ip = "10.88.0.9";
    rt.sandboxes.push_back(sb);
  }
  void set(std::vector<ContainerRuntimeStatus> cs) {
    rt.containers = std::move(cs);
    runtime::sortNewestFirst(rt);
  }
  api::PodStatus compute() {
    StatusInput in;
    in.pod = &pod;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.hostIP = "192.0.2.10";
    in.now = core::WallTime(std::chrono::seconds(1700000100));
    in.startTime = core::WallTime(std::chrono::seconds(1700000000));
    in.health = [this](const std::string&, const std::string& id) {
      auto it = health.find(id);
      return it == health.end() ? ContainerHealth{} : it->second;
    };
    return computePodStatus(in);
  }
};

const api::PodCondition& cond(const api::PodStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return c;
  }
  static api::PodCondition none;
  return none;
}

TEST(SidecarStatusTest, RunningSidecarDuringInit) {
  StatusFixture f("Always");
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kRunning, 0, 2),
         run("B", ContainerState::kRunning, 0, 3)});
  auto s = f.compute();
  ASSERT_EQ(s.initContainerStatuses.size(), 3u);
  const auto& a = s.initContainerStatuses[0];
  const auto& sc = s.initContainerStatuses[1];
  EXPECT_TRUE(a.ready);  // a regular init container that succeeded
  EXPECT_EQ(a.started, false);
  ASSERT_TRUE(sc.state.running);
  EXPECT_EQ(sc.started, true);
  EXPECT_TRUE(sc.ready);
  EXPECT_EQ(s.initContainerStatuses[2].started, true);  // B runs
  EXPECT_FALSE(s.initContainerStatuses[2].ready);
  EXPECT_EQ(s.phase, "Pending");
  EXPECT_EQ(cond(s, "Initialized").status, "False");
  EXPECT_EQ(cond(s, "Initialized").message, "containers with incomplete status: [B]");
  EXPECT_EQ(cond(s, "ContainersReady").message, "containers with unready status: [C]");
}

TEST(SidecarStatusTest, NotStartedSidecarHoldsInitialization) {
  StatusFixture f("Always");
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kRunning, 0, 2)});
  f.health["S2"] = {false, false};  // its startup probe has not succeeded
  auto s = f.compute();
  EXPECT_EQ(s.initContainerStatuses[1].started, false);
  EXPECT_FALSE(s.initContainerStatuses[1].ready);
  EXPECT_EQ(s.phase, "Pending");
  EXPECT_EQ(cond(s, "Initialized").message, "containers with incomplete status: [S B]");
}

TEST(SidecarStatusTest, SidecarReadinessFeedsPodReady) {
  StatusFixture f("Always");
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kRunning, 0, 2),
         run("B", ContainerState::kExited, 0, 3), run("C", ContainerState::kRunning, 0, 4)});
  f.health["S2"] = {true, false};
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Running");
  EXPECT_EQ(cond(s, "Initialized").status, "True");
  EXPECT_EQ(cond(s, "ContainersReady").status, "False");
  EXPECT_EQ(cond(s, "ContainersReady").message, "containers with unready status: [S]");
  EXPECT_EQ(cond(s, "Ready").status, "False");
  f.health["S2"] = {true, true};
  s = f.compute();
  EXPECT_EQ(cond(s, "Ready").status, "True");
  // The sidecar restarting after init keeps the pod initialized and Running.
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kExited, 137, 2),
         run("B", ContainerState::kExited, 0, 3), run("C", ContainerState::kRunning, 0, 4)});
  f.waiting["S"] = {"CrashLoopBackOff", "back-off 10s restarting failed container=S"};
  s = f.compute();
  EXPECT_EQ(s.phase, "Running");
  EXPECT_EQ(cond(s, "Initialized").status, "True");
  ASSERT_TRUE(s.initContainerStatuses[1].state.waiting);
  EXPECT_EQ(s.initContainerStatuses[1].state.waiting->reason, "CrashLoopBackOff");
  EXPECT_EQ(cond(s, "Ready").status, "False");
}

TEST(SidecarStatusTest, CompletedAppsWithSidecarStoppedIsSucceeded) {
  StatusFixture f("Never");
  // The app completed, the sidecar still runs: Running until it is stopped.
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kRunning, 0, 2),
         run("B", ContainerState::kExited, 0, 3), run("C", ContainerState::kExited, 0, 4)});
  EXPECT_EQ(f.compute().phase, "Running");
  // Stopped (SIGTERM: 143): Succeeded; its exit code does not count.
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kExited, 143, 2),
         run("B", ContainerState::kExited, 0, 3), run("C", ContainerState::kExited, 0, 4)});
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Succeeded");
  EXPECT_EQ(cond(s, "Ready").reason, "PodCompleted");
  // An app that failed: Failed.
  f.set({run("A", ContainerState::kExited, 0, 1), run("S", ContainerState::kExited, 143, 2),
         run("B", ContainerState::kExited, 0, 3), run("C", ContainerState::kExited, 3, 4)});
  EXPECT_EQ(f.compute().phase, "Failed");
}

}  // namespace
}  // namespace agent::status

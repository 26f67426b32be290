#include "agent/status/pod_status_compute.h"

#include <gtest/gtest.h>

namespace agent::status {
namespace {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;
using runtime::PodRuntimeStatus;

api::Pod makePod(std::vector<std::string> apps, std::vector<std::string> inits = {},
                 std::string policy = "Always") {
  api::Pod p;
  p.metadata.name = "p";
  p.metadata.namespace_ = "default";
  p.metadata.uid = "u";
  p.spec.restartPolicy = policy;
  for (auto& n : apps) p.spec.containers.push_back(api::Container{.name = n, .image = "img"});
  for (auto& n : inits) p.spec.initContainers.push_back(api::Container{.name = n, .image = "img"});
  return p;
}

ContainerRuntimeStatus cstat(std::string name, ContainerState st, int exitCode = 0,
                             int64_t created = 1, int restarts = 0) {
  ContainerRuntimeStatus c;
  c.id = name + std::to_string(created);
  c.name = name;
  c.state = st;
  c.exitCode = exitCode;
  c.createdAtNs = created;
  c.startedAtNs = 1700000000000000000;
  c.finishedAtNs = st == ContainerState::kExited ? 1700000001000000000 : 0;
  c.restartCount = restarts;
  c.imageRef = "sha256:abc";
  return c;
}

struct Fixture {
  api::Pod pod;
  PodRuntimeStatus rt;
  std::map<std::string, runtime::WaitingReason> waiting;
  api::PodStatus compute(const api::PodStatus* prev = nullptr) {
    StatusInput in;
    in.pod = &pod;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.hostIP = "192.0.2.10";
    in.now = core::WallTime(std::chrono::seconds(1700000100));
    in.startTime = core::WallTime(std::chrono::seconds(1700000000));
    in.previous = prev;
    return computePodStatus(in);
  }
};

runtime::SandboxRuntimeStatus sandbox() {
  runtime::SandboxRuntimeStatus s;
  s.id = "sb";
  s.state = runtime::SandboxState::kReady;
  s.ip = "10.88.0.7";
  return s;
}

const api::PodCondition& cond(const api::PodStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return c;
  }
  static api::PodCondition none;
  return none;
}

TEST(PodStatusTest, NewPodIsPendingContainerCreating) {
  Fixture f{makePod({"a"}), {}, {}};
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Pending");
  ASSERT_EQ(s.containerStatuses.size(), 1u);
  ASSERT_TRUE(s.containerStatuses[0].state.waiting);
  EXPECT_EQ(s.containerStatuses[0].state.waiting->reason, "ContainerCreating");
  EXPECT_EQ(cond(s, "Ready").status, "False");
  EXPECT_EQ(cond(s, "Ready").reason, "ContainersNotReady");
  EXPECT_EQ(cond(s, "PodScheduled").status, "True");
  EXPECT_EQ(s.qosClass, "BestEffort");
  EXPECT_EQ(s.hostIP, "192.0.2.10");
}

TEST(PodStatusTest, RunningPodIsReadyWithIpAndContainerId) {
  Fixture f{makePod({"a"}), {}, {}};
  f.rt.sandboxes.push_back(sandbox());
  f.rt.containers.push_back(cstat("a", ContainerState::kRunning));
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Running");
  EXPECT_EQ(s.podIP, "10.88.0.7");
  EXPECT_EQ(s.containerStatuses[0].containerID, "containerd://a1");
  EXPECT_TRUE(s.containerStatuses[0].ready);
  EXPECT_EQ(s.containerStatuses[0].started, true);
  EXPECT_EQ(s.containerStatuses[0].imageID, "sha256:abc");
  EXPECT_EQ(cond(s, "Ready").status, "True");
  EXPECT_EQ(cond(s, "PodReadyToStartContainers").status, "True");
  EXPECT_EQ(s.containerStatuses[0].state.running->startedAt, "2023-11-14T22:13:20Z");
}

TEST(PodStatusTest, InitContainersPendingShowPodInitializing) {
  Fixture f{makePod({"app"}, {"init"}), {}, {}};
  f.rt.sandboxes.push_back(sandbox());
  f.rt.containers.push_back(cstat("init", ContainerState::kRunning));
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Pending");
  EXPECT_EQ(s.containerStatuses[0].state.waiting->reason, "PodInitializing");
  EXPECT_EQ(cond(s, "Initialized").status, "False");
  EXPECT_EQ(cond(s, "Initialized").message, "containers with incomplete status: [init]");
}

TEST(PodStatusTest, CompletedPodSucceeds) {
  Fixture f{makePod({"a"}, {}, "Never"), {}, {}};
  f.rt.containers.push_back(cstat("a", ContainerState::kExited, 0));
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Succeeded");
  EXPECT_EQ(s.containerStatuses[0].state.terminated->reason, "Completed");
  EXPECT_EQ(cond(s, "Ready").reason, "PodCompleted");
}

TEST(PodStatusTest, FinishedPodKeepsItsIp) {
  Fixture f{makePod({"a"}, {}, "Never"), {}, {}};
  f.rt.sandboxes.push_back(sandbox());
  f.rt.containers.push_back(cstat("a", ContainerState::kRunning));
  auto running = f.compute();
  ASSERT_EQ(running.podIP, "10.88.0.7");
  f.rt.sandboxes[0].state = runtime::SandboxState::kNotReady;
  f.rt.containers[0] = cstat("a", ContainerState::kExited, 0);
  auto done = f.compute(&running);
  EXPECT_EQ(done.phase, "Succeeded");
  EXPECT_EQ(done.podIP, "10.88.0.7");
  EXPECT_EQ(done.podIPs, std::vector<std::string>{"10.88.0.7"});
}

TEST(PodStatusTest, FailedNeverPodFails) {
  Fixture f{makePod({"a"}, {}, "Never"), {}, {}};
  f.rt.containers.push_back(cstat("a", ContainerState::kExited, 3));
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.containerStatuses[0].state.terminated->reason, "Error");
  EXPECT_EQ(s.containerStatuses[0].state.terminated->exitCode, 3);
}

TEST(PodStatusTest, CrashLoopBackOffShowsWaitingWithLastState) {
  Fixture f{makePod({"a"}), {}, {}};
  f.rt.sandboxes.push_back(sandbox());
  f.rt.containers.push_back(cstat("a", ContainerState::kExited, 1, 2, 3));
  f.rt.containers.push_back(cstat("a", ContainerState::kExited, 1, 1, 2));
  f.waiting["a"] = {"CrashLoopBackOff", "back-off 40s restarting failed container=a"};
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Running");  // restartPolicy Always: the pod is restarting
  const auto& cs = s.containerStatuses[0];
  EXPECT_EQ(cs.state.waiting->reason, "CrashLoopBackOff");
  ASSERT_TRUE(cs.lastState.terminated);
  EXPECT_EQ(cs.lastState.terminated->exitCode, 1);
  EXPECT_EQ(cs.restartCount, 3);
}

TEST(PodStatusTest, ImagePullErrorKeepsPodPending) {
  Fixture f{makePod({"a"}), {}, {}};
  f.rt.sandboxes.push_back(sandbox());
  f.waiting["a"] = {"ErrImagePull", "not found"};
  auto s = f.compute();
  EXPECT_EQ(s.phase, "Pending");
  EXPECT_EQ(s.containerStatuses[0].state.waiting->reason, "ErrImagePull");
}

TEST(PodStatusTest, TransitionTimeKeptWhileStatusUnchanged) {
  Fixture f{makePod({"a"}), {}, {}};
  auto first = f.compute();
  api::PodStatus prev = first;
  for (auto& c : prev.conditions) c.lastTransitionTime = "2020-01-01T00:00:00Z";
  auto second = f.compute(&prev);
  EXPECT_EQ(cond(second, "Ready").lastTransitionTime, "2020-01-01T00:00:00Z");
  f.rt.sandboxes.push_back(sandbox());
  f.rt.containers.push_back(cstat("a", ContainerState::kRunning));
  auto third = f.compute(&prev);
  EXPECT_NE(cond(third, "Ready").lastTransitionTime, "2020-01-01T00:00:00Z");
}

TEST(PodStatusTest, QosClasses) {
  auto q = [](const char* v) { return *api::Quantity::parse(v); };
  api::Pod p = makePod({"a"});
  EXPECT_EQ(podQosClass(p), "BestEffort");
  p.spec.containers[0].resources.requests["cpu"] = q("100m");
  EXPECT_EQ(podQosClass(p), "Burstable");
  p.spec.containers[0].resources.requests.clear();
  p.spec.containers[0].resources.limits["cpu"] = q("1");
  p.spec.containers[0].resources.limits["memory"] = q("64Mi");
  EXPECT_EQ(podQosClass(p), "Guaranteed");
  p.spec.containers[0].resources.requests["memory"] = q("32Mi");
  EXPECT_EQ(podQosClass(p), "Burstable");
}

TEST(PodStatusTest, HostNetworkPodHasTheNodeIPBeforeItsSandbox) {
  Fixture f{makePod({"a"}), {}, {}};
  f.pod.spec.hostNetwork = true;
  auto s = f.compute();
  EXPECT_EQ(s.podIP, "192.0.2.10");
  EXPECT_EQ(s.podIPs, std::vector<std::string>{"192.0.2.10"});
  // A ready host-network sandbox has no IP of its own; the node's stays.
  auto sb = sandbox();
  sb.ip.clear();
  sb.hostNetwork = true;
  f.rt.sandboxes = {sb};
  s = f.compute();
  EXPECT_EQ(s.podIPs, std::vector<std::string>{"192.0.2.10"});
}

TEST(PodStatusTest, DualStackSandboxIPsSortedByTheNodeFamily) {
  Fixture f{makePod({"a"}), {}, {}};
  auto sb = sandbox();
  sb.ip = "fd00::7";
  sb.extraIps = {"10.88.0.7", "10.88.0.8"};
  f.rt.sandboxes = {sb};
  auto s = f.compute();
  EXPECT_EQ(s.podIP, "10.88.0.7");
  EXPECT_EQ(s.podIPs, (std::vector<std::string>{"10.88.0.7", "fd00::7"}));
}

TEST(PodStatusTest, NotReadySandboxGivesNoIPs) {
  Fixture f{makePod({"a"}), {}, {}};
  auto sb = sandbox();
  sb.state = runtime::SandboxState::kNotReady;
  f.rt.sandboxes = {sb};
  auto s = f.compute();
  EXPECT_EQ(s.podIP, "");
  EXPECT_TRUE(s.podIPs.empty());
}

TEST(SortPodIPsTest, PrimaryFamilyFollowsTheHostIP) {
  struct Case {
    std::vector<std::string> ips;
    std::string hostIP;
    std::vector<std::string> want;
  };
  std::vector<Case> cases = {
      {{"10.0.0.1"}, "192.0.2.1", {"10.0.0.1"}},
      {{"fd00::1", "10.0.0.1"}, "192.0.2.1", {"10.0.0.1", "fd00::1"}},
      {{"10.0.0.1", "fd00::1"}, "2001:db8::1", {"fd00::1", "10.0.0.1"}},
      {{"10.0.0.1", "10.0.0.2"}, "", {"10.0.0.1"}},
      {{"fd00::1"}, "", {"fd00::1"}},
      {{}, "192.0.2.1", {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(sortPodIPs(c.ips, c.hostIP), c.want)
        << testing::PrintToString(c.ips) << " " << c.hostIP;
  }
}

}  // namespace
}  // namespace agent::status

// After the container GC removed what a terminated pod left in the runtime, the
// pod's status must read as before: the containers keep their terminated states
// (taken from the previous status, as the kubelet's convertToAPIContainerStatuses),
// and the phase, reason and message the agent set stay (the status manager's rules).
#include <gtest/gtest.h>

#include "agent/status/pod_status_compute.h"
#include "agent/status/status_merge.h"

namespace agent::status {
namespace {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;
using runtime::PodRuntimeStatus;

api::Pod makePod(const std::string& policy) {
  api::Pod p;
  p.metadata.name = "p";
  p.metadata.namespace_ = "default";
  p.metadata.uid = "u";
  p.spec.restartPolicy = policy;
  p.spec.initContainers.push_back(api::Container{.name = "init", .image = "img"});
  p.spec.containers.push_back(api::Container{.name = "app", .image = "img"});
  p.spec.containers.push_back(api::Container{.name = "side", .image = "img"});
  return p;
}

ContainerRuntimeStatus exited(std::string name, int exitCode, int64_t created, int restarts = 0) {
  ContainerRuntimeStatus c;
  c.id = name + std::to_string(created);
  c.name = name;
  c.state = ContainerState::kExited;
  c.exitCode = exitCode;
  c.reason = exitCode == 137 ? "OOMKilled" : "";
  c.createdAtNs = created;
  c.startedAtNs = 1700000000000000000 + created;
  c.finishedAtNs = 1700000001000000000 + created;
  c.restartCount = restarts;
  c.imageRef = "sha256:abc";
  return c;
}

struct Pod {
  api::Pod spec;
  PodRuntimeStatus rt;
  std::map<std::string, runtime::WaitingReason> waiting;

  // What Agent::onPodChanged computes, then the status manager's rules.
  api::PodStatus status(const api::PodStatus* previous, const std::string& terminalReason) {
    StatusInput in;
    in.pod = &spec;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.hostIP = "192.0.2.10";
    in.now = core::WallTime(std::chrono::seconds(1700000100));
    in.startTime = core::WallTime(std::chrono::seconds(1700000000));
    in.previous = previous;
    api::PodStatus s = computePodStatus(in);
    if (!terminalReason.empty()) {
      s.phase = "Failed";
      s.reason = terminalReason;
      s.message = "The node was low on resource: memory.";
    }
    preserveAndNormalize(previous, s, "2023-11-14T22:15:00Z");
    return s;
  }
};

void expectSameContainers(const api::PodStatus& before, const api::PodStatus& after) {
  ASSERT_EQ(before.containerStatuses.size(), after.containerStatuses.size());
  for (size_t i = 0; i < before.containerStatuses.size(); ++i) {
    EXPECT_EQ(before.containerStatuses[i], after.containerStatuses[i])
        << before.containerStatuses[i].name;
    EXPECT_TRUE(after.containerStatuses[i].state.terminated) << after.containerStatuses[i].name;
  }
  ASSERT_EQ(before.initContainerStatuses.size(), after.initContainerStatuses.size());
  for (size_t i = 0; i < before.initContainerStatuses.size(); ++i) {
    EXPECT_EQ(before.initContainerStatuses[i], after.initContainerStatuses[i]);
  }
}

TEST(StatusAfterGc, EvictedPodKeepsItsStatusWhenItsContainersAreGone) {
  Pod pod{makePod("Always"), {}, {}};
  pod.rt.uid = "u";
  pod.rt.containers = {exited("app", 137, 30, 2), exited("app", 1, 20, 1), exited("side", 143, 25),
                       exited("init", 0, 10)};
  runtime::sortNewestFirst(pod.rt);
  api::PodStatus before = pod.status(nullptr, "Evicted");
  ASSERT_EQ(before.phase, "Failed");
  ASSERT_TRUE(before.containerStatuses[0].lastState.terminated);

  pod.rt.containers.clear();  // the container GC's work
  pod.rt.sandboxes.clear();
  api::PodStatus after = pod.status(&before, "Evicted");
  EXPECT_EQ(after.phase, "Failed");
  EXPECT_EQ(after.reason, "Evicted");
  EXPECT_EQ(after.message, before.message);
  expectSameContainers(before, after);
  EXPECT_EQ(after.containerStatuses[0].name, "app");
  EXPECT_EQ(after.containerStatuses[0].state.terminated->reason, "OOMKilled");
  EXPECT_EQ(after.containerStatuses[0].restartCount, 2);
  EXPECT_EQ(after.containerStatuses[0].containerID, "containerd://app30");
  EXPECT_EQ(after.conditions, before.conditions);

  // And again from that status: nothing drifts.
  api::PodStatus again = pod.status(&after, "Evicted");
  EXPECT_EQ(again, after);
}

TEST(StatusAfterGc, SucceededPodStaysSucceeded) {
  Pod pod{makePod("Never"), {}, {}};
  pod.rt.uid = "u";
  pod.rt.containers = {exited("app", 0, 30), exited("side", 0, 25), exited("init", 0, 10)};
  runtime::sortNewestFirst(pod.rt);
  api::PodStatus before = pod.status(nullptr, "");
  ASSERT_EQ(before.phase, "Succeeded");

  pod.rt.containers.clear();
  api::PodStatus after = pod.status(&before, "");
  EXPECT_EQ(after.phase, "Succeeded");
  expectSameContainers(before, after);
  EXPECT_EQ(after.containerStatuses[0].state.terminated->reason, "Completed");
  EXPECT_EQ(after.conditions, before.conditions);

  // Without a previous status (nothing to go by) the containers would be waiting:
  // the previous status is what keeps them.
  api::PodStatus fresh = pod.status(nullptr, "");
  EXPECT_TRUE(fresh.containerStatuses[0].state.waiting);
}

TEST(StatusAfterGc, AMissingContainerThatWasNotTerminatedKeepsItsCounts) {
  Pod pod{makePod("Always"), {}, {}};
  api::PodStatus previous;
  api::ContainerStatus app;
  app.name = "app";
  app.state.waiting = api::ContainerStateWaiting{"CrashLoopBackOff", "back-off"};
  app.lastState.terminated = api::ContainerStateTerminated{1, 0, "Error", "", "", "", "x"};
  app.restartCount = 4;
  previous.containerStatuses.push_back(app);
  api::PodStatus s = pod.status(&previous, "");
  ASSERT_EQ(s.containerStatuses[0].name, "app");
  EXPECT_EQ(s.containerStatuses[0].state.waiting->reason, "PodInitializing");
  EXPECT_EQ(s.containerStatuses[0].restartCount, 4);
  EXPECT_EQ(s.containerStatuses[0].lastState, app.lastState);
}

}  // namespace
}  // namespace agent::status

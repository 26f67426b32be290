// computePodActions with probe results: a failed liveness or startup probe kills
// the running container and restarts it unless the restart policy is Never.
#include <gtest/gtest.h>

#include "agent/runtime/pod_actions.h"

namespace agent::runtime {
namespace {

api::Pod podWith(const std::string& policy) {
  api::Pod p;
  p.metadata.uid = "uid-1";
  p.spec.restartPolicy = policy;
  for (const char* n : {"a", "b"}) {
    api::Container c;
    c.name = n;
    c.specHash = std::string("hash-") + n;
    p.spec.containers.push_back(c);
  }
  return p;
}

PodRuntimeStatus running(const api::Pod& pod) {
  PodRuntimeStatus st;
  SandboxRuntimeStatus sb;
  sb.id = "sb";
  sb.state = SandboxState::kReady;
  sb.ip = "10.88.0.5";
  st.sandboxes.push_back(sb);
  for (const auto& c : pod.spec.containers) {
    ContainerRuntimeStatus cs;
    cs.id = "id-" + c.name;
    cs.name = c.name;
    cs.state = ContainerState::kRunning;
    cs.hash = c.specHash;
    st.containers.push_back(cs);
  }
  return st;
}

// Container "a" failed the given probe; "b" is healthy.
ProbeVerdict failing(const std::string& probe, std::optional<int64_t> grace = std::nullopt) {
  return [probe, grace](const api::Pod& pod, const api::Container& c,
                        const ContainerRuntimeStatus& s) -> std::optional<ProbeFailure> {
    EXPECT_EQ(pod.metadata.uid, "uid-1");
    if (c.name != "a" || s.id != "id-a") return std::nullopt;
    return ProbeFailure{probe, grace};
  };
}

TEST(ProbeVerdictTest, HealthyContainersAreKept) {
  api::Pod pod = podWith("Always");
  auto actions = computePodActions(
      pod, running(pod), [](const api::Pod&, const api::Container&, const ContainerRuntimeStatus&) {
        return std::nullopt;
      });
  EXPECT_TRUE(actions.empty());
}

TEST(ProbeVerdictTest, LivenessFailureRestartsUnderAlwaysAndOnFailure) {
  for (const char* policy : {"Always", "OnFailure"}) {
    api::Pod pod = podWith(policy);
    auto actions = computePodActions(pod, running(pod), failing("liveness", 5));
    ASSERT_EQ(actions.containersToKill.size(), 1u) << policy;
    EXPECT_EQ(actions.containersToKill[0].id, "id-a");
    EXPECT_EQ(actions.containersToKill[0].message,
              "Container a failed liveness probe, will be restarted");
    EXPECT_EQ(actions.containersToKill[0].gracePeriodSeconds, 5);
    EXPECT_EQ(actions.containersToStart, (std::vector<size_t>{0}));
    EXPECT_FALSE(actions.killPod);
  }
}

TEST(ProbeVerdictTest, StartupFailureUnderNeverKillsWithoutRestart) {
  api::Pod pod = podWith("Never");
  auto actions = computePodActions(pod, running(pod), failing("startup"));
  ASSERT_EQ(actions.containersToKill.size(), 1u);
  EXPECT_EQ(actions.containersToKill[0].message, "Container a failed startup probe");
  EXPECT_FALSE(actions.containersToKill[0].gracePeriodSeconds);
  EXPECT_TRUE(actions.containersToStart.empty());
  EXPECT_FALSE(actions.killPod);  // "b" still runs
}

TEST(ProbeVerdictTest, LastContainerFailingUnderNeverKillsThePod) {
  api::Pod pod = podWith("Never");
  pod.spec.containers.pop_back();
  PodRuntimeStatus st = running(pod);
  auto actions = computePodActions(pod, st, failing("liveness"));
  EXPECT_TRUE(actions.killPod);
  EXPECT_TRUE(actions.containersToStart.empty());
}

TEST(ProbeVerdictTest, ChangedSpecWinsOverProbeFailure) {
  api::Pod pod = podWith("Always");
  PodRuntimeStatus st = running(pod);
  st.containers[0].hash = "old";
  auto actions = computePodActions(pod, st, failing("liveness"));
  ASSERT_EQ(actions.containersToKill.size(), 1u);
  EXPECT_EQ(actions.containersToKill[0].message,
            "Container a definition changed, will be restarted");
}

TEST(ProbeVerdictTest, ExitedContainerIsNotAskedAbout) {
  api::Pod pod = podWith("Always");
  PodRuntimeStatus st = running(pod);
  st.containers[0].state = ContainerState::kExited;
  st.containers[0].exitCode = 137;
  auto actions = computePodActions(pod, st, failing("liveness"));
  EXPECT_TRUE(actions.containersToKill.empty());
  EXPECT_EQ(actions.containersToStart, (std::vector<size_t>{0}));
}

}  // namespace
}  // namespace agent::runtime

// What the probes' view does to the computed pod status: a container's started
// and ready, the ContainersReady and Ready conditions, and readiness gates.
#include <gtest/gtest.h>

#include "agent/status/pod_status_compute.h"

namespace agent::status {
namespace {

using runtime::ContainerState;

struct Fixture {
  api::Pod pod;
  runtime::PodRuntimeStatus rt;
  std::map<std::string, runtime::WaitingReason> waiting;
  std::map<std::string, ContainerHealth> health;  // by container ID
  api::PodStatus api;

  Fixture() {
    pod.metadata.uid = "u";
    pod.spec.restartPolicy = "Always";
    for (const char* n : {"a", "b"}) pod.spec.containers.push_back({.name = n, .image = "img"});
    runtime::SandboxRuntimeStatus sb;
    sb.id = "sb";
    sb.state = runtime::SandboxState::kReady;
    sb.ip = "10.88.0.7";
    rt.sandboxes.push_back(sb);
    for (const char* n : {"a", "b"}) {
      runtime::ContainerRuntimeStatus c;
      c.id = std::string("id-") + n;
      c.name = n;
      c.state = ContainerState::kRunning;
      c.startedAtNs = 1700000000000000000;
      rt.containers.push_back(c);
    }
  }

  api::PodStatus compute() {
    StatusInput in;
    in.pod = &pod;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.now = core::WallTime(std::chrono::seconds(1700000100));
    in.startTime = core::WallTime(std::chrono::seconds(1700000000));
    in.apiStatus = &api;
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

TEST(ReadinessStatusTest, UnreadyContainerMakesPodUnready) {
  Fixture f;
  f.health["id-b"] = {true, false};
  auto s = f.compute();
  EXPECT_TRUE(s.containerStatuses[0].ready);
  EXPECT_FALSE(s.containerStatuses[1].ready);
  EXPECT_EQ(s.containerStatuses[1].started, true);
  EXPECT_EQ(s.phase, "Running");
  EXPECT_EQ(cond(s, "ContainersReady").status, "False");
  EXPECT_EQ(cond(s, "ContainersReady").message, "containers with unready status: [b]");
  EXPECT_EQ(cond(s, "Ready").reason, "ContainersNotReady");
}

TEST(ReadinessStatusTest, NotStartedIsNotReady) {
  Fixture f;
  f.health["id-a"] = {false, true};  // startup probe has not passed yet
  auto s = f.compute();
  EXPECT_EQ(s.containerStatuses[0].started, false);
  EXPECT_FALSE(s.containerStatuses[0].ready);
}

TEST(ReadinessStatusTest, ExitedContainerIsNeverAsked) {
  Fixture f;
  f.rt.containers[0].state = ContainerState::kExited;
  f.health["id-a"] = {true, true};
  auto s = f.compute();
  EXPECT_EQ(s.containerStatuses[0].started, false);
  EXPECT_FALSE(s.containerStatuses[0].ready);
}

TEST(ReadinessStatusTest, ReadinessGates) {
  Fixture f;
  f.pod.spec.readinessGates = {{"example.com/lb"}, {"example.com/dns"}};
  auto s = f.compute();
  EXPECT_EQ(cond(s, "ContainersReady").status, "True");
  EXPECT_EQ(cond(s, "Ready").status, "False");
  EXPECT_EQ(cond(s, "Ready").reason, "ReadinessGatesNotReady");
  EXPECT_EQ(cond(s, "Ready").message,
            "corresponding condition of pod readiness gate \"example.com/lb\" does not exist., "
            "corresponding condition of pod readiness gate \"example.com/dns\" does not exist.");

  f.api.conditions.push_back({"example.com/lb", "True", "", "", "", ""});
  f.api.conditions.push_back({"example.com/dns", "False", "", "", "", ""});
  s = f.compute();
  EXPECT_EQ(cond(s, "Ready").message,
            "the status of pod readiness gate \"example.com/dns\" is not \"True\", but False");

  f.api.conditions[1].status = "True";
  s = f.compute();
  EXPECT_EQ(cond(s, "Ready").status, "True");
  // A gate condition is the other writer's: the agent does not report it.
  for (const auto& c : s.conditions) EXPECT_NE(c.type, "example.com/lb");
}

TEST(ReadinessStatusTest, UnreadyContainersWinOverGates) {
  Fixture f;
  f.pod.spec.readinessGates = {{"example.com/lb"}};
  f.health["id-a"] = {true, false};
  auto s = f.compute();
  EXPECT_EQ(cond(s, "Ready").reason, "ContainersNotReady");
}

}  // namespace
}  // namespace agent::status

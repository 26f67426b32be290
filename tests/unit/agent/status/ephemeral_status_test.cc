// ephemeralContainerStatuses: computed from the runtime like other containers' (state,
// restart count, image ID, container ID), never ready, without `started`; they leave
// the phase and the Ready condition alone; the JSON round-trips.
#include <gtest/gtest.h>

#include "agent/api/pod_status.h"
#include "agent/status/pod_status_compute.h"

namespace agent::status {
namespace {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;
using runtime::PodRuntimeStatus;

ContainerRuntimeStatus cstat(std::string name, ContainerState st, int exitCode = 0) {
  ContainerRuntimeStatus c;
  c.id = name + "-id";
  c.name = name;
  c.state = st;
  c.exitCode = exitCode;
  c.createdAtNs = 1;
  c.startedAtNs = 1700000000000000000;
  c.finishedAtNs = st == ContainerState::kExited ? 1700000001000000000 : 0;
  c.imageRef = "sha256:abc";
  return c;
}

struct Fixture {
  api::Pod pod;
  PodRuntimeStatus rt;
  std::map<std::string, runtime::WaitingReason> waiting;
  Fixture() {
    pod.metadata.name = "p";
    pod.metadata.uid = "u";
    pod.spec.restartPolicy = "Always";
    pod.spec.containers.push_back(api::Container{.name = "app", .image = "img"});
    pod.spec.ephemeralContainers.push_back(api::Container{.name = "dbg", .image = "busybox"});
    runtime::SandboxRuntimeStatus sb;
    sb.id = "sb";
    sb.state = runtime::SandboxState::kReady;
    sb.ip = "10.88.0.7";
    rt.sandboxes.push_back(sb);
    rt.containers.push_back(cstat("app", ContainerState::kRunning));
  }
  api::PodStatus compute(const api::PodStatus* prev = nullptr) {
    StatusInput in;
    in.pod = &pod;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.now = core::WallTime(std::chrono::seconds(1700000100));
    in.startTime = core::WallTime(std::chrono::seconds(1700000000));
    in.previous = prev;
    return computePodStatus(in);
  }
};

std::string condition(const api::PodStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return c.status;
  }
  return "";
}

TEST(EphemeralStatusTest, WaitingUntilStartedThenRunningNeverReady) {
  Fixture f;
  api::PodStatus s = f.compute();
  ASSERT_EQ(s.ephemeralContainerStatuses.size(), 1u);
  const api::ContainerStatus& w = s.ephemeralContainerStatuses[0];
  EXPECT_EQ(w.name, "dbg");
  EXPECT_EQ(w.image, "busybox");
  ASSERT_TRUE(w.state.waiting);
  EXPECT_EQ(w.state.waiting->reason, "ContainerCreating");
  EXPECT_FALSE(w.started);

  f.rt.containers.push_back(cstat("dbg", ContainerState::kRunning));
  s = f.compute();
  const api::ContainerStatus& r = s.ephemeralContainerStatuses[0];
  ASSERT_TRUE(r.state.running);
  EXPECT_EQ(r.containerID, "containerd://dbg-id");
  EXPECT_EQ(r.imageID, "sha256:abc");
  EXPECT_EQ(r.restartCount, 0);
  EXPECT_FALSE(r.ready);
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.resources);
  // Not a container of the pod's readiness or phase.
  EXPECT_EQ(s.phase, "Running");
  EXPECT_EQ(condition(s, "Ready"), "True");
  EXPECT_EQ(condition(s, "ContainersReady"), "True");
}

TEST(EphemeralStatusTest, ExitedAndFailedToStart) {
  Fixture f;
  f.waiting["dbg"] = {"ErrImagePull", "pull failed"};
  api::PodStatus s = f.compute();
  ASSERT_TRUE(s.ephemeralContainerStatuses[0].state.waiting);
  EXPECT_EQ(s.ephemeralContainerStatuses[0].state.waiting->reason, "ErrImagePull");

  f.waiting.clear();
  f.rt.containers.push_back(cstat("dbg", ContainerState::kExited, 3));
  s = f.compute();
  const api::ContainerStatus& t = s.ephemeralContainerStatuses[0];
  ASSERT_TRUE(t.state.terminated);
  EXPECT_EQ(t.state.terminated->exitCode, 3);
  EXPECT_EQ(t.state.terminated->reason, "Error");
  EXPECT_EQ(s.phase, "Running");

  // Garbage-collected: the previous terminated status stays.
  f.rt.containers.pop_back();
  api::PodStatus again = f.compute(&s);
  ASSERT_TRUE(again.ephemeralContainerStatuses[0].state.terminated);
  EXPECT_EQ(again.ephemeralContainerStatuses[0].state.terminated->exitCode, 3);
}

TEST(EphemeralStatusTest, JsonRoundTrip) {
  Fixture f;
  f.rt.containers.push_back(cstat("dbg", ContainerState::kRunning));
  api::PodStatus s = f.compute();
  nlohmann::json j = api::toJson(s);
  ASSERT_TRUE(j.contains("ephemeralContainerStatuses"));
  const nlohmann::json& e = j["ephemeralContainerStatuses"][0];
  EXPECT_EQ(e["name"], "dbg");
  EXPECT_EQ(e["ready"], false);
  EXPECT_EQ(e["restartCount"], 0);
  EXPECT_EQ(e["containerID"], "containerd://dbg-id");
  EXPECT_TRUE(e["state"].contains("running"));
  EXPECT_FALSE(e.contains("started"));
  auto back = api::decodePodStatus(j);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  // Without ephemeral containers the field is absent.
  f.pod.spec.ephemeralContainers.clear();
  EXPECT_FALSE(api::toJson(f.compute()).contains("ephemeralContainerStatuses"));
}

}  // namespace
}  // namespace agent::status

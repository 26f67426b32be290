#include <gtest/gtest.h>

#include "agent/api/pod_status.h"

namespace agent::api {
namespace {

using nlohmann::json;

PodStatus fullStatus() {
  PodStatus s;
  s.phase = "Running";
  s.conditions = {
      {"Ready", "False", "ContainersNotReady", "containers with unready status: [b]",
       "2024-01-01T00:00:05Z", ""},
      {"PodScheduled", "True", "", "", "2024-01-01T00:00:00Z", ""},
  };
  s.message = "m";
  s.reason = "r";
  s.hostIP = "192.0.2.10";
  s.hostIPs = {"192.0.2.10", "2001:db8::10"};
  s.podIP = "10.88.0.7";
  s.podIPs = {"10.88.0.7", "fd00::7"};
  s.startTime = "2024-01-01T00:00:01Z";
  s.qosClass = "Burstable";
  ContainerStatus init;
  init.name = "init";
  init.state.terminated = ContainerStateTerminated{
      0, 0, "Completed", "", "2024-01-01T00:00:02Z", "2024-01-01T00:00:03Z", "containerd://i1"};
  init.image = "busybox";
  init.imageID = "sha256:1";
  init.containerID = "containerd://i1";
  init.started = false;
  s.initContainerStatuses = {init};
  ContainerStatus a;
  a.name = "a";
  a.state.running = ContainerStateRunning{"2024-01-01T00:00:04Z"};
  a.lastState.terminated = ContainerStateTerminated{137, 9, "OOMKilled", "oom", "", "", "x"};
  a.ready = true;
  a.restartCount = 3;
  a.image = "nginx";
  a.imageID = "sha256:2";
  a.containerID = "containerd://a4";
  a.started = true;
  ContainerStatus b;
  b.name = "b";
  b.state.waiting = ContainerStateWaiting{"CrashLoopBackOff", "back-off 10s"};
  b.image = "busybox";
  s.containerStatuses = {a, b};
  return s;
}

TEST(PodStatusDecodeTest, RoundTripsThroughToJson) {
  PodStatus s = fullStatus();
  auto back = decodePodStatus(toJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  // And through text, as it travels.
  auto again = decodePodStatus(json::parse(toJson(s).dump()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, s);
}

TEST(PodStatusDecodeTest, EmptyAndNullAreUnset) {
  auto s = decodePodStatus(json::object());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, PodStatus{});
  auto n = decodePodStatus(json(nullptr));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, PodStatus{});
}

TEST(PodStatusDecodeTest, DecodesWhatTheApiServerReturns) {
  // A status as kube-apiserver serves it: nulls, extra fields the agent ignores.
  json j = json::parse(R"({
    "phase": "Pending",
    "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}],
    "hostIP": "192.0.2.10", "hostIPs": [{"ip": "192.0.2.10"}],
    "startTime": "2024-01-01T00:00:01Z",
    "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}},
                           "lastState": {}, "ready": false, "restartCount": 0,
                           "image": "nginx", "imageID": "", "started": false,
                           "volumeMounts": [{"name": "x", "mountPath": "/x"}]}],
    "qosClass": "BestEffort",
    "nominatedNodeName": "n2"
  })");
  auto s = decodePodStatus(j);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->phase, "Pending");
  ASSERT_EQ(s->conditions.size(), 1u);
  EXPECT_EQ(s->conditions[0].lastProbeTime, "");
  EXPECT_EQ(s->hostIPs, std::vector<std::string>{"192.0.2.10"});
  ASSERT_EQ(s->containerStatuses.size(), 1u);
  const auto& c = s->containerStatuses[0];
  ASSERT_TRUE(c.state.waiting);
  EXPECT_EQ(c.state.waiting->reason, "ContainerCreating");
  EXPECT_FALSE(c.state.running);
  EXPECT_FALSE(c.lastState.waiting || c.lastState.running || c.lastState.terminated);
  EXPECT_EQ(c.started, false);
}

TEST(PodStatusDecodeTest, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {R"({"phase": 3})", "phase: expected string, got number 3"},
      {R"({"conditions": {}})", "conditions: expected array"},
      {R"({"conditions": [{"type": "Ready", "status": true}]})",
       "conditions[0].status: expected string"},
      {R"({"podIPs": [{"ip": 7}]})", "podIPs[0].ip: expected string"},
      {R"({"hostIPs": "1.2.3.4"})", "hostIPs: expected array"},
      {R"({"containerStatuses": [{"name": "a", "restartCount": "1"}]})",
       "containerStatuses[0].restartCount: expected integer"},
      {R"({"initContainerStatuses": [{"state": {"terminated": {"exitCode": 1.5}}}]})",
       "initContainerStatuses[0].state.terminated.exitCode: expected integer"},
      {R"([])", "expected object"},
  };
  for (const auto& c : cases) {
    auto s = decodePodStatus(json::parse(c.json));
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_NE(s.status().message().find(c.error), std::string::npos)
        << c.json << " -> " << s.status().message();
  }
}

}  // namespace
}  // namespace agent::api

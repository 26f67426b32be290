// The status side of in-place resize: containerStatuses[].resources shows what a
// running container was last given (not yet the new spec), allocatedResources only
// with its gate, and the PodResizeInProgress condition (the kubelet 1.33+ way) while
// the two differ, with reason Error once an attempt failed, gone once applied.
#include <gtest/gtest.h>

#include "agent/runtime/pod_resize.h"
#include "agent/status/pod_status_compute.h"
#include "agent/status/status_merge.h"

namespace agent::status {
namespace {

using runtime::ContainerRuntimeStatus;
using runtime::ContainerState;
using runtime::PodRuntimeStatus;

api::Quantity q(const char* s) { return *api::Quantity::parse(s); }

struct ResizeFixture {
  api::Pod pod;
  PodRuntimeStatus rt;
  std::map<std::string, runtime::WaitingReason> waiting;

  ResizeFixture() {
    pod.metadata.name = "p";
    pod.metadata.namespace_ = "default";
    pod.metadata.uid = "u";
    pod.spec.restartPolicy = "Always";
    api::Container c{.name = "c", .image = "img"};
    c.resources.requests = {{"cpu", q("100m")}, {"memory", q("32Mi")}};
    c.resources.limits = {{"cpu", q("200m")}, {"memory", q("64Mi")}};
    pod.spec.containers.push_back(c);
    rt.uid = "u";
    runtime::SandboxRuntimeStatus sb;
    sb.id = "sb";
    sb.state = runtime::SandboxState::kReady;
    sb.ip = "10.88.0.7";
    rt.sandboxes.push_back(sb);
    ContainerRuntimeStatus s;
    s.id = "c1";
    s.name = "c";
    s.state = ContainerState::kRunning;
    s.startedAtNs = 1700000000000000000;
    s.actuated = c.resources;
    rt.containers.push_back(s);
  }

  api::PodStatus compute(const std::string& resizeError = "", bool allocated = false,
                         const api::PodStatus* prev = nullptr) {
    StatusInput in;
    in.pod = &pod;
    in.runtime = &rt;
    in.waiting = &waiting;
    in.resizeError = resizeError;
    in.allocatedStatus = allocated;
    in.now = core::WallTime(std::chrono::seconds(1700000100));
    in.startTime = core::WallTime(std::chrono::seconds(1700000000));
    in.previous = prev;
    return computePodStatus(in);
  }
};

const api::PodCondition* findCond(const api::PodStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

TEST(PodResizeStatusTest, ResourcesShowWhatTheContainerRunsWith) {
  ResizeFixture f;
  api::PodStatus s = f.compute();
  ASSERT_EQ(s.containerStatuses.size(), 1u);
  ASSERT_TRUE(s.containerStatuses[0].resources.has_value());
  EXPECT_EQ(s.containerStatuses[0].resources->limits,
            (std::map<std::string, std::string>{{"cpu", "200m"}, {"memory", "64Mi"}}));
  EXPECT_EQ(s.containerStatuses[0].resources->requests,
            (std::map<std::string, std::string>{{"cpu", "100m"}, {"memory", "32Mi"}}));
  EXPECT_TRUE(s.containerStatuses[0].allocatedResources.empty()) << "gate off";
  EXPECT_EQ(findCond(s, "PodResizeInProgress"), nullptr);
  EXPECT_EQ(findCond(s, "PodResizePending"), nullptr);
  nlohmann::json j = api::toJson(s.containerStatuses[0]);
  EXPECT_EQ(j["resources"]["limits"]["cpu"], "200m");
  EXPECT_FALSE(j.contains("allocatedResources"));
}

TEST(PodResizeStatusTest, InProgressUntilApplied) {
  ResizeFixture f;
  f.pod.spec.containers[0].resources.limits["cpu"] = q("500m");
  f.pod.spec.containers[0].resources.requests["cpu"] = q("300m");
  api::PodStatus s = f.compute("", true);
  // The spec's new values are allocated; the container still runs with the old ones.
  EXPECT_EQ(s.containerStatuses[0].resources->limits.at("cpu"), "200m");
  EXPECT_EQ(s.containerStatuses[0].resources->requests.at("cpu"), "100m");
  EXPECT_EQ(s.containerStatuses[0].allocatedResources,
            (std::map<std::string, std::string>{{"cpu", "300m"}, {"memory", "32Mi"}}));
  const api::PodCondition* c = findCond(s, "PodResizeInProgress");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "");
  EXPECT_FALSE(c->lastTransitionTime.empty());

  // A failed attempt: reason Error with the message.
  s = f.compute("updateContainerResources failed for container c (c1): boom", false, &s);
  c = findCond(s, "PodResizeInProgress");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->reason, "Error");
  EXPECT_EQ(c->message, "updateContainerResources failed for container c (c1): boom");

  // Applied: the condition goes, the status shows the new values.
  f.rt.containers[0].actuated = f.pod.spec.containers[0].resources;
  s = f.compute("", false, &s);
  EXPECT_EQ(findCond(s, "PodResizeInProgress"), nullptr);
  EXPECT_EQ(s.containerStatuses[0].resources->limits.at("cpu"), "500m");
  EXPECT_TRUE(isKubeletCondition("PodResizeInProgress")) << "a removed one is removed from the API";
  EXPECT_TRUE(isKubeletCondition("PodResizePending"));
}

TEST(PodResizeStatusTest, PendingWithTheAllocationManagersReason) {
  ResizeFixture f;
  StatusInput in;
  in.pod = &f.pod;  // as allocated: what runs, so nothing is in progress
  in.runtime = &f.rt;
  in.waiting = &f.waiting;
  in.resizePendingReason = "Infeasible";
  in.resizePendingMessage =
      "Node didn't have enough capacity: cpu, requested: 5000, capacity: 2000";
  in.now = core::WallTime(std::chrono::seconds(1700000100));
  api::PodStatus s = computePodStatus(in);
  const api::PodCondition* c = findCond(s, "PodResizePending");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "Infeasible");
  EXPECT_EQ(c->message, in.resizePendingMessage);
  EXPECT_EQ(findCond(s, "PodResizeInProgress"), nullptr);
  EXPECT_EQ(s.containerStatuses[0].resources->limits.at("cpu"), "200m");

  // Still pending later, for another reason: the transition time stays.
  std::string since = c->lastTransitionTime;
  in.previous = &s;
  in.now = core::WallTime(std::chrono::seconds(1700000200));
  in.resizePendingReason = "Deferred";
  api::PodStatus later = computePodStatus(in);
  c = findCond(later, "PodResizePending");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->reason, "Deferred");
  EXPECT_EQ(c->lastTransitionTime, since);

  // Admitted: the condition goes.
  in.resizePendingReason.clear();
  EXPECT_EQ(findCond(computePodStatus(in), "PodResizePending"), nullptr);
}

TEST(PodResizeStatusTest, NotRunningOrUnknownShowsTheSpec) {
  ResizeFixture f;
  f.rt.containers[0].actuated.reset();
  f.pod.spec.containers[0].resources.limits["cpu"] = q("500m");
  api::PodStatus s = f.compute();
  // Nothing known of what it runs with: the spec's, and no resize can be told apart.
  EXPECT_EQ(s.containerStatuses[0].resources->limits.at("cpu"), "500m");
  EXPECT_EQ(findCond(s, "PodResizeInProgress"), nullptr);
}

TEST(PodResizeStatusTest, DecodesWhatItEncodes) {
  ResizeFixture f;
  api::PodStatus s = f.compute("", true);
  auto back = api::decodePodStatus(api::toJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->containerStatuses[0].resources, s.containerStatuses[0].resources);
  EXPECT_EQ(back->containerStatuses[0].allocatedResources,
            s.containerStatuses[0].allocatedResources);
}

}  // namespace
}  // namespace agent::status

#include "agent/pods/resize_allocation.h"

#include <gtest/gtest.h>

namespace agent::pods {
namespace {

api::Quantity q(const char* s) { return *api::Quantity::parse(s); }

api::Pod pod(const char* cpu, const char* mem) {
  api::Pod p;
  p.metadata.name = "p";
  api::Container c;
  c.name = "c";
  c.resources.requests["cpu"] = q(cpu);
  c.resources.limits["cpu"] = q(cpu);
  c.resources.requests["memory"] = q(mem);
  c.resources.limits["memory"] = q(mem);
  c.resources.limits["ephemeral-storage"] = q("1Gi");
  p.spec.containers.push_back(c);
  return p;
}

NodeAllocatable node() {
  NodeAllocatable n;
  n.resources = {
      {"cpu", q("2")}, {"memory", q("4Gi")}, {"ephemeral-storage", q("10Gi")}, {"pods", q("110")}};
  n.maxPods = 110;
  return n;
}

TEST(ResizeAllocation, SameResourcesAreNoResize) {
  api::Pod p = pod("500m", "128Mi");
  PodAllocation a = allocationOf(p);
  EXPECT_FALSE(resizeRequested(p, a));
  // Equal quantities written differently are the same allocation.
  p.spec.containers[0].resources.requests["cpu"] = q("0.5");
  EXPECT_FALSE(resizeRequested(p, a));
  p.spec.containers[0].resources.limits["cpu"] = q("1");
  EXPECT_TRUE(resizeRequested(p, a));
}

TEST(ResizeAllocation, OnlyCpuAndMemoryAreAllocated) {
  api::Pod p = pod("500m", "128Mi");
  PodAllocation a = allocationOf(p);
  EXPECT_EQ(a.at("c").limits.count("ephemeral-storage"), 0u);
  p.spec.containers[0].resources.limits["ephemeral-storage"] = q("2Gi");
  EXPECT_FALSE(resizeRequested(p, a));
}

TEST(ResizeAllocation, InfeasibleCpuWithTheKubeletMessage) {
  api::Pod p = pod("5", "128Mi");
  auto r = checkResize(p, {}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "Infeasible");
  EXPECT_EQ(r->message, "Node didn't have enough capacity: cpu, requested: 5000, capacity: 2000");
}

TEST(ResizeAllocation, InfeasibleMemoryIsReportedBeforeCpu) {
  api::Pod p = pod("5", "8Gi");
  auto r = checkResize(p, {}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "Infeasible");
  EXPECT_EQ(r->message,
            "Node didn't have enough capacity: memory, requested: 8589934592, capacity: "
            "4294967296");
}

TEST(ResizeAllocation, DeferredWhenOthersLeaveNoRoom) {
  api::Pod other = pod("1500m", "1Gi");
  api::Pod p = pod("1", "128Mi");
  auto r = checkResize(p, {&other}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "Deferred");
  EXPECT_EQ(r->message,
            "Node didn't have enough resource: cpu, requested: 1000, used: 1500, capacity: 2000");
  EXPECT_FALSE(checkResize(pod("500m", "128Mi"), {&other}, node()).has_value());
}

TEST(ResizeAllocation, WithAllocationKeepsEverythingElse) {
  api::Pod before = pod("500m", "128Mi");
  api::Pod after = pod("1", "256Mi");
  after.spec.containers[0].image = "busybox";
  after.spec.containers[0].resources.limits["ephemeral-storage"] = q("2Gi");
  api::Pod run = withAllocation(after, allocationOf(before));
  const auto& r = run.spec.containers[0].resources;
  EXPECT_EQ(r.requests.at("cpu").milliValue(), 500);
  EXPECT_EQ(r.limits.at("memory").value(), 128 << 20);
  EXPECT_EQ(r.limits.at("ephemeral-storage").value(), int64_t{2} << 30);
  EXPECT_EQ(run.spec.containers[0].image, "busybox");
  EXPECT_FALSE(resizeRequested(run, allocationOf(before)));
}

TEST(ResizeAllocation, UnsetLimitInTheAllocationStaysUnset) {
  api::Pod before = pod("500m", "128Mi");
  before.spec.containers[0].resources.limits.erase("cpu");
  api::Pod after = pod("1", "128Mi");
  api::Pod run = withAllocation(after, allocationOf(before));
  EXPECT_EQ(run.spec.containers[0].resources.limits.count("cpu"), 0u);
  EXPECT_EQ(run.spec.containers[0].resources.requests.at("cpu").milliValue(), 500);
}

}  // namespace
}  // namespace agent::pods

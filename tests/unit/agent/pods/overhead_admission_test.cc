// Admission counts the pod's overhead with its requests (PodRequests with overhead).
#include <gtest/gtest.h>

#include "agent/pods/admission.h"

namespace agent::pods {
namespace {

api::Quantity q(const char* s) { return *api::Quantity::parse(s); }

api::Pod pod(const char* cpu) {
  api::Pod p;
  p.metadata.name = "p";
  api::Container c;
  c.name = "c";
  if (cpu) c.resources.requests["cpu"] = q(cpu);
  p.spec.containers.push_back(c);
  return p;
}

NodeAllocatable node() {
  NodeAllocatable n;
  n.resources = {{"cpu", q("2")}, {"memory", q("1Gi")}, {"pods", q("110")}};
  return n;
}

TEST(OverheadAdmission, RequestsIncludeTheOverhead) {
  api::Pod p = pod("1");
  p.spec.overhead = {{"cpu", q("500m")}, {"memory", q("100Mi")}};
  EXPECT_EQ(podRequestMilli(p, "cpu"), 1500);
  EXPECT_EQ(podRequestMilli(p, "memory"), 100LL * 1024 * 1024 * 1000);
}

TEST(OverheadAdmission, OverheadCanMakeThePodNotFit) {
  api::Pod other = pod("600m");
  api::Pod p = pod("1");
  EXPECT_FALSE(admitPod(p, {&other}, node()).has_value());
  p.spec.overhead = {{"cpu", q("500m")}};
  auto r = admitPod(p, {&other}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfcpu");
  EXPECT_EQ(r->message,
            "Node didn't have enough resource: cpu, requested: 1500, used: 600, capacity: 2000");
}

TEST(OverheadAdmission, OverheadAloneIsAsked) {
  api::Pod p = pod(nullptr);
  p.spec.overhead = {{"memory", q("2Gi")}};
  auto r = admitPod(p, {}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfmemory");
}

}  // namespace
}  // namespace agent::pods

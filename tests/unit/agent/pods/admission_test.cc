#include "agent/pods/admission.h"

#include <gtest/gtest.h>

namespace agent::pods {
namespace {

api::Quantity q(const char* s) { return *api::Quantity::parse(s); }

api::Pod pod(const char* cpu, const char* mem) {
  api::Pod p;
  p.metadata.name = "p";
  api::Container c;
  c.name = "c";
  if (cpu) c.resources.requests["cpu"] = q(cpu);
  if (mem) c.resources.limits["memory"] = q(mem);  // the request defaults to the limit
  p.spec.containers.push_back(c);
  return p;
}

NodeAllocatable node() {
  NodeAllocatable n;
  n.resources = {{"cpu", q("2")}, {"memory", q("1Gi")}, {"pods", q("110")}};
  n.maxPods = 3;
  n.labels = {{"kubernetes.io/os", "linux"}};
  return n;
}

TEST(Admission, FitsBesideOthers) {
  api::Pod a = pod("1", "512Mi");
  api::Pod b = pod("500m", "256Mi");
  EXPECT_FALSE(admitPod(b, {&a}, node()).has_value());
}

TEST(Admission, OutOfCpuWithTheKubeletMessage) {
  api::Pod a = pod("1500m", nullptr);
  api::Pod b = pod("600m", nullptr);
  auto r = admitPod(b, {&a}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfcpu");
  EXPECT_EQ(r->message,
            "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000");
}

TEST(Admission, OutOfMemoryInBytes) {
  api::Pod a = pod(nullptr, "1Gi");
  api::Pod b = pod(nullptr, "1Mi");
  auto r = admitPod(b, {&a}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfmemory");
  EXPECT_EQ(r->message,
            "Node didn't have enough resource: memory, requested: 1048576, used: 1073741824, "
            "capacity: 1073741824");
}

TEST(Admission, OutOfPods) {
  api::Pod a = pod(nullptr, nullptr), b = a, c = a, d = a;
  auto r = admitPod(d, {&a, &b, &c}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfpods");
  EXPECT_EQ(r->message,
            "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3");
}

TEST(Admission, ExtendedResourceTheNodeLacks) {
  api::Pod p = pod(nullptr, nullptr);
  p.spec.containers[0].resources.limits["example.com/gpu"] = q("1");
  auto r = admitPod(p, {}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfexample.com/gpu");
}

TEST(Admission, NodeSelectorMustMatch) {
  api::Pod p = pod(nullptr, nullptr);
  p.spec.nodeSelector = {{"kubernetes.io/os", "linux"}};
  EXPECT_FALSE(admitPod(p, {}, node()).has_value());
  p.spec.nodeSelector = {{"disk", "ssd"}};
  auto r = admitPod(p, {}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "NodeAffinity");
}

TEST(Admission, EffectiveRequestCountsInitContainersAndSidecars) {
  api::Pod p = pod("100m", nullptr);
  api::Container init;
  init.name = "init";
  init.resources.requests["cpu"] = q("1");
  p.spec.initContainers.push_back(init);
  EXPECT_EQ(podRequestMilli(p, "cpu"), 1000);  // the init container dominates
  api::Container sidecar;
  sidecar.name = "sidecar";
  sidecar.restartPolicy = "Always";
  sidecar.resources.requests["cpu"] = q("200m");
  p.spec.initContainers.insert(p.spec.initContainers.begin(), sidecar);
  // The init container runs beside the sidecar: 1200m; the steady state is 300m.
  EXPECT_EQ(podRequestMilli(p, "cpu"), 1200);
}

api::Pod withPort(int32_t hostPort, const char* protocol = "TCP", const char* hostIP = "",
                  int32_t containerPort = 80) {
  api::Pod p = pod(nullptr, nullptr);
  p.spec.containers[0].ports.push_back(
      api::ContainerPort{"", hostPort, containerPort, protocol, hostIP});
  return p;
}

TEST(Admission, HostPortConflictsAsTheSchedulerSeesThem) {
  struct Case {
    const char* name;
    api::Pod have;
    api::Pod want;
    bool fits;
  };
  std::vector<Case> cases = {
      {"same port and protocol, no IPs", withPort(8080), withPort(8080), false},
      {"empty protocol is TCP", withPort(8080, ""), withPort(8080, "TCP"), false},
      {"other protocol", withPort(8080, "TCP"), withPort(8080, "UDP"), true},
      {"other port", withPort(8080), withPort(8081), true},
      {"no hostPort on either side", withPort(0), withPort(0), true},
      {"same containerPort without hostPort", withPort(0, "TCP", "", 53),
       withPort(0, "TCP", "", 53), true},
      {"wildcard taken, specific wanted", withPort(8080, "TCP", "0.0.0.0"),
       withPort(8080, "TCP", "10.0.0.1"), false},
      {"specific taken, wildcard wanted", withPort(8080, "TCP", "10.0.0.1"),
       withPort(8080, "TCP", ""), false},
      {"two different specific IPs", withPort(8080, "TCP", "10.0.0.1"),
       withPort(8080, "TCP", "10.0.0.2"), true},
      {"same specific IP", withPort(8080, "UDP", "10.0.0.1"), withPort(8080, "UDP", "10.0.0.1"),
       false},
  };
  for (const auto& c : cases) {
    auto r = admitPod(c.want, {&c.have}, node());
    EXPECT_EQ(!r.has_value(), c.fits) << c.name;
    EXPECT_EQ(hostPortsFit(c.want, {&c.have}), c.fits) << c.name;
    if (r) {
      EXPECT_EQ(r->reason, "NodePorts") << c.name;
      EXPECT_EQ(r->message, "Predicate NodePorts failed") << c.name;
    }
  }
}

TEST(Admission, HostPortsOfInitContainersAreNotChecked) {
  // The nodeports plugin looks at app containers only, on both sides.
  api::Pod have = withPort(8080);
  api::Pod want = pod(nullptr, nullptr);
  api::Container init;
  init.name = "init";
  init.ports.push_back(api::ContainerPort{"", 8080, 80, "TCP", ""});
  want.spec.initContainers.push_back(init);
  EXPECT_FALSE(admitPod(want, {&have}, node()).has_value());
  EXPECT_FALSE(admitPod(have, {&want}, node()).has_value());
}

TEST(Admission, ResourcesAreReportedBeforeHostPorts) {
  api::Pod have = withPort(8080);
  have.spec.containers[0].resources.requests["cpu"] = q("1500m");
  api::Pod want = withPort(8080);
  want.spec.containers[0].resources.requests["cpu"] = q("1");
  auto r = admitPod(want, {&have}, node());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "OutOfcpu");
}

}  // namespace
}  // namespace agent::pods

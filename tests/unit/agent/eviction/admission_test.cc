#include "agent/eviction/admission.h"

#include <gtest/gtest.h>

namespace agent::eviction {
namespace {

api::Pod pod(const char* kind) {
  api::Pod p;
  p.metadata.name = kind;
  api::Container c;
  c.name = "app";
  std::string k = kind;
  if (k == "burstable") c.resources.requests["memory"] = *api::Quantity::parse("64Mi");
  if (k == "static") p.metadata.annotations["kubernetes.io/config.source"] = "file";
  if (k == "api-source") p.metadata.annotations["kubernetes.io/config.source"] = "api";
  if (k == "mirror") p.metadata.annotations["kubernetes.io/config.mirror"] = "abc";
  if (k == "node-critical") p.spec.priority = 2000001000;
  if (k == "almost-critical") p.spec.priority = 1999999999;
  p.spec.containers.push_back(c);
  return p;
}

constexpr auto M = NodeCondition::kMemoryPressure;
constexpr auto D = NodeCondition::kDiskPressure;
constexpr auto P = NodeCondition::kPIDPressure;

TEST(EvictionAdmission, Table) {
  Toleration memTol{kTaintNodeMemoryPressure, "Exists", "", "NoSchedule"};
  Toleration diskTol{"node.kubernetes.io/disk-pressure", "Exists", "", "NoSchedule"};
  Toleration all{"", "Exists", "", ""};
  Toleration wrongEffect{kTaintNodeMemoryPressure, "Exists", "", "NoExecute"};
  Toleration equalEmpty{kTaintNodeMemoryPressure, "", "", "NoSchedule"};
  struct Case {
    const char* name;
    const char* pod;
    std::vector<Toleration> tolerations;
    std::vector<NodeCondition> conditions;
    const char* rejected;  // message, or nullptr when admitted
  } cases[] = {
      {"no pressure", "besteffort", {}, {}, nullptr},
      {"memory: burstable admitted", "burstable", {}, {M}, nullptr},
      {"memory: besteffort rejected",
       "besteffort",
       {},
       {M},
       "The node had condition: [MemoryPressure]. "},
      {"memory: besteffort tolerating the taint", "besteffort", {memTol}, {M}, nullptr},
      {"memory: toleration of everything", "besteffort", {all}, {M}, nullptr},
      {"memory: Equal with empty value", "besteffort", {equalEmpty}, {M}, nullptr},
      {"memory: other toleration",
       "besteffort",
       {diskTol},
       {M},
       "The node had condition: [MemoryPressure]. "},
      {"memory: wrong effect",
       "besteffort",
       {wrongEffect},
       {M},
       "The node had condition: [MemoryPressure]. "},
      {"disk: burstable rejected",
       "burstable",
       {},
       {D},
       "The node had condition: [DiskPressure]. "},
      {"disk: toleration does not help",
       "besteffort",
       {diskTol, all},
       {D},
       "The node had condition: [DiskPressure]. "},
      {"pid", "burstable", {}, {P}, "The node had condition: [PIDPressure]. "},
      {"memory and disk: burstable rejected",
       "burstable",
       {},
       {M, D},
       "The node had condition: [MemoryPressure DiskPressure]. "},
      {"static pod is critical", "static", {}, {M, D}, nullptr},
      {"api source is not static",
       "api-source",
       {},
       {D},
       "The node had condition: [DiskPressure]. "},
      {"mirror pod is critical", "mirror", {}, {D}, nullptr},
      {"system priority is critical", "node-critical", {}, {D, P}, nullptr},
      {"below system priority",
       "almost-critical",
       {},
       {D},
       "The node had condition: [DiskPressure]. "},
  };
  for (const auto& c : cases) {
    auto r = admitUnderPressure(pod(c.pod), c.tolerations, c.conditions);
    if (!c.rejected) {
      EXPECT_FALSE(r.has_value()) << c.name << ": " << (r ? r->message : "");
      continue;
    }
    ASSERT_TRUE(r.has_value()) << c.name;
    EXPECT_EQ(r->reason, "Evicted") << c.name;
    EXPECT_EQ(r->message, c.rejected) << c.name;
  }
}

TEST(Tolerations, ToleratesTaint) {
  EXPECT_TRUE(toleratesTaint({"k", "Equal", "v", "NoSchedule"}, "k", "v", "NoSchedule"));
  EXPECT_FALSE(toleratesTaint({"k", "Equal", "w", "NoSchedule"}, "k", "v", "NoSchedule"));
  EXPECT_TRUE(toleratesTaint({"k", "Exists", "", ""}, "k", "v", "NoExecute"));
  EXPECT_FALSE(toleratesTaint({"other", "Exists", "", ""}, "k", "v", "NoExecute"));
  EXPECT_FALSE(toleratesTaint({"k", "Lt", "1", ""}, "k", "1", "NoSchedule"));
}

}  // namespace
}  // namespace agent::eviction

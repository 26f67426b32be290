#include "agent/status/status_patch.h"

#include <gtest/gtest.h>

#include "agent/status/status_merge.h"
#include "tests/fakeapi/patch.h"
#include "tests/unit/agent/status/fake_pods_api.h"

namespace agent::status {
namespace {

using nlohmann::json;

api::PodCondition cond(std::string type, std::string status, std::string ltt = "t0") {
  return api::PodCondition{std::move(type), std::move(status), "", "", std::move(ltt), ""};
}

api::PodStatus pending() {
  api::PodStatus s;
  s.phase = "Pending";
  s.conditions = {cond("PodScheduled", "True")};
  s.startTime = "2024-01-01T00:00:00Z";
  api::ContainerStatus c;
  c.name = "a";
  c.image = "nginx";
  c.state.waiting = api::ContainerStateWaiting{"ContainerCreating", ""};
  s.containerStatuses = {c};
  return s;
}

api::PodStatus running() {
  api::PodStatus s = pending();
  s.phase = "Running";
  s.podIP = "10.88.0.7";
  s.podIPs = {"10.88.0.7"};
  s.conditions = {cond("PodReadyToStartContainers", "True", "t1"),
                  cond("Initialized", "True", "t1"), cond("Ready", "True", "t2"),
                  cond("ContainersReady", "True", "t2"), cond("PodScheduled", "True")};
  s.containerStatuses[0].state = api::ContainerState{};
  s.containerStatuses[0].state.running = api::ContainerStateRunning{"2024-01-01T00:00:02Z"};
  s.containerStatuses[0].ready = true;
  return s;
}

TEST(StatusPatchTest, EqualStatusesGiveNoPatch) {
  EXPECT_FALSE(podStatusPatch("u1", running(), running()));
  EXPECT_FALSE(podStatusPatch("u1", api::PodStatus{}, api::PodStatus{}));
}

TEST(StatusPatchTest, ShapeMatchesTheKubelets) {
  auto body = podStatusPatch("u1", pending(), running());
  ASSERT_TRUE(body);
  json p = json::parse(*body);
  EXPECT_EQ(p["metadata"], json({{"uid", "u1"}}));
  const json& s = p["status"];
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["podIP"], "10.88.0.7");
  // podIPs was empty before: the whole list.
  EXPECT_EQ(s["podIPs"], json::parse(R"([{"ip":"10.88.0.7"}])"));
  // Conditions merge by type: PodScheduled did not change, so only its place is sent.
  EXPECT_EQ(s["$setElementOrder/conditions"],
            json::parse(R"([{"type":"PodReadyToStartContainers"},{"type":"Initialized"},
                            {"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}])"));
  ASSERT_EQ(s["conditions"].size(), 4u);
  EXPECT_EQ(s["conditions"][0]["type"], "PodReadyToStartContainers");
  EXPECT_EQ(s["conditions"][0]["lastTransitionTime"], "t1");
  EXPECT_TRUE(s["conditions"][0]["lastProbeTime"].is_null());
  // containerStatuses has no merge strategy: replaced whole.
  EXPECT_EQ(s["containerStatuses"], api::toJson(running())["containerStatuses"]);
  EXPECT_FALSE(s.contains("startTime"));
  EXPECT_FALSE(s.contains("qosClass"));
  // Keys sorted as Go's encoder sorts them.
  EXPECT_EQ(body->rfind(R"({"metadata":{"uid":"u1"},"status":{"$setElementOrder/conditions")", 0),
            0u);
}

TEST(StatusPatchTest, ChangedConditionCarriesOnlyWhatChangedPlusItsKey) {
  api::PodStatus before = running();
  api::PodStatus after = running();
  after.conditions[2] = api::PodCondition{"Ready", "False", "ContainersNotReady", "x", "t3", ""};
  json p = json::parse(*podStatusPatch("u1", before, after));
  EXPECT_EQ(p["status"]["conditions"],
            json::parse(R"([{"type":"Ready","status":"False","reason":"ContainersNotReady",
                              "message":"x","lastTransitionTime":"t3"}])"));
  EXPECT_EQ(p["status"]["$setElementOrder/conditions"].size(), 5u);
  EXPECT_FALSE(p["status"].contains("containerStatuses"));
}

TEST(StatusPatchTest, DroppedFieldsAndItemsAreDeleted) {
  api::PodStatus before = running();
  before.message = "sandbox error";
  api::PodStatus after = running();
  after.conditions.erase(after.conditions.begin());  // PodReadyToStartContainers
  json p = json::parse(*podStatusPatch("u1", before, after));
  EXPECT_TRUE(p["status"]["message"].is_null());
  EXPECT_EQ(p["status"]["conditions"],
            json::parse(R"([{"$patch":"delete","type":"PodReadyToStartContainers"}])"));
}

TEST(StatusPatchTest, ReorderAloneSendsTheOrder) {
  api::PodStatus before = running();
  api::PodStatus after = running();
  std::swap(after.conditions[0], after.conditions[1]);
  json p = json::parse(*podStatusPatch("u1", before, after));
  EXPECT_FALSE(p["status"].contains("conditions"));
  EXPECT_EQ(p["status"]["$setElementOrder/conditions"][0]["type"], "Initialized");
}

// Applying the patch to what the API holds gives the new status, whatever the
// change; another writer's condition added meanwhile survives.
TEST(StatusPatchTest, PatchAppliedGivesTheNewStatus) {
  std::vector<std::pair<api::PodStatus, api::PodStatus>> cases = {
      {pending(), running()}, {running(), pending()}, {api::PodStatus{}, running()}};
  api::PodStatus failed = running();
  failed.phase = "Failed";
  failed.podIPs.push_back("fd00::7");
  failed.conditions[2].status = "False";
  cases.push_back({running(), failed});
  for (const auto& [before, after] : cases) {
    json p = json::parse(*podStatusPatch("u1", before, after));
    json applied = cubelet::testing::applyStatusPatch(api::toJson(before), p["status"]);
    auto decoded = api::decodePodStatus(applied);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, after) << p.dump();

    // The fake API server's strategic merge agrees.
    json pod = {{"metadata", {{"name", "web"}, {"uid", "u1"}}}, {"status", api::toJson(before)}};
    auto served = cubelet::fakeapi::strategicMerge(pod, p, "Pod");
    ASSERT_TRUE(served.ok()) << served.status();
    auto servedStatus = api::decodePodStatus((*served)["status"]);
    ASSERT_TRUE(servedStatus.ok());
    EXPECT_EQ(*servedStatus, after) << p.dump();

    json live = api::toJson(before);
    live["conditions"].push_back({{"type", "example.com/gate"}, {"status", "True"}});
    json merged = cubelet::testing::applyStatusPatch(live, p["status"]);
    bool kept = false;
    for (const auto& c : merged["conditions"]) kept = kept || c["type"] == "example.com/gate";
    EXPECT_TRUE(kept) << merged.dump();
  }
}

TEST(StatusMergeTest, KeepsTransitionTimesStartTimeAndPodIp) {
  api::PodStatus old = running();
  api::PodStatus next = running();
  next.startTime = "2024-01-01T01:00:00Z";
  next.podIP.clear();
  next.podIPs.clear();
  for (auto& c : next.conditions) c.lastTransitionTime = "later";
  next.conditions[2].status = "False";  // Ready changed
  preserveAndNormalize(&old, next, "now");
  EXPECT_EQ(next.startTime, "2024-01-01T00:00:00Z");
  EXPECT_EQ(next.podIP, "10.88.0.7");
  EXPECT_EQ(next.podIPs, old.podIPs);
  EXPECT_EQ(next.conditions[0].lastTransitionTime, "t1");
  EXPECT_EQ(next.conditions[2].lastTransitionTime, "now");
  EXPECT_EQ(next.conditions[4].lastTransitionTime, "t0");
}

TEST(StatusMergeTest, TerminalPhaseIsNeverLeft) {
  api::PodStatus old = running();
  old.phase = "Succeeded";
  old.reason = "done";
  api::PodStatus next = running();
  preserveAndNormalize(&old, next, "now");
  EXPECT_EQ(next.phase, "Succeeded");
  EXPECT_EQ(next.reason, "done");
  // And a terminal pod is not ready.
  for (const auto& c : next.conditions) {
    if (c.type == "Ready" || c.type == "ContainersReady") {
      EXPECT_EQ(c.status, "False");
      EXPECT_EQ(c.reason, "PodCompleted");
    }
  }
  api::PodStatus forced = running();
  forceTerminalPhase(forced, "now");
  EXPECT_EQ(forced.phase, "Failed");
}

TEST(StatusMergeTest, NormalizesContainerOrderAndMessageLength) {
  api::PodStatus s = running();
  api::ContainerStatus b = s.containerStatuses[0];
  b.name = "0-sidecar";
  b.state = api::ContainerState{};
  b.state.terminated = api::ContainerStateTerminated{};
  b.state.terminated->message = std::string(20000, 'x');
  s.containerStatuses.push_back(b);
  preserveAndNormalize(nullptr, s, "now");
  ASSERT_EQ(s.containerStatuses.size(), 2u);
  EXPECT_EQ(s.containerStatuses[0].name, "0-sidecar");
  EXPECT_EQ(s.containerStatuses[0].state.terminated->message.size(), 12u * 1024 / 2);
}

TEST(StatusMergeTest, OtherWritersConditionsSurvive) {
  api::PodStatus apiStatus = pending();
  apiStatus.conditions.push_back(cond("example.com/gate", "True"));
  apiStatus.conditions.push_back(cond("PodReadyToStartContainers", "False"));
  api::PodStatus merged = mergeWithApiStatus(apiStatus, running());
  ASSERT_EQ(merged.conditions.size(), 6u);
  EXPECT_EQ(merged.conditions[0].type, "example.com/gate");
  EXPECT_EQ(merged.conditions[1].type, "PodReadyToStartContainers");
  EXPECT_EQ(merged.conditions[1].status, "True");
}

}  // namespace
}  // namespace agent::status

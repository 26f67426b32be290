// Merge, strategic merge and JSON patches, directly and through PATCH requests.
#include "tests/fakeapi/patch.h"

#include "gmock/gmock.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const json kPod = json::parse(R"({
  "metadata": {"name": "p", "labels": {"a": "1", "b": "2"},
               "ownerReferences": [{"uid": "u1", "name": "x"}]},
  "spec": {"containers": [{"name": "c1", "image": "i1", "env": [{"name": "A", "value": "1"}]},
                          {"name": "c2", "image": "i2"}]},
  "status": {
    "phase": "Pending",
    "conditions": [{"type": "PodScheduled", "status": "True"},
                   {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
    "podIPs": [{"ip": "10.0.0.1"}],
    "containerStatuses": [{"name": "c1", "ready": false, "restartCount": 0},
                          {"name": "c2", "ready": false, "restartCount": 0}]
  }})");

TEST(PatchTest, MergePatchFollowsRfc7386) {
  auto out = applyPatch(
      kPod, "application/merge-patch+json",
      R"({"metadata":{"labels":{"a":null,"c":"3"}},"status":{"conditions":[{"type":"X"}]}})");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["metadata"]["labels"], (json{{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ((*out)["status"]["conditions"], json::parse(R"([{"type":"X"}])"));  // lists replaced
}

TEST(PatchTest, StrategicMergeMergesConditionsByTypeAndReplacesContainerStatuses) {
  // The shape of the kubelet's status patch.
  const std::string patch = R"({
    "metadata": {"uid": "ignored-here"},
    "status": {
      "$setElementOrder/conditions": [{"type": "PodScheduled"}, {"type": "Initialized"}, {"type": "Ready"}],
      "conditions": [{"type": "Ready", "status": "True", "reason": null},
                     {"type": "Initialized", "status": "True"}],
      "containerStatuses": [{"name": "c1", "ready": true, "restartCount": 0}],
      "podIPs": [{"ip": "fd00::1"}],
      "phase": "Running"}})";
  auto out = applyPatch(kPod, "application/strategic-merge-patch+json; charset=utf-8", patch);
  ASSERT_TRUE(out.ok()) << out.status();
  const json& st = (*out)["status"];
  EXPECT_EQ(st["phase"], "Running");
  EXPECT_EQ(st["conditions"], json::parse(R"([
      {"type": "PodScheduled", "status": "True"},
      {"type": "Initialized", "status": "True"},
      {"type": "Ready", "status": "True"}])"));
  EXPECT_EQ(st["containerStatuses"].size(), 1u);  // atomic: replaced
  EXPECT_EQ(st["podIPs"], json::parse(R"([{"ip":"10.0.0.1"},{"ip":"fd00::1"}])"));
  EXPECT_FALSE(st.contains("$setElementOrder/conditions"));
}

TEST(PatchTest, StrategicMergeDirectives) {
  auto out = strategicMerge(kPod, json::parse(R"({
      "metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}, {"uid": "u2", "name": "y"}]},
      "spec": {"containers": [{"name": "c1", "image": "i1b", "env": [{"name": "B", "value": "2"}]}]},
      "status": {"conditions": [{"type": "PodScheduled", "$patch": "delete"}],
                 "podIPs": [{"$patch": "replace"}, {"ip": "10.0.0.9"}]}})"),
                            "Pod");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["metadata"]["ownerReferences"], json::parse(R"([{"uid":"u2","name":"y"}])"));
  const json& c1 = (*out)["spec"]["containers"][0];
  EXPECT_EQ(c1["image"], "i1b");
  EXPECT_EQ(c1["env"].size(), 2u);  // env merges by name
  EXPECT_EQ((*out)["spec"]["containers"].size(), 2u);
  EXPECT_EQ((*out)["status"]["conditions"].size(), 1u);
  EXPECT_EQ((*out)["status"]["podIPs"], json::parse(R"([{"ip":"10.0.0.9"}])"));

  auto replaced = strategicMerge(
      kPod, json::parse(R"({"metadata":{"labels":{"$patch":"replace","z":"9"}}})"), "Pod");
  EXPECT_EQ((*replaced)["metadata"]["labels"], (json{{"z", "9"}}));
  EXPECT_FALSE(
      strategicMerge(kPod, json::parse(R"({"status":{"conditions":[{"status":"x"}]}})"), "Pod")
          .ok());
}

TEST(PatchTest, JsonPatch) {
  auto out = applyPatch(kPod, "application/json-patch+json",
                        R"([{"op":"test","path":"/status/phase","value":"Pending"},
                            {"op":"replace","path":"/status/phase","value":"Running"},
                            {"op":"add","path":"/metadata/labels/c","value":"3"},
                            {"op":"remove","path":"/metadata/labels/a"}])");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["status"]["phase"], "Running");
  EXPECT_EQ((*out)["metadata"]["labels"], (json{{"b", "2"}, {"c", "3"}}));
  auto failed = applyPatch(kPod, "application/json-patch+json",
                           R"([{"op":"test","path":"/status/phase","value":"Running"}])");
  EXPECT_EQ(httpCode(failed.status()), 422);
}

TEST(PatchTest, UnknownContentTypeAndBadBodies) {
  EXPECT_EQ(httpCode(applyPatch(kPod, "application/json", "{}").status()), 415);
  EXPECT_EQ(statusReason(applyPatch(kPod, "text/plain", "{}").status()), "UnsupportedMediaType");
  EXPECT_EQ(httpCode(applyPatch(kPod, "application/merge-patch+json", "{not json").status()), 400);
}

using testing::FakeApiTest;
using testing::kPods;

TEST_F(FakeApiTest, PatchStatusWithUidPrecondition) {
  json p = server_->create(kPods, pod("p", "n1")).value();
  const std::string uid = p["metadata"]["uid"];
  json patch = {
      {"metadata", {{"uid", uid}}},
      {"status", {{"phase", "Running"}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}},
      {"spec", {{"nodeName", "elsewhere"}}}};
  auto r = admin_->patch(std::string(kPods) + "/p/status", kStrategicMergePatch, patch);
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.json()["status"]["phase"], "Running");
  EXPECT_EQ(r.json()["spec"]["nodeName"], "n1");  // /status keeps the spec
  EXPECT_NE(rv(r.json()), rv(p));

  patch["metadata"]["uid"] = "0000-other";
  auto conflict = admin_->patch(std::string(kPods) + "/p/status", kStrategicMergePatch, patch);
  EXPECT_EQ(conflict.code, 409);
  EXPECT_EQ(conflict.json()["reason"], "Conflict");
  EXPECT_THAT(
      conflict.json()["message"].get<std::string>(),
      HasSubstr(
          "Operation cannot be fulfilled on pods \"p\": StorageError: invalid object, Code: 4, "
          "Key: /registry/pods/default/p, ResourceVersion: 0, AdditionalErrorMsg: "
          "Precondition failed: UID in precondition: 0000-other, UID in object meta: " +
          uid));

  // The main resource ignores status in patches; merge patch labels.
  auto main = admin_->patch(
      std::string(kPods) + "/p", kMergePatch,
      json{{"metadata", {{"labels", {{"x", "1"}}}}}, {"status", {{"phase", "Failed"}}}});
  ASSERT_EQ(main.code, 200);
  EXPECT_EQ(main.json()["metadata"]["labels"]["x"], "1");
  EXPECT_EQ(main.json()["status"]["phase"], "Running");

  auto jp = admin_->patch(
      std::string(kPods) + "/p", kJsonPatch,
      json::parse(R"([{"op":"add","path":"/metadata/annotations","value":{"k":"v"}}])"));
  EXPECT_EQ(jp.code, 200);
  EXPECT_EQ(admin_->patch(std::string(kPods) + "/p", "application/json", json::object()).code, 415);
  EXPECT_EQ(admin_->patch(std::string(kPods) + "/nope", kMergePatch, json::object()).code, 404);
}

}  // namespace
}  // namespace cubelet::fakeapi

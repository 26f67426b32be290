// The fake API server's pods/resize subresource: PATCH and PUT change only the
// containers' resources (and resizePolicy), other changes in the same request are
// dropped, and what upstream's ValidatePodResize refuses is a 422 with its words. The
// main resource keeps taking the updates it took before.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kMergePatch[] = "application/merge-patch+json";
constexpr char kStrategic[] = "application/strategic-merge-patch+json";

json resources(const std::string& cpuReq, const std::string& cpuLim, const std::string& memReq,
               const std::string& memLim) {
  json r = {{"requests", json::object()}, {"limits", json::object()}};
  if (!cpuReq.empty()) r["requests"]["cpu"] = cpuReq;
  if (!memReq.empty()) r["requests"]["memory"] = memReq;
  if (!cpuLim.empty()) r["limits"]["cpu"] = cpuLim;
  if (!memLim.empty()) r["limits"]["memory"] = memLim;
  return r;
}

class PodResizeApiTest : public FakeApiTest {
 protected:
  // A Burstable pod: c with 100m/200m CPU and 64Mi/128Mi memory, maybe an init container.
  json createPod(const std::string& name, bool withInit = false) {
    json p = pod(name, "n1");
    p["spec"]["containers"][0]["resources"] = resources("100m", "200m", "64Mi", "128Mi");
    if (withInit) {
      p["spec"]["initContainers"] = {{{"name", "init"},
                                      {"image", "busybox:1.36"},
                                      {"resources", resources("10m", "", "", "")}}};
    }
    auto r = admin_->post(kPods, p);
    EXPECT_EQ(r.code, 201) << r.body;
    return r.json();
  }
  std::string path(const std::string& name) { return std::string(kPods) + "/" + name + "/resize"; }
  json patchContainer(const json& container) {
    return {{"spec", {{"containers", json::array({container})}}}};
  }
};

TEST_F(PodResizeApiTest, PatchChangesResources) {
  createPod("r1");
  json c = {{"name", "c"}, {"resources", {{"limits", {{"cpu", "400m"}}}}}};
  auto r = admin_->patch(path("r1"), kStrategic, patchContainer(c));
  ASSERT_EQ(r.code, 200) << r.body;
  json got = admin_->get(std::string(kPods) + "/r1").json();
  EXPECT_EQ(got["spec"]["containers"][0]["resources"]["limits"]["cpu"], "400m");
  EXPECT_EQ(got["spec"]["containers"][0]["resources"]["requests"]["cpu"], "100m");
  EXPECT_EQ(got["status"]["qosClass"], "Burstable");
  // GET on the subresource answers the pod.
  EXPECT_EQ(admin_->get(path("r1")).json()["metadata"]["name"], "r1");
}

TEST_F(PodResizeApiTest, PutChangesOnlyResourcesAndResizePolicy) {
  json p = createPod("r2");
  p["spec"]["containers"][0]["resources"] = resources("150m", "300m", "64Mi", "128Mi");
  p["spec"]["containers"][0]["resizePolicy"] = {
      {{"resourceName", "cpu"}, {"restartPolicy", "NotRequired"}}};
  // Not the resize subresource's to change: dropped, as upstream's dropNonResizeUpdates.
  p["spec"]["containers"][0]["image"] = "busybox:1.37";
  p["spec"]["nodeName"] = "elsewhere";
  p["status"]["phase"] = "Running";
  p["metadata"]["labels"]["x"] = "y";
  auto r = admin_->put(path("r2"), p);
  ASSERT_EQ(r.code, 200) << r.body;
  json got = r.json();
  EXPECT_EQ(got["spec"]["containers"][0]["resources"]["limits"]["cpu"], "300m");
  EXPECT_EQ(got["spec"]["containers"][0]["resizePolicy"][0]["resourceName"], "cpu");
  EXPECT_EQ(got["spec"]["containers"][0]["image"], "busybox:1.36");
  EXPECT_EQ(got["spec"]["nodeName"], "n1");
  EXPECT_EQ(got["status"]["phase"], "Pending");
  EXPECT_FALSE(got["metadata"]["labels"].contains("x"));
}

TEST_F(PodResizeApiTest, RefusesWhatUpstreamRefuses) {
  createPod("r3");
  struct Case {
    const char* name;
    json patch;
    const char* type;
    std::string want;
  };
  std::vector<Case> cases = {
      {"ephemeral-storage",
       patchContainer({{"name", "c"}, {"resources", {{"limits", {{"ephemeral-storage", "1Gi"}}}}}}),
       kStrategic, "spec: Forbidden: only cpu and memory resources are mutable"},
      {"removed request",
       patchContainer({{"name", "c"}, {"resources", {{"requests", {{"memory", nullptr}}}}}}),
       kStrategic,
       "spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed"},
      {"removed limit",
       patchContainer({{"name", "c"}, {"resources", {{"limits", {{"cpu", nullptr}}}}}}), kStrategic,
       "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"},
      {"request above limit",
       patchContainer({{"name", "c"}, {"resources", {{"requests", {{"cpu", "500m"}}}}}}),
       kStrategic,
       "spec.containers[0].resources.requests: Invalid value: \"500m\": must be less than or "
       "equal to cpu limit of 200m"},
      {"QoS class",
       patchContainer(
           {{"name", "c"}, {"resources", {{"requests", {{"cpu", "200m"}, {"memory", "128Mi"}}}}}}),
       kStrategic,
       "spec: Invalid value: \"Guaranteed\": Pod QOS Class may not change as a result of "
       "resizing"},
      {"renamed container",
       {{"spec", {{"containers", {{{"name", "d"}, {"image", "busybox:1.36"}}}}}}},
       kMergePatch,
       "spec.containers[0].name: Forbidden: containers may not be renamed or reordered on "
       "resize"},
  };
  for (const auto& c : cases) {
    auto r = admin_->patch(path("r3"), c.type, c.patch);
    EXPECT_EQ(r.code, 422) << c.name << ": " << r.body;
    EXPECT_EQ(r.json()["reason"], "Invalid") << c.name;
    EXPECT_THAT(r.json().value("message", ""), HasSubstr(c.want)) << c.name;
  }
  // Nothing of it stuck.
  json got = admin_->get(std::string(kPods) + "/r3").json();
  EXPECT_EQ(got["spec"]["containers"][0]["resources"], resources("100m", "200m", "64Mi", "128Mi"));
  // A merge patch replaces the whole list, but only the containers' resources are
  // taken from it (dropNonResizeUpdates): the container keeps its image.
  auto merged = admin_->patch(
      path("r3"), kMergePatch,
      {{"spec",
        {{"containers",
          {{{"name", "c"}, {"resources", resources("100m", "300m", "64Mi", "128Mi")}}}}}}});
  EXPECT_EQ(merged.code, 200) << merged.body;
  EXPECT_EQ(merged.json()["spec"]["containers"][0]["image"], "busybox:1.36") << merged.body;
  EXPECT_EQ(merged.json()["spec"]["containers"][0]["resources"],
            resources("100m", "300m", "64Mi", "128Mi"));

  createPod("r5", /*withInit=*/true);
  json init = {{"spec",
                {{"initContainers",
                  {{{"name", "init"}, {"resources", {{"requests", {{"cpu", "20m"}}}}}}}}}}};
  auto r = admin_->patch(path("r5"), kStrategic, init);
  EXPECT_EQ(r.code, 422) << r.body;
  EXPECT_THAT(r.json().value("message", ""),
              HasSubstr("spec.initContainers[0].resources: Forbidden: resources for non-sidecar "
                        "init containers are immutable"));
  // A sidecar's may change.
  json p = pod("r6", "n1");
  p["spec"]["initContainers"] = {{{"name", "side"},
                                  {"image", "busybox:1.36"},
                                  {"restartPolicy", "Always"},
                                  {"resources", resources("10m", "", "", "")}}};
  ASSERT_EQ(admin_->post(kPods, p).code, 201);
  init["spec"]["initContainers"][0]["name"] = "side";
  r = admin_->patch(path("r6"), kStrategic, init);
  EXPECT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.json()["spec"]["initContainers"][0]["resources"]["requests"]["cpu"], "20m");
}

TEST_F(PodResizeApiTest, MainResourceStillTakesItsUpdates) {
  json p = createPod("r4");
  p["metadata"]["labels"]["x"] = "y";
  auto r = admin_->put(std::string(kPods) + "/r4", p);
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.json()["metadata"]["labels"]["x"], "y");
}

TEST_F(PodResizeApiTest, DiscoveryListsTheSubresource) {
  json list = admin_->get("/api/v1").json();
  bool found = false;
  for (const auto& res : list["resources"]) {
    if (res["name"] == "pods/resize") {
      found = true;
      EXPECT_EQ(res["kind"], "Pod");
      EXPECT_EQ(res["verbs"], json({"get", "patch", "update"}));
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

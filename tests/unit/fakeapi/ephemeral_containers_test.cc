// The fake API server's pods/ephemeralcontainers subresource (kubectl debug): PATCH and
// PUT add ephemeral containers (defaulted) and change nothing else, with a watch
// MODIFIED event; what upstream's ValidatePodEphemeralContainersUpdate refuses is a
// 422 with its words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kStrategic[] = "application/strategic-merge-patch+json";

class EphemeralContainersApiTest : public FakeApiTest {
 protected:
  json createPod(const std::string& name) {
    auto r = admin_->post(kPods, pod(name, "n1"));
    EXPECT_EQ(r.code, 201) << r.body;
    return r.json();
  }
  static std::string path(const std::string& name) {
    return std::string(kPods) + "/" + name + "/ephemeralcontainers";
  }
  static json debugger(const std::string& name, const std::string& target = "") {
    json c = {{"name", name}, {"image", "busybox:1.36"}, {"command", {"sh"}}};
    if (!target.empty()) c["targetContainerName"] = target;
    return c;
  }
  static json addPatch(const json& c) {
    return {{"spec", {{"ephemeralContainers", json::array({c})}}}};
  }
};

TEST_F(EphemeralContainersApiTest, PatchAddsDefaultedContainerWithWatchEvent) {
  json p = createPod("e1");
  WatchStream w(*admin_, std::string(kPods) + "?watch=1&resourceVersion=" + rv(p));
  auto r = admin_->patch(path("e1"), kStrategic, addPatch(debugger("dbg", "c")));
  ASSERT_EQ(r.code, 200) << r.body;
  json got = admin_->get(std::string(kPods) + "/e1").json();
  ASSERT_EQ(got["spec"]["ephemeralContainers"].size(), 1u);
  const json& c = got["spec"]["ephemeralContainers"][0];
  EXPECT_EQ(c["name"], "dbg");
  EXPECT_EQ(c["targetContainerName"], "c");
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(c["terminationMessagePolicy"], "File");
  EXPECT_EQ(c["imagePullPolicy"], "IfNotPresent");
  EXPECT_NE(rv(got), rv(p));
  auto e = w.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "MODIFIED");
  EXPECT_EQ((*e)["object"]["spec"]["ephemeralContainers"][0]["name"], "dbg");
  // GET on the subresource answers the pod.
  EXPECT_EQ(admin_->get(path("e1")).json()["metadata"]["name"], "e1");

  // A second one is added next to the first (merged by name).
  r = admin_->patch(path("e1"), kStrategic, addPatch(debugger("dbg2")));
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.json()["spec"]["ephemeralContainers"].size(), 2u);
}

TEST_F(EphemeralContainersApiTest, PutChangesOnlyEphemeralContainers) {
  json p = createPod("e2");
  p["spec"]["ephemeralContainers"] = json::array({debugger("dbg")});
  // Not the subresource's to change: dropped (dropNonEphemeralContainerUpdates).
  p["spec"]["containers"][0]["image"] = "busybox:1.37";
  p["metadata"]["labels"]["x"] = "y";
  auto r = admin_->put(path("e2"), p);
  ASSERT_EQ(r.code, 200) << r.body;
  json got = r.json();
  EXPECT_EQ(got["spec"]["ephemeralContainers"][0]["name"], "dbg");
  EXPECT_EQ(got["spec"]["containers"][0]["image"], "busybox:1.36");
  EXPECT_FALSE(got["metadata"]["labels"].contains("x"));
}

TEST_F(EphemeralContainersApiTest, RefusesWhatUpstreamRefuses) {
  createPod("e3");
  ASSERT_EQ(admin_->patch(path("e3"), kStrategic, addPatch(debugger("dbg"))).code, 200);
  json stored = admin_->get(std::string(kPods) + "/e3").json();

  struct Case {
    const char* name;
    json body;  // a PUT of the pod with this spec.ephemeralContainers
    std::string want;
  };
  json changed = stored["spec"]["ephemeralContainers"];
  changed[0]["image"] = "busybox:1.37";
  json withPorts = stored["spec"]["ephemeralContainers"];
  withPorts.push_back(debugger("p"));
  withPorts[1]["ports"] = {{{"containerPort", 80}}};
  json withProbe = stored["spec"]["ephemeralContainers"];
  withProbe.push_back(debugger("q"));
  withProbe[1]["readinessProbe"] = {{"exec", {{"command", {"true"}}}}};
  withProbe[1]["resources"] = {{"limits", {{"cpu", "1"}}}};
  json dup = stored["spec"]["ephemeralContainers"];
  dup.push_back(debugger("c"));
  json badTarget = stored["spec"]["ephemeralContainers"];
  badTarget.push_back(debugger("t", "nope"));
  std::vector<Case> cases = {
      {"removed", json::array(),
       "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be "
       "removed"},
      {"changed", changed,
       "spec.ephemeralContainers[dbg]: Forbidden: existing ephemeral containers \"dbg\" may not "
       "be changed"},
      {"ports", withPorts,
       "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container"},
      {"probe", withProbe,
       "spec.ephemeralContainers[1].readinessProbe: Forbidden: cannot be set for an Ephemeral "
       "Container"},
      {"resources", withProbe,
       "spec.ephemeralContainers[1].resources: Forbidden: cannot be set for an Ephemeral "
       "Container"},
      {"name of a container", dup, "spec.ephemeralContainers[1].name: Duplicate value: \"c\""},
      {"target", badTarget, "spec.ephemeralContainers[1].targetContainerName: Not found: \"nope\""},
  };
  for (const auto& c : cases) {
    json body = stored;
    body["spec"]["ephemeralContainers"] = c.body;
    auto r = admin_->put(path("e3"), body);
    EXPECT_EQ(r.code, 422) << c.name << ": " << r.body;
    EXPECT_THAT(r.json().value("message", ""), HasSubstr(c.want)) << c.name;
    EXPECT_THAT(r.json().value("message", ""), HasSubstr("Pod \"e3\" is invalid")) << c.name;
  }
  // Nothing changed.
  json after = admin_->get(std::string(kPods) + "/e3").json();
  EXPECT_EQ(rv(after), rv(stored));
}

TEST_F(EphemeralContainersApiTest, StaticPodsRefuseThem) {
  json p = pod("mirror", "n1");
  p["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "abc";
  ASSERT_EQ(admin_->post(kPods, p).code, 201);
  auto r = admin_->patch(path("mirror"), kStrategic, addPatch(debugger("dbg")));
  EXPECT_EQ(r.code, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr("static pods do not support ephemeral containers"));
}

TEST_F(EphemeralContainersApiTest, DiscoveryListsTheSubresource) {
  json list = admin_->get("/api/v1").json();
  bool found = false;
  for (const auto& res : list["resources"]) {
    if (res["name"] == "pods/ephemeralcontainers") {
      found = true;
      EXPECT_EQ(res["verbs"], json({"get", "patch", "update"}));
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

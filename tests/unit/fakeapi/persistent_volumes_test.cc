// PersistentVolumes (cluster-scoped, with a status subresource) and what the Node
// authorizer lets a node read of them: the claims its pods use and the volumes bound
// (spec.volumeName) to those claims, as the upstream graph's pv -> pvc -> pod edges.
#include "gmock/gmock.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kPvs[] = "/api/v1/persistentvolumes";
constexpr char kClaims[] = "/api/v1/namespaces/default/persistentvolumeclaims";

json pv(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"capacity", {{"storage", "1Gi"}}},
            {"accessModes", {"ReadWriteOnce"}},
            {"hostPath", {{"path", "/srv/" + name}}}}}};
}

json claim(const std::string& name, const std::string& volume) {
  json c = {
      {"metadata", {{"name", name}}},
      {"spec",
       {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  if (!volume.empty()) c["spec"]["volumeName"] = volume;
  return c;
}

json podWithClaim(const std::string& name, const std::string& node, const std::string& claimName) {
  json p = {
      {"metadata", {{"name", name}}},
      {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}, {"image", "busybox:1.36"}}}}}}};
  p["spec"]["volumes"] = {
      {{"name", "data"}, {"persistentVolumeClaim", {{"claimName", claimName}}}}};
  return p;
}

TEST_F(FakeApiTest, PersistentVolumesAreServedClusterScoped) {
  auto r = admin_->post(kPvs, pv("pv1"));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["kind"], "PersistentVolume");
  EXPECT_FALSE(r.json()["metadata"].contains("namespace"));
  EXPECT_EQ(admin_->get(std::string(kPvs) + "/pv1").code, 200);
  auto list = admin_->get(kPvs);
  ASSERT_EQ(list.code, 200);
  EXPECT_EQ(list.json()["kind"], "PersistentVolumeList");
  EXPECT_EQ(list.json()["items"].size(), 1u);
  // Status through its subresource only.
  json bound = r.json();
  bound["status"] = {{"phase", "Bound"}};
  auto st = admin_->put(std::string(kPvs) + "/pv1/status", bound);
  ASSERT_EQ(st.code, 200) << st.body;
  EXPECT_EQ(st.json()["status"]["phase"], "Bound");
  // A namespaced path does not address it.
  EXPECT_EQ(admin_->get("/api/v1/namespaces/default/persistentvolumes/pv1").code, 404);
}

TEST_F(FakeApiTest, NodeReadsOnlyClaimsAndVolumesOfItsPods) {
  for (const char* n : {"pv1", "pv2", "pv3"}) ASSERT_TRUE(server_->create(kPvs, pv(n)).ok());
  ASSERT_TRUE(server_->create(kClaims, claim("mine", "pv1")).ok());
  ASSERT_TRUE(server_->create(kClaims, claim("theirs", "pv2")).ok());
  ASSERT_TRUE(server_->create(kClaims, claim("unbound", "")).ok());
  ASSERT_TRUE(server_->create(kPods, podWithClaim("db", "n1", "mine")).ok());
  ASSERT_TRUE(server_->create(kPods, podWithClaim("cache", "n1", "unbound")).ok());
  ASSERT_TRUE(server_->create(kPods, podWithClaim("other", "n2", "theirs")).ok());
  // A claim in another namespace, bound to pv3, used by a pod on n1 there.
  ASSERT_TRUE(
      server_->create("/api/v1/namespaces/apps/persistentvolumeclaims", claim("mine", "pv3")).ok());
  ASSERT_TRUE(
      server_->create("/api/v1/namespaces/apps/pods", podWithClaim("app", "n1", "mine")).ok());
  auto n1 = nodeClient("n1");

  struct Case {
    std::string path;
    long code;
  };
  for (const auto& c : std::vector<Case>{
           {std::string(kClaims) + "/mine", 200},
           {std::string(kClaims) + "/unbound", 200},
           {std::string(kClaims) + "/theirs", 403},
           {std::string(kPvs) + "/pv1", 200},
           {std::string(kPvs) + "/pv2", 403},
           {std::string(kPvs) + "/pv3", 200},
       }) {
    auto r = n1->get(c.path);
    EXPECT_EQ(r.code, c.code) << c.path << ": " << r.body;
  }
  auto denied = n1->get(std::string(kPvs) + "/pv2");
  EXPECT_THAT(denied.json()["message"].get<std::string>(),
              HasSubstr("persistentvolumes \"pv2\" is forbidden: User \"system:node:n1\" cannot "
                        "get resource \"persistentvolumes\" in API group \"\" at the cluster "
                        "scope: no relationship found between node 'n1' and this object"));
  auto list = n1->get(kPvs);
  EXPECT_EQ(list.code, 403);
  EXPECT_THAT(list.json()["message"].get<std::string>(),
              HasSubstr("can only get individual resources of this type"));
  EXPECT_EQ(n1->del(std::string(kPvs) + "/pv1").code, 403);

  // Binding the claim opens its volume to the node; unbinding closes it again.
  auto patched = server_->patch(std::string(kClaims) + "/unbound", "application/merge-patch+json",
                                json{{"spec", {{"volumeName", "pv2"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(n1->get(std::string(kPvs) + "/pv2").code, 200);
  ASSERT_TRUE(server_->remove(std::string(kPods) + "/cache", 0).ok());
  EXPECT_EQ(n1->get(std::string(kPvs) + "/pv2").code, 403);
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

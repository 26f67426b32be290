// The opt-in ServiceAccount admission of the fake API server (serviceAccountAdmission):
// the per-namespace "default" ServiceAccount and "kube-root-ca.crt" ConfigMap, the
// kube-api-access-* projected volume and its mounts, automount settings, mirror pods,
// and the kubelet's path from such a pod to a token. Off, pods are stored as sent.
#include <regex>

#include "gmock/gmock.h"
#include "tests/fakeapi/service_account_admission.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kMountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";

const json kExpectedSource = json::parse(R"({
  "defaultMode": 420,
  "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
  ]})");

class ServiceAccountAdmissionTest : public FakeApiTest {
 protected:
  void SetUp() override {
    FakeApiServerOptions opts;
    opts.serviceAccountAdmission = true;
    startServer(opts);
  }
};

TEST_F(ServiceAccountAdmissionTest, EveryNamespaceGetsDefaultAccountAndRootCa) {
  ASSERT_EQ(admin_->post("/api/v1/namespaces", json{{"metadata", {{"name", "team"}}}}).code, 201);
  // Namespaces the direct API creates on the fly too.
  ASSERT_TRUE(
      server_->create("/api/v1/namespaces/auto/configmaps", json{{"metadata", {{"name", "x"}}}})
          .ok());
  for (const char* ns :
       {"default", "kube-system", "kube-public", "kube-node-lease", "team", "auto"}) {
    const std::string base = std::string("/api/v1/namespaces/") + ns;
    auto sa = admin_->get(base + "/serviceaccounts/default");
    EXPECT_EQ(sa.code, 200) << ns << ": " << sa.body;
    EXPECT_FALSE(sa.json()["metadata"].value("uid", "").empty());
    auto cm = admin_->get(base + "/configmaps/kube-root-ca.crt");
    ASSERT_EQ(cm.code, 200) << ns << ": " << cm.body;
    EXPECT_EQ(cm.json()["data"]["ca.crt"], server_->caPem()) << ns;
    EXPECT_THAT(
        cm.json()["metadata"]["annotations"]["kubernetes.io/description"].get<std::string>(),
        HasSubstr("Contains a CA bundle"));
  }
}

TEST_F(ServiceAccountAdmissionTest, InjectsTheKubeApiAccessVolumeAndMounts) {
  json p = pod("web");
  p["spec"]["initContainers"] = {{{"name", "init"}, {"image", "busybox:1.36"}}};
  p["spec"]["containers"].push_back(
      {{"name", "own"},
       {"image", "busybox:1.36"},
       {"volumeMounts", {{{"name", "mine"}, {"mountPath", kMountPath}}}}});
  p["spec"]["volumes"] = {{{"name", "mine"}, {"emptyDir", json::object()}}};
  auto r = admin_->post(kPods, p);
  ASSERT_EQ(r.code, 201) << r.body;
  const json spec = r.json()["spec"];
  EXPECT_EQ(spec["serviceAccountName"], "default");
  EXPECT_EQ(spec["serviceAccount"], "default");
  ASSERT_EQ(spec["volumes"].size(), 2u);
  EXPECT_EQ(spec["volumes"][0]["name"], "mine");
  const std::string vol = spec["volumes"][1]["name"];
  EXPECT_TRUE(std::regex_match(vol, std::regex("kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}")))
      << vol;
  EXPECT_EQ(spec["volumes"][1]["projected"], kExpectedSource);
  const json mount = {{"name", vol}, {"readOnly", true}, {"mountPath", kMountPath}};
  EXPECT_EQ(spec["initContainers"][0]["volumeMounts"], json::array({mount}));
  EXPECT_EQ(spec["containers"][0]["volumeMounts"], json::array({mount}));
  // A container that already mounts something there keeps its own mount only.
  EXPECT_EQ(spec["containers"][1]["volumeMounts"],
            json::array({{{"name", "mine"}, {"mountPath", kMountPath}}}));
  EXPECT_EQ(serviceAccountTokenVolumeSource(), kExpectedSource);

  // The stored pod is what was answered; a second pod gets its own name.
  auto stored = server_->get(std::string(kPods) + "/web");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["spec"]["volumes"][1]["name"], vol);
}

TEST_F(ServiceAccountAdmissionTest, AutomountSettingsAndMissingAccounts) {
  const std::string sas = "/api/v1/namespaces/default/serviceaccounts";
  ASSERT_EQ(admin_
                ->post(sas, json{{"metadata", {{"name", "quiet"}}},
                                 {"automountServiceAccountToken", false},
                                 {"imagePullSecrets", {{{"name", "regcred"}}}}})
                .code,
            201);
  auto hasVolume = [](const json& created) {
    return created["spec"].contains("volumes") &&
           created["spec"]["containers"][0].contains("volumeMounts");
  };
  json off = pod("off");
  off["spec"]["automountServiceAccountToken"] = false;
  auto r = admin_->post(kPods, off);
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_FALSE(hasVolume(r.json())) << r.body;
  EXPECT_EQ(r.json()["spec"]["serviceAccountName"], "default");

  json quiet = pod("quiet");
  quiet["spec"]["serviceAccountName"] = "quiet";
  r = admin_->post(kPods, quiet);
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_FALSE(hasVolume(r.json())) << r.body;
  EXPECT_EQ(r.json()["spec"]["imagePullSecrets"], json::array({{{"name", "regcred"}}}));

  json loud = pod("loud");  // the pod's setting wins over the account's
  loud["spec"]["serviceAccountName"] = "quiet";
  loud["spec"]["automountServiceAccountToken"] = true;
  loud["spec"]["imagePullSecrets"] = {{{"name", "own"}}};
  r = admin_->post(kPods, loud);
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_TRUE(hasVolume(r.json())) << r.body;
  EXPECT_EQ(r.json()["spec"]["imagePullSecrets"], json::array({{{"name", "own"}}}));

  json missing = pod("lost");
  missing["spec"]["serviceAccountName"] = "nope";
  r = admin_->post(kPods, missing);
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_EQ(r.json()["reason"], "Forbidden");
  EXPECT_EQ(r.json()["message"],
            "pods \"lost\" is forbidden: error looking up service account default/nope: "
            "serviceaccount \"nope\" not found");
  EXPECT_FALSE(server_->get(std::string(kPods) + "/lost").ok());

  // Deleting the default account makes pods without one fail the same way.
  ASSERT_TRUE(server_->remove(sas + "/default").ok());
  r = admin_->post(kPods, pod("orphan"));
  EXPECT_EQ(r.code, 403);
  EXPECT_THAT(r.json()["message"].get<std::string>(),
              HasSubstr("error looking up service account default/default"));
}

TEST_F(ServiceAccountAdmissionTest, MirrorPodsAreNotMutated) {
  auto node = server_->create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}});
  ASSERT_TRUE(node.ok());
  json mirror = pod("static-web", "n1");
  mirror["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "hash"}};
  mirror["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                            {"kind", "Node"},
                                            {"name", "n1"},
                                            {"uid", (*node)["metadata"]["uid"]},
                                            {"controller", true}}};
  auto r = nodeClient("n1")->post(kPods, mirror);
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_FALSE(r.json()["spec"].contains("serviceAccountName"));
  EXPECT_FALSE(r.json()["spec"].contains("volumes"));

  json withSa = mirror;
  withSa["metadata"]["name"] = "static-sa";
  withSa["spec"]["serviceAccountName"] = "default";
  r = admin_->post(kPods, withSa);
  EXPECT_EQ(r.code, 403);
  EXPECT_THAT(r.json()["message"].get<std::string>(),
              HasSubstr("a mirror pod may not reference service accounts"));
  json withSecret = mirror;
  withSecret["metadata"]["name"] = "static-secret";
  withSecret["spec"]["volumes"] = {{{"name", "s"}, {"secret", {{"secretName", "s"}}}}};
  r = admin_->post(kPods, withSecret);
  EXPECT_EQ(r.code, 403);
  EXPECT_THAT(r.json()["message"].get<std::string>(),
              HasSubstr("a mirror pod may not reference secrets"));
}

TEST_F(ServiceAccountAdmissionTest, KubeletPathFromAdmittedPodToItsVolumeSources) {
  auto node = server_->create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}});
  ASSERT_TRUE(node.ok());
  auto created = server_->create(kPods, pod("web", "n1"));  // the direct API admits too
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ((*created)["spec"]["volumes"][0]["projected"], kExpectedSource);
  auto n1 = nodeClient("n1");
  // The projected sources: a token for the pod's account, the CA bundle.
  json tr = {{"spec",
              {{"expirationSeconds", 3607},
               {"boundObjectRef",
                {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"name", "web"},
                 {"uid", (*created)["metadata"]["uid"]}}}}}};
  auto r = n1->post("/api/v1/namespaces/default/serviceaccounts/default/token", tr);
  EXPECT_EQ(r.code, 201) << r.body;
  auto ca = n1->get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt");
  EXPECT_EQ(ca.code, 200) << ca.body;
  EXPECT_EQ(ca.json()["data"]["ca.crt"], server_->caPem());
  EXPECT_EQ(n1->get("/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt").code, 403);
}

TEST_F(FakeApiTest, WithoutServiceAccountAdmissionPodsAreStoredAsSent) {
  auto r = admin_->post(kPods, pod("web"));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_FALSE(r.json()["spec"].contains("serviceAccountName"));
  EXPECT_FALSE(r.json()["spec"].contains("volumes"));
  EXPECT_EQ(admin_->get("/api/v1/namespaces/default/serviceaccounts/default").code, 404);
  EXPECT_EQ(admin_->get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt").code, 404);
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

// Create/get/list/update/delete through HTTPS against the fake API server.
#include <regex>

#include "gmock/gmock.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST_F(FakeApiTest, CreateFillsSystemMetadataAndPodDefaults) {
  auto r = admin_->post(kPods, pod("p1", "n1"));
  ASSERT_EQ(r.code, 201) << r.body;
  json p = r.json();
  const json& m = p["metadata"];
  EXPECT_EQ(m["namespace"], "default");
  EXPECT_TRUE(std::regex_match(
      m["uid"].get<std::string>(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << m["uid"];
  EXPECT_TRUE(std::regex_match(m["creationTimestamp"].get<std::string>(),
                               std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ")));
  EXPECT_EQ(m["generation"], 1);
  EXPECT_EQ(p["status"]["phase"], "Pending");
  EXPECT_EQ(p["status"]["qosClass"], "BestEffort");
  EXPECT_EQ(p["spec"]["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(p["spec"]["restartPolicy"], "Always");
  EXPECT_EQ(p["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(p["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");

  auto second = admin_->post(kPods, pod("p2"));
  EXPECT_GT(std::stoll(rv(second.json())), std::stoll(m["resourceVersion"].get<std::string>()));

  auto got = admin_->get(std::string(kPods) + "/p1");
  ASSERT_EQ(got.code, 200);
  EXPECT_EQ(got.json(), p);
}

TEST_F(FakeApiTest, CreateErrors) {
  ASSERT_EQ(admin_->post(kPods, pod("p1")).code, 201);
  auto dup = admin_->post(kPods, pod("p1"));
  EXPECT_EQ(dup.code, 409);
  EXPECT_EQ(dup.json()["reason"], "AlreadyExists");
  EXPECT_EQ(dup.json()["message"], "pods \"p1\" already exists");
  EXPECT_EQ(dup.json()["details"]["kind"], "pods");

  json other = pod("p2");
  other["metadata"]["namespace"] = "kube-system";
  auto mismatch = admin_->post(kPods, other);
  EXPECT_EQ(mismatch.code, 400);
  EXPECT_EQ(mismatch.json()["reason"], "BadRequest");

  auto noNs = admin_->post("/api/v1/namespaces/nope/pods", pod("p3"));
  EXPECT_EQ(noNs.code, 404);
  EXPECT_EQ(noNs.json()["message"], "namespaces \"nope\" not found");

  json unnamed = pod("");
  unnamed["metadata"].erase("name");
  EXPECT_EQ(admin_->post(kPods, unnamed).json()["reason"], "Invalid");

  unnamed["metadata"]["generateName"] = "web-";
  auto gen = admin_->post(kPods, unnamed);
  ASSERT_EQ(gen.code, 201);
  EXPECT_TRUE(std::regex_match(gen.json()["metadata"]["name"].get<std::string>(),
                               std::regex("web-[bcdfghjklmnpqrstvwxz2456789]{5}")));

  auto missing = admin_->get(std::string(kPods) + "/nope");
  EXPECT_EQ(missing.code, 404);
  json st = missing.json();
  EXPECT_EQ(st["kind"], "Status");
  EXPECT_EQ(st["status"], "Failure");
  EXPECT_EQ(st["reason"], "NotFound");
  EXPECT_EQ(st["message"], "pods \"nope\" not found");
  EXPECT_EQ(st["details"]["name"], "nope");
  EXPECT_EQ(st["code"], 404);

  EXPECT_EQ(admin_->get("/api/v1/namespaces/default/widgets").code, 404);
  EXPECT_EQ(admin_->post(std::string(kPods) + "/p1", pod("p1")).code, 405);
}

TEST_F(FakeApiTest, ListsAllNamespacesAndPaginates) {
  for (const char* n : {"a", "b", "c", "d", "e"}) ASSERT_EQ(admin_->post(kPods, pod(n)).code, 201);
  ASSERT_EQ(admin_->post("/api/v1/namespaces/kube-system/pods", pod("sys")).code, 201);

  auto all = admin_->get("/api/v1/pods").json();
  EXPECT_EQ(all["kind"], "PodList");
  EXPECT_EQ(all["apiVersion"], "v1");
  EXPECT_EQ(all["items"].size(), 6u);
  EXPECT_EQ(all["metadata"]["resourceVersion"], std::to_string(server_->currentResourceVersion()));
  EXPECT_FALSE(all["items"][0].contains("kind"));  // typed lists omit the items' kind

  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    std::string q = std::string(kPods) + "?limit=2" + (cont.empty() ? "" : "&continue=" + cont);
    json page = admin_->get(q).json();
    for (const auto& i : page["items"]) names.push_back(i["metadata"]["name"]);
    cont = page["metadata"].value("continue", "");
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST_F(FakeApiTest, UpdateChecksResourceVersion) {
  json p = admin_->post(kPods, pod("p1")).json();
  json stale = p;
  p["metadata"]["labels"]["tier"] = "front";
  auto ok = admin_->put(std::string(kPods) + "/p1", p);
  ASSERT_EQ(ok.code, 200) << ok.body;
  EXPECT_NE(rv(ok.json()), rv(p));

  stale["metadata"]["labels"]["tier"] = "back";
  auto conflict = admin_->put(std::string(kPods) + "/p1", stale);
  EXPECT_EQ(conflict.code, 409);
  EXPECT_EQ(conflict.json()["reason"], "Conflict");
  EXPECT_EQ(conflict.json()["message"],
            "Operation cannot be fulfilled on pods \"p1\": the object has been modified; please "
            "apply your changes to the latest version and try again");

  stale["metadata"].erase("resourceVersion");
  auto unconditional = admin_->put(std::string(kPods) + "/p1", stale);
  EXPECT_EQ(unconditional.code, 200);
  EXPECT_EQ(unconditional.json()["metadata"]["labels"]["tier"], "back");

  // Writing the same object again is a no-op: no new resourceVersion.
  json same = unconditional.json();
  auto noop = admin_->put(std::string(kPods) + "/p1", same);
  EXPECT_EQ(rv(noop.json()), rv(same));

  json wrongName = same;
  wrongName["metadata"]["name"] = "other";
  EXPECT_EQ(admin_->put(std::string(kPods) + "/p1", wrongName).code, 400);
}

TEST_F(FakeApiTest, StatusSubresourceIsolation) {
  json p = admin_->post(kPods, pod("p1", "n1")).json();
  // The main resource ignores status changes.
  json main = p;
  main["status"]["phase"] = "Running";
  main["metadata"]["labels"]["x"] = "y";
  json afterMain = admin_->put(std::string(kPods) + "/p1", main).json();
  EXPECT_EQ(afterMain["status"]["phase"], "Pending");
  EXPECT_EQ(afterMain["metadata"]["labels"]["x"], "y");

  // /status changes only status (the spec and owner references stay).
  json st = afterMain;
  st["status"]["phase"] = "Running";
  st["spec"]["nodeName"] = "elsewhere";
  st["metadata"]["ownerReferences"] = {
      {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}, {"uid", "u"}}};
  auto r = admin_->put(std::string(kPods) + "/p1/status", st);
  ASSERT_EQ(r.code, 200) << r.body;
  json afterStatus = r.json();
  EXPECT_EQ(afterStatus["status"]["phase"], "Running");
  EXPECT_EQ(afterStatus["spec"]["nodeName"], "n1");
  EXPECT_FALSE(afterStatus["metadata"].contains("ownerReferences"));
  EXPECT_EQ(admin_->get(std::string(kPods) + "/p1/status").json()["status"]["phase"], "Running");

  // Nodes accept status on create (the kubelet registers with it).
  json node = {{"metadata", {{"name", "n1"}}}, {"status", {{"capacity", {{"pods", "110"}}}}}};
  auto created = admin_->post("/api/v1/nodes", node);
  ASSERT_EQ(created.code, 201);
  EXPECT_EQ(created.json()["status"]["capacity"]["pods"], "110");
}

TEST_F(FakeApiTest, GracefulPodDeletion) {
  ASSERT_EQ(admin_->post(kPods, pod("bound", "n1")).code, 201);
  auto first = admin_->del(std::string(kPods) + "/bound");
  ASSERT_EQ(first.code, 200) << first.body;
  json p = first.json();
  EXPECT_EQ(p["kind"], "Pod");
  EXPECT_EQ(p["metadata"]["deletionGracePeriodSeconds"], 30);
  ASSERT_TRUE(p["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(p["metadata"]["generation"], 2);

  // A longer grace period changes nothing; a shorter one shortens it.
  auto longer = admin_->del(std::string(kPods) + "/bound", json{{"gracePeriodSeconds", 60}});
  EXPECT_EQ(rv(longer.json()), rv(p));
  auto shorter = admin_->del(std::string(kPods) + "/bound?gracePeriodSeconds=10");
  EXPECT_EQ(shorter.json()["metadata"]["deletionGracePeriodSeconds"], 10);
  EXPECT_EQ(admin_->get(std::string(kPods) + "/bound").code, 200);

  auto now = admin_->del(std::string(kPods) + "/bound", json{{"gracePeriodSeconds", 0}});
  EXPECT_EQ(now.code, 200);
  EXPECT_EQ(admin_->get(std::string(kPods) + "/bound").code, 404);

  // Unscheduled pods go at once.
  ASSERT_EQ(admin_->post(kPods, pod("pending")).code, 201);
  EXPECT_EQ(admin_->del(std::string(kPods) + "/pending").code, 200);
  EXPECT_EQ(admin_->get(std::string(kPods) + "/pending").code, 404);

  // Other kinds answer with a Success Status.
  ASSERT_EQ(
      admin_->post("/api/v1/namespaces/default/configmaps", json{{"metadata", {{"name", "cm"}}}})
          .code,
      201);
  json st = admin_->del("/api/v1/namespaces/default/configmaps/cm").json();
  EXPECT_EQ(st["kind"], "Status");
  EXPECT_EQ(st["status"], "Success");
  EXPECT_EQ(st["details"]["name"], "cm");
  EXPECT_EQ(admin_->del("/api/v1/namespaces/default/configmaps/cm").code, 404);
}

TEST_F(FakeApiTest, DeletePreconditions) {
  json p = admin_->post(kPods, pod("p1")).json();
  auto badUid =
      admin_->del(std::string(kPods) + "/p1", json{{"preconditions", {{"uid", "not-the-uid"}}}});
  EXPECT_EQ(badUid.code, 409);
  EXPECT_THAT(
      badUid.json()["message"].get<std::string>(),
      HasSubstr("Precondition failed: UID in precondition: not-the-uid, UID in object meta: " +
                p["metadata"]["uid"].get<std::string>()));
  auto badRv =
      admin_->del(std::string(kPods) + "/p1", json{{"preconditions", {{"resourceVersion", "1"}}}});
  EXPECT_EQ(badRv.code, 409);
  EXPECT_THAT(badRv.json()["message"].get<std::string>(),
              HasSubstr("Precondition failed: ResourceVersion in precondition: 1"));
  auto ok = admin_->del(
      std::string(kPods) + "/p1",
      json{{"preconditions", {{"uid", p["metadata"]["uid"]}, {"resourceVersion", rv(p)}}}});
  EXPECT_EQ(ok.code, 200) << ok.body;
}

TEST_F(FakeApiTest, DirectApiSharesTheStore) {
  auto created = server_->create(kPods, pod("direct", "n1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(admin_->get(std::string(kPods) + "/direct").json()["metadata"]["uid"],
            (*created)["metadata"]["uid"]);
  // Namespaces are created on demand for the direct API.
  ASSERT_TRUE(server_
                  ->create("/api/v1/namespaces/team/configmaps",
                           json{{"metadata", {{"name", "cm"}}}, {"data", {{"k", "v"}}}})
                  .ok());
  EXPECT_EQ(admin_->get("/api/v1/namespaces/team").code, 200);
  EXPECT_EQ(server_->list("/api/v1/namespaces/team/configmaps").size(), 1u);

  json stale = *created;
  (*created)["metadata"]["labels"]["a"] = "b";
  ASSERT_TRUE(server_->update(std::string(kPods) + "/direct", *created).ok());
  EXPECT_EQ(server_->update(std::string(kPods) + "/direct", stale).status().code(),
            absl::StatusCode::kAborted);

  auto removed = server_->remove(std::string(kPods) + "/direct", 0);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(server_->get(std::string(kPods) + "/direct").ok());

  auto waited = server_->waitFor(
      "/api/v1/namespaces/team/configmaps/cm", [](const json& o) { return o["data"]["k"] == "v"; },
      std::chrono::milliseconds(100));
  EXPECT_TRUE(waited.ok());
  auto timedOut = server_->waitFor(
      "/api/v1/namespaces/team/configmaps/cm", [](const json& o) { return o["data"]["k"] == "w"; },
      std::chrono::milliseconds(50));
  EXPECT_EQ(timedOut.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(FakeApiTest, LeasesAndEventsAndServices) {
  const std::string leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "n1"}}},
                {"spec", {{"holderIdentity", "n1"}, {"leaseDurationSeconds", 40}}}};
  auto r = admin_->post(leases, lease);
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["apiVersion"], "coordination.k8s.io/v1");
  json stale = r.json();
  json fresh = r.json();
  fresh["spec"]["renewTime"] = "2024-01-01T00:00:00.000000Z";
  ASSERT_EQ(admin_->put(leases + "/n1", fresh).code, 200);
  auto conflict = admin_->put(leases + "/n1", stale);
  EXPECT_EQ(conflict.json()["message"],
            "Operation cannot be fulfilled on leases.coordination.k8s.io \"n1\": the object has "
            "been modified; please apply your changes to the latest version and try again");
  EXPECT_EQ(conflict.json()["details"]["group"], "coordination.k8s.io");

  auto ev = admin_->post("/api/v1/namespaces/default/events",
                         json{{"metadata", {{"generateName", "p1."}}},
                              {"involvedObject", {{"kind", "Pod"}, {"name", "p1"}}},
                              {"reason", "Pulled"}});
  EXPECT_EQ(ev.code, 201);

  auto svc =
      admin_->post("/api/v1/namespaces/default/services",
                   json{{"metadata", {{"name", "web"}}}, {"spec", {{"ports", {{{"port", 80}}}}}}});
  ASSERT_EQ(svc.code, 201);
  EXPECT_FALSE(svc.json()["spec"].value("clusterIP", "").empty());
  EXPECT_EQ(svc.json()["spec"]["ports"][0]["protocol"], "TCP");
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

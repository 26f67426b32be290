// Authentication, the Node authorizer and NodeRestriction as the fake API server applies
// them to HTTPS requests, and the request log.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST_F(FakeApiTest, UnauthenticatedRequestsGet401) {
  auto anon = client(Credentials{});
  auto r = anon->get(kPods);
  EXPECT_EQ(r.code, 401);
  EXPECT_EQ(r.json()["reason"], "Unauthorized");
  auto badToken = client(Credentials{"not-a-token", "", ""});
  EXPECT_EQ(badToken->get(kPods).code, 401);
  // An expired certificate passes the handshake but is no identity (401, as the
  // x509 authenticator answers).
  auto expired = server_->issueClientCert("u", {}, std::chrono::seconds(-3600));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(client(Credentials{"", expired->certPem, expired->keyPem})->get(kPods).code, 401);

  auto recs = server_->requests();
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.front().code, 401);
  EXPECT_EQ(recs.front().user, "");
}

TEST_F(FakeApiTest, ClientCertificateAndTokenIdentitiesAreRecorded) {
  auto c = certClient("alice", {"system:masters"});
  EXPECT_EQ(c->get(std::string(kPods) + "?limit=1").code, 200);
  auto tok = client(Credentials{server_->addToken("bob", {"system:masters"}), "", ""});
  EXPECT_EQ(tok->get("/version").code, 200);
  auto recs = server_->requests();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].user, "alice");
  EXPECT_THAT(recs[0].groups, ::testing::Contains("system:masters"));
  EXPECT_EQ(recs[0].method, "GET");
  EXPECT_EQ(recs[0].path, kPods);
  EXPECT_EQ(recs[0].query, "limit=1");
  EXPECT_EQ(recs[0].code, 200);
  EXPECT_FALSE(recs[0].denied);
  EXPECT_EQ(recs[1].user, "bob");
  server_->clearRequests();
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(FakeApiTest, NodeAuthorizerLimitsANode) {
  ASSERT_TRUE(server_->create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}}).ok());
  ASSERT_TRUE(server_->create("/api/v1/nodes", json{{"metadata", {{"name", "n2"}}}}).ok());
  json mine = pod("mine", "n1");
  mine["spec"]["volumes"] = {{{"name", "v"}, {"secret", {{"secretName", "used"}}}}};
  ASSERT_TRUE(server_->create(kPods, mine).ok());
  ASSERT_TRUE(server_->create(kPods, pod("theirs", "n2")).ok());
  for (const char* s : {"used", "unused"}) {
    ASSERT_TRUE(
        server_->create("/api/v1/namespaces/default/secrets", json{{"metadata", {{"name", s}}}})
            .ok());
  }
  auto n1 = nodeClient("n1");

  EXPECT_EQ(n1->get("/api/v1/nodes/n1").code, 200);
  auto other = n1->get("/api/v1/nodes/n2");
  EXPECT_EQ(other.code, 403);
  EXPECT_EQ(other.json()["reason"], "Forbidden");
  EXPECT_THAT(other.json()["message"].get<std::string>(),
              HasSubstr("nodes \"n2\" is forbidden: User \"system:node:n1\" cannot get resource "
                        "\"nodes\" in API group \"\" at the cluster scope"));
  EXPECT_EQ(n1->patch("/api/v1/nodes/n2/status", "application/merge-patch+json",
                      json{{"status", {{"phase", "x"}}}})
                .code,
            403);

  EXPECT_EQ(n1->get(std::string(kPods) + "/mine").code, 200);
  EXPECT_EQ(n1->patch(std::string(kPods) + "/mine/status", "application/merge-patch+json",
                      json{{"status", {{"phase", "Running"}}}})
                .code,
            200);
  EXPECT_EQ(n1->patch(std::string(kPods) + "/theirs/status", "application/merge-patch+json",
                      json{{"status", {{"phase", "Running"}}}})
                .code,
            403);
  EXPECT_EQ(n1->get("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1").code, 200);
  EXPECT_EQ(n1->get("/api/v1/pods").code, 403);

  EXPECT_EQ(n1->get("/api/v1/namespaces/default/secrets/used").code, 200);
  EXPECT_EQ(n1->get("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dused").code,
            200);
  auto unused = n1->get("/api/v1/namespaces/default/secrets/unused");
  EXPECT_EQ(unused.code, 403);
  EXPECT_THAT(unused.json()["message"].get<std::string>(),
              HasSubstr("no relationship found between node 'n1' and this object"));

  int denied = 0;
  for (const auto& r : server_->requests()) denied += r.denied;
  EXPECT_EQ(denied, 5);
}

TEST_F(FakeApiTest, NodeRestrictionAdmission) {
  ASSERT_TRUE(server_->create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}}).ok());
  auto n1 = nodeClient("n1");
  // A node may create only mirror pods bound to itself.
  json plain = pod("plain", "n1");
  auto r = n1->post(kPods, plain);
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_THAT(r.json()["message"].get<std::string>(), HasSubstr("pods \"plain\" is forbidden: "));
  bool recorded = false;
  for (const auto& rec : server_->requests()) recorded |= rec.method == "POST" && rec.denied;
  EXPECT_TRUE(recorded);
}

TEST_F(FakeApiTest, CsrBootstrapFlow) {
  // A bootstrap identity creates a CSR; approval issues a certificate for its subject.
  auto boot = client(Credentials{server_->addBootstrapToken(), "", ""});
  auto cert = server_->issueClientCert("throwaway", {});  // only to get a key for the CSR
  ASSERT_TRUE(cert.ok());
  BIO* bio = BIO_new_mem_buf(cert->keyPem.data(), static_cast<int>(cert->keyPem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  X509_REQ* req = X509_REQ_new();
  X509_NAME* name = X509_REQ_get_subject_name(req);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("system:nodes"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("system:node:n1"), -1, -1, 0);
  X509_REQ_set_pubkey(req, key);
  X509_REQ_sign(req, key, EVP_sha256());
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(out, req);
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  std::string csrPem(data, len);
  BIO_free(out);
  X509_REQ_free(req);
  EVP_PKEY_free(key);

  const std::string csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
  json csr = {{"apiVersion", "certificates.k8s.io/v1"},
              {"kind", "CertificateSigningRequest"},
              {"metadata", {{"generateName", "csr-"}}},
              {"spec",
               {{"request", absl::Base64Escape(csrPem)},
                {"signerName", "kubernetes.io/kube-apiserver-client-kubelet"},
                {"usages", {"digital signature", "client auth"}}}}};
  auto created = boot->post(csrs, csr);
  ASSERT_EQ(created.code, 201) << created.body;
  const std::string csrName = created.json()["metadata"]["name"];
  EXPECT_THAT(created.json()["spec"]["username"].get<std::string>(),
              HasSubstr("system:bootstrap:"));

  WatchStream w(*boot, csrs + "?watch=1&fieldSelector=metadata.name%3D" + csrName +
                           "&resourceVersion=" + rv(created.json()));
  ASSERT_TRUE(server_->approveCsr(csrName).ok());
  auto approved = w.next();
  ASSERT_TRUE(approved);
  EXPECT_EQ((*approved)["object"]["status"]["conditions"][0]["type"], "Approved");
  auto issued = w.next();
  ASSERT_TRUE(issued);
  std::string certPem;
  ASSERT_TRUE(absl::Base64Unescape((*issued)["object"]["status"]["certificate"].get<std::string>(),
                                   &certPem));
  EXPECT_THAT(certPem, HasSubstr("BEGIN CERTIFICATE"));

  // The issued certificate (with the CSR's key) authenticates as the node.
  auto asNode = client(Credentials{"", certPem, cert->keyPem});
  ASSERT_TRUE(server_->create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}}).ok());
  EXPECT_EQ(asNode->get("/api/v1/nodes/n1").code, 200);
  EXPECT_EQ(server_->requests().back().user, "system:node:n1");
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

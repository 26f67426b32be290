#include "agent/kubeapi/tls_bootstrap.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/kubeapi/certificate.h"
#include "agent/kubeapi/certificate_store.h"
#include "agent/kubeapi/kubeconfig.h"
#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakeapi/pki.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::kubeapi {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Runs jobs at once on the calling thread; their results are posted to the loop.
class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override { job(); }
};

std::string b64(const std::string& s) { return absl::Base64Escape(s); }
std::string unb64(const std::string& s) {
  std::string out;
  absl::Base64Unescape(s, &out);
  return out;
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string linkTarget(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

class TlsBootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tls_bootstrap_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pki = cubelet::fakeapi::Pki::create(dir_ + "/ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    bootstrapPath_ = dir_ + "/bootstrap-kubelet.conf";
    ASSERT_TRUE(core::writeFileAtomic(bootstrapPath_,
                                      absl::StrCat("apiVersion: v1\nkind: Config\n"
                                                   "clusters:\n- name: k\n  cluster:\n"
                                                   "    server: https://10.0.0.1:6443\n"
                                                   "    certificate-authority: ",
                                                   pki_->caFile(),
                                                   "\n"
                                                   "users:\n- name: tls-bootstrap-token-user\n"
                                                   "  user:\n    token: abcdef.0123456789abcdef\n"
                                                   "contexts:\n- name: c\n  context:\n"
                                                   "    cluster: k\n"
                                                   "    user: tls-bootstrap-token-user\n"
                                                   "current-context: c\n"))
                    .ok());
    client_.setHandler([this](const Request& r) { return serve(r); });
  }
  void TearDown() override { (void)core::removeAll(dir_); }

  CertificateManagerOptions options() {
    CertificateManagerOptions o;
    o.nodeName = "n1";
    o.kubeconfigPath = dir_ + "/kubelet.conf";
    o.bootstrapKubeconfigPath = bootstrapPath_;
    o.certDir = dir_ + "/pki";
    o.random = [this] { return random_; };
    return o;
  }

  // A tiny CSR store behind the fake client, as the API server answers.
  Response serve(const Request& r) {
    const std::string coll = kCsrCollectionPath;
    Response resp;
    if (r.method == "POST" && r.path == coll) {
      json obj = json::parse(r.body);
      posted_.push_back(obj);
      std::string name = obj["metadata"].value("name", "");
      if (name.empty())
        name = obj["metadata"]["generateName"].get<std::string>() + "gen" +
               std::to_string(++generated_);
      if (csrs_.count(name)) {
        resp.code = 409;
        resp.body = R"({"kind":"Status","reason":"AlreadyExists","code":409})";
        return resp;
      }
      obj["metadata"]["name"] = name;
      obj["metadata"]["uid"] = "uid-" + name;
      obj["metadata"]["resourceVersion"] = "1";
      csrs_[name] = obj;
      resp.code = 201;
      resp.body = obj.dump();
      return resp;
    }
    if (r.method == "GET" && r.path.rfind(coll + "/", 0) == 0) {
      auto it = csrs_.find(r.path.substr(coll.size() + 1));
      if (it == csrs_.end()) {
        resp.code = 404;
        return resp;
      }
      resp.code = 200;
      resp.body = it->second.dump();
      return resp;
    }
    if (r.method == "GET" && r.path.rfind(coll + "?fieldSelector=metadata.name%3D", 0) == 0) {
      std::string name = r.path.substr(r.path.find("%3D") + 3);
      json items = json::array();
      if (csrs_.count(name)) items.push_back(csrs_[name]);
      resp.code = 200;
      resp.body = json{
          {"kind", "CertificateSigningRequestList"},
          {"metadata", {{"resourceVersion", "7"}}},
          {"items",
           items}}.dump();
      return resp;
    }
    resp.code = 500;
    return resp;
  }

  // Sets a condition (and for Approved, the signed certificate) and sends the
  // MODIFIED event on the open watch.
  void conclude(const std::string& name, const std::string& type,
                std::chrono::seconds validity = std::chrono::hours(24)) {
    json& obj = csrs_.at(name);
    obj["status"]["conditions"] = json::array({{{"type", type},
                                                {"status", "True"},
                                                {"reason", "AutoReason"},
                                                {"message", "decided by the test"}}});
    if (type == "Approved") {
      auto cert = pki_->signCsr(unb64(obj["spec"]["request"]), validity);
      ASSERT_TRUE(cert.ok()) << cert.status();
      obj["status"]["certificate"] = b64(*cert);
    }
    ASSERT_EQ(client_.openStreams(), 1u);
    client_.pushLine(0, json{{"type", "MODIFIED"}, {"object", obj}}.dump());
    loop_.runPending();
  }

  std::string lastPostedName() const { return posted_.back()["metadata"].value("name", ""); }

  std::string dir_, bootstrapPath_;
  std::unique_ptr<cubelet::fakeapi::Pki> pki_;
  core::SimEventLoop loop_;
  InlinePool pool_;
  cubelet::testing::FakeApiClient client_{loop_};
  std::map<std::string, json> csrs_;
  std::vector<json> posted_;
  int generated_ = 0;
  double random_ = 0.5;
};

TEST_F(TlsBootstrapTest, ValidKubeconfigNeedsNoBootstrap) {
  auto kp = pki_->issueClientCert("system:node:n1", {"system:nodes"}, std::chrono::hours(1));
  ASSERT_TRUE(kp.ok());
  ASSERT_TRUE(core::writeFileAtomic(dir_ + "/n1.pem", kp->certPem + kp->keyPem).ok());
  Kubeconfig boot;
  boot.server = "https://10.0.0.1:6443";
  boot.caFile = pki_->caFile();
  ASSERT_TRUE(writeBootstrappedKubeconfig(dir_ + "/kubelet.conf", boot, dir_ + "/n1.pem").ok());

  CertificateManager m(loop_, pool_, options());
  EXPECT_TRUE(m.kubeconfigStillValid());
  std::optional<absl::Status> result;
  m.bootstrap(client_, [&](absl::Status s) { result = s; });
  loop_.runPending();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok()) << *result;
  EXPECT_TRUE(client_.requests().empty());
}

TEST_F(TlsBootstrapTest, BootstrapRequestsCertificateAndWritesFiles) {
  CertificateManager m(loop_, pool_, options());
  EXPECT_FALSE(m.kubeconfigStillValid());
  std::optional<absl::Status> result;
  m.bootstrap(client_, [&](absl::Status s) { result = s; });
  loop_.runPending();

  // The CSR as the kubelet sends it.
  ASSERT_EQ(posted_.size(), 1u);
  const json& csr = posted_[0];
  EXPECT_EQ(csr["kind"], "CertificateSigningRequest");
  EXPECT_EQ(csr["apiVersion"], "certificates.k8s.io/v1");
  EXPECT_EQ(csr["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet");
  EXPECT_EQ(csr["spec"]["usages"], json({"digital signature", "client auth"}));
  auto info = parseCsrPem(unb64(csr["spec"]["request"]));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->commonName, "system:node:n1");
  EXPECT_THAT(info->organizations, ElementsAre("system:nodes"));
  // Its key is the pending one, kept on disk until the certificate arrives.
  std::string keyTmp = dir_ + "/pki/kubelet-client.key.tmp";
  auto key = core::readFile(keyTmp);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, StartsWith("-----BEGIN EC PRIVATE KEY-----"));
  EXPECT_EQ(modeOf(keyTmp), 0600u);
  EXPECT_EQ(info->publicKeyDer, *publicKeyDer(*key));
  std::string name = lastPostedName();
  EXPECT_EQ(name, *nodeCsrName(*key, "system:node:n1", {"system:nodes"},
                               {"digital signature", "client auth"}));

  // Watched by name.
  ASSERT_EQ(client_.openStreams(), 1u);
  EXPECT_EQ(
      client_.streamRequest(0).path,
      absl::StrCat(kCsrCollectionPath, "?allowWatchBookmarks=true&fieldSelector=metadata.name%3D",
                   name, "&resourceVersion=7&watch=true"));
  EXPECT_FALSE(result.has_value());

  conclude(name, "Approved");
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << *result;

  // kubelet-client-current.pem -> <certDir>/kubelet-client-<timestamp>.pem (0600).
  std::string current = dir_ + "/pki/kubelet-client-current.pem";
  std::string target = linkTarget(current);
  EXPECT_TRUE(std::regex_match(
      target,
      std::regex(dir_ + "/pki/kubelet-client-\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d-\\d\\d\\.pem")))
      << target;
  EXPECT_EQ(modeOf(target), 0600u);
  auto pair = loadCurrentCertificate(dir_ + "/pki");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->keyPem, *key);
  EXPECT_EQ(pair->certPem, unb64(csrs_[name]["status"]["certificate"]));
  EXPECT_EQ(pair->leaf.commonName, "system:node:n1");
  EXPECT_EQ(::access(keyTmp.c_str(), F_OK), -1);
  EXPECT_EQ(::access((dir_ + "/pki/kubelet-client-updated.pem").c_str(), F_OK), -1);

  // The kubeconfig, in the kubelet's layout.
  std::string kubeconfig = dir_ + "/kubelet.conf";
  EXPECT_EQ(modeOf(kubeconfig), 0600u);
  EXPECT_EQ(*core::readFile(kubeconfig),
            absl::StrCat("apiVersion: v1\n"
                         "clusters:\n"
                         "- cluster:\n"
                         "    certificate-authority: ",
                         pki_->caFile(),
                         "\n"
                         "    server: https://10.0.0.1:6443\n"
                         "  name: default-cluster\n"
                         "contexts:\n"
                         "- context:\n"
                         "    cluster: default-cluster\n"
                         "    namespace: default\n"
                         "    user: default-auth\n"
                         "  name: default-context\n"
                         "current-context: default-context\n"
                         "kind: Config\n"
                         "preferences: {}\n"
                         "users:\n"
                         "- name: default-auth\n"
                         "  user:\n"
                         "    client-certificate: ",
                         current, "\n    client-key: ", current, "\n"));
  auto kc = loadKubeconfig(kubeconfig);
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_EQ(kc->server, "https://10.0.0.1:6443");
  EXPECT_EQ(kc->clientCertFile, current);
  EXPECT_EQ(kc->clientKeyFile, current);
  EXPECT_TRUE(m.kubeconfigStillValid());
}

TEST_F(TlsBootstrapTest, InlineCaDataIsCarriedOver) {
  Kubeconfig boot;
  boot.server = "https://api.example:6443";
  boot.caPem = pki_->caCertPem();
  std::string yaml =
      bootstrappedKubeconfigYaml(boot, "/var/lib/kubelet/pki/kubelet-client-current.pem");
  EXPECT_THAT(yaml, HasSubstr(absl::StrCat(
                        "    certificate-authority-data: ", b64(pki_->caCertPem()), "\n")));
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("certificate-authority:")));
}

TEST_F(TlsBootstrapTest, DeniedAndFailedAreErrorsAndRetried) {
  for (const char* verdict : {"Denied", "Failed"}) {
    SCOPED_TRACE(verdict);
    csrs_.clear();
    posted_.clear();
    CertificateManager m(loop_, pool_, options());
    std::optional<absl::Status> result;
    m.bootstrap(client_, [&](absl::Status s) { result = s; });
    loop_.runPending();
    std::string name = lastPostedName();
    conclude(name, verdict);
    EXPECT_FALSE(result.has_value());
    EXPECT_THAT(std::string(m.lastError().message()),
                HasSubstr(absl::StrCat("certificate signing request ", name, " ",
                                       std::string(verdict) == "Denied" ? "is denied" : "failed",
                                       ", reason: AutoReason, message: decided by the test")));
    EXPECT_EQ(client_.openStreams(), 0u);

    // An administrator removes the CSR; after the backoff the same key asks again.
    csrs_.erase(name);
    loop_.advance(std::chrono::seconds(3));
    loop_.runPending();
    ASSERT_EQ(posted_.size(), 2u);
    EXPECT_EQ(lastPostedName(), name);
    conclude(name, "Approved");
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << *result;
    EXPECT_TRUE(m.lastError().ok());
    ASSERT_TRUE(core::removeAll(dir_ + "/pki").ok());
    ASSERT_TRUE(core::removeAll(dir_ + "/kubelet.conf").ok());
  }
}

TEST_F(TlsBootstrapTest, PendingKeyAndCsrReusedAfterRestart) {
  std::string name;
  {
    CertificateManager first(loop_, pool_, options());
    first.bootstrap(client_, [](absl::Status) { FAIL() << "must not finish"; });
    loop_.runPending();
    name = lastPostedName();
  }  // the agent restarts before the CSR is approved
  client_.clearRequests();
  auto keyBefore = core::readFile(dir_ + "/pki/kubelet-client.key.tmp");
  ASSERT_TRUE(keyBefore.ok());

  CertificateManager second(loop_, pool_, options());
  std::optional<absl::Status> result;
  second.bootstrap(client_, [&](absl::Status s) { result = s; });
  loop_.runPending();
  // Same key, same name: the server says AlreadyExists and the CSR is reused.
  ASSERT_EQ(posted_.size(), 2u);
  EXPECT_EQ(lastPostedName(), name);
  EXPECT_EQ(*core::readFile(dir_ + "/pki/kubelet-client.key.tmp"), *keyBefore);
  EXPECT_EQ(client_.count("GET", absl::StrCat(kCsrCollectionPath, "/", name)), 1u);
  conclude(name, "Approved");
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << *result;
  EXPECT_EQ(loadCurrentCertificate(dir_ + "/pki")->keyPem, *keyBefore);
}

TEST_F(TlsBootstrapTest, UnreadableBootstrapKubeconfigIsAnError) {
  auto o = options();
  o.bootstrapKubeconfigPath = dir_ + "/missing.conf";
  CertificateManager m(loop_, pool_, o);
  std::optional<absl::Status> result;
  m.bootstrap(client_, [&](absl::Status s) { result = s; });
  loop_.runPending();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
  EXPECT_THAT(result->ToString(), HasSubstr("unable to load bootstrap kubeconfig"));
  EXPECT_THAT(result->ToString(), HasSubstr("missing.conf"));
  EXPECT_TRUE(client_.requests().empty());
}

// Puts a current pair valid for `validity` in place, as a bootstrap would.
CertKeyPair installCurrent(cubelet::fakeapi::Pki& pki, const std::string& certDir,
                           std::chrono::seconds validity) {
  std::string key = *generateEcPrivateKeyPem();
  std::string cert = *pki.signCsr(*makeCsrPem(key, "system:node:n1", {"system:nodes"}), validity);
  EXPECT_TRUE(storeCertificate(certDir, cert, key, std::chrono::system_clock::now()).ok());
  return *loadCurrentCertificate(certDir);
}

TEST_F(TlsBootstrapTest, RotationDeadlineIsSeventyToNinetyPercent) {
  CertKeyPair current = installCurrent(*pki_, dir_ + "/pki", std::chrono::hours(10));
  auto total = current.leaf.notAfter - current.leaf.notBefore;
  struct Case {
    double random;
    double fraction;
  } cases[] = {{0.0, 0.7}, {0.5, 0.8}, {0.999999, 0.9}};
  for (const auto& c : cases) {
    random_ = c.random;
    CertificateManager m(loop_, pool_, options());
    ASSERT_TRUE(m.startRotation(client_, [] {}).ok());
    ASSERT_TRUE(m.rotationDeadline().has_value());
    auto want = current.leaf.notBefore +
                std::chrono::duration_cast<std::chrono::milliseconds>(total * c.fraction);
    EXPECT_LE(std::chrono::abs(*m.rotationDeadline() - want), std::chrono::seconds(1)) << c.random;
  }
  // Nothing to rotate without a current pair.
  auto o = options();
  o.certDir = dir_ + "/empty";
  CertificateManager none(loop_, pool_, o);
  EXPECT_FALSE(none.startRotation(client_, [] {}).ok());
}

TEST_F(TlsBootstrapTest, RotationReplacesTheCurrentPair) {
  CertKeyPair old = installCurrent(*pki_, dir_ + "/pki", std::chrono::hours(10));
  std::string oldTarget = linkTarget(dir_ + "/pki/kubelet-client-current.pem");
  random_ = 0.5;
  CertificateManager m(loop_, pool_, options());
  int rotated = 0;
  ASSERT_TRUE(m.startRotation(client_, [&] { ++rotated; }).ok());
  auto deadline = *m.rotationDeadline();

  // Nothing before the deadline.
  loop_.advance(std::chrono::duration_cast<core::Duration>(deadline - loop_.wallNow()) -
                std::chrono::seconds(1));
  loop_.runPending();
  EXPECT_TRUE(posted_.empty());
  loop_.advance(std::chrono::seconds(2));
  loop_.runPending();

  // A fresh key, generateName "csr-", the same subject and signer.
  ASSERT_EQ(posted_.size(), 1u);
  EXPECT_EQ(posted_[0]["metadata"]["generateName"], "csr-");
  EXPECT_FALSE(posted_[0]["metadata"].contains("name"));
  EXPECT_EQ(posted_[0]["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet");
  EXPECT_EQ(posted_[0]["spec"]["usages"], json({"digital signature", "client auth"}));
  auto info = parseCsrPem(unb64(posted_[0]["spec"]["request"]));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->commonName, "system:node:n1");
  EXPECT_NE(info->publicKeyDer, *publicKeyDer(old.keyPem));
  EXPECT_EQ(rotated, 0);

  conclude("csr-gen1", "Approved", std::chrono::hours(20));
  EXPECT_EQ(rotated, 1);
  auto now = loadCurrentCertificate(dir_ + "/pki");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_NE(now->keyPem, old.keyPem);
  EXPECT_EQ(now->leaf.notAfter - now->leaf.notBefore,
            std::chrono::hours(20) + std::chrono::minutes(5));
  EXPECT_NE(linkTarget(dir_ + "/pki/kubelet-client-current.pem"), oldTarget);
  EXPECT_TRUE(parseCertKeyPem(*core::readFile(oldTarget)).ok());  // the old file stays
  // The next rotation follows the new certificate.
  auto total = now->leaf.notAfter - now->leaf.notBefore;
  EXPECT_LE(std::chrono::abs(*m.rotationDeadline() -
                             (now->leaf.notBefore +
                              std::chrono::duration_cast<std::chrono::milliseconds>(total * 0.8))),
            std::chrono::seconds(1));
}

TEST_F(TlsBootstrapTest, FailedRotationIsRetried) {
  installCurrent(*pki_, dir_ + "/pki", std::chrono::hours(10));
  CertificateManager m(loop_, pool_, options());
  int rotated = 0;
  ASSERT_TRUE(m.startRotation(client_, [&] { ++rotated; }).ok());
  loop_.advance(
      std::chrono::duration_cast<core::Duration>(*m.rotationDeadline() - loop_.wallNow()));
  loop_.runPending();
  conclude("csr-gen1", "Denied");
  EXPECT_EQ(rotated, 0);
  EXPECT_THAT(std::string(m.lastError().message()), HasSubstr("is denied"));
  loop_.advance(std::chrono::seconds(3));
  loop_.runPending();
  ASSERT_EQ(posted_.size(), 2u);
  conclude("csr-gen2", "Approved");
  EXPECT_EQ(rotated, 1);
  EXPECT_TRUE(m.lastError().ok());
}

}  // namespace
}  // namespace agent::kubeapi

// The kubelet's serving certificate: explicit files, the self-signed pair under
// certDir (checked with OpenSSL: subjects, SANs, key type and size, validity,
// usages, chain), and serverTLSBootstrap CSRs against the fake API server over real
// TLS on a real SdEventLoop (signer, usages, subject and SANs in the CSR, stored
// files, reuse, rotation deadline, address changes).
#include "agent/server/serving_cert.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "absl/strings/escaping.h"
#include "agent/kubeapi/certificate.h"
#include "agent/kubeapi/certificate_request.h"
#include "agent/kubeapi/certificate_store.h"
#include "agent/kubeapi/curl_api_client.h"
#include "agent/kubeapi/kubeconfig.h"
#include "agent/kubeapi/openssl_util.h"
#include "agent/server/http_server.h"
#include "core/atomic_file.h"
#include "core/sd_event_loop.h"
#include "core/worker_pool.h"
#include "tests/fakeapi/fake_api_server.h"
#include "tests/fakeapi/pki.h"
#include "tests/support/loop_fixtures.h"

namespace agent::server {
namespace {

using cubelet::fakeapi::FakeApiServer;
using cubelet::fakeapi::FakeApiServerOptions;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;
namespace ossl = kubeapi::ossl;

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

std::vector<ossl::CertPtr> readCerts(const std::string& pem) {
  std::vector<ossl::CertPtr> out;
  ossl::BioPtr bio = ossl::memBio(pem);
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();
  return out;
}

bool hasExtKeyUsage(X509* c, uint32_t flag) { return (X509_get_extended_key_usage(c) & flag) != 0; }

// A TLS handshake with 127.0.0.1:`port`, verifying the server against `caPem`
// (when set); the PEM of the certificate the server presented, or "error: ...".
std::string handshake(int port, const std::string& caPem) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return "error: connect";
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!caPem.empty()) {
    for (auto& c : readCerts(caPem)) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), c.get());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string out = "error: handshake";
  if (SSL_connect(ssl) == 1) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), peer);
    X509_free(peer);
    out = ossl::bioString(bio.get());
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return out;
}

// Serves `pair` with HttpServer::createTls and handshakes with it from a thread.
std::string serveAndHandshake(const kubeapi::CertKeyPair& pair, const std::string& caPem) {
  auto loop = core::SdEventLoop::create();
  EXPECT_TRUE(loop.ok());
  TlsOptions o;
  o.certPem = pair.certPem;
  o.keyPem = pair.keyPem;
  auto server = HttpServer::createTls(**loop, "127.0.0.1", 0, o);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return "error: server";
  std::string got;
  std::thread th([&] {
    got = handshake((*server)->port(), caPem);
    (*loop)->post([&] { (*loop)->exit(); });
  });
  EXPECT_TRUE((*loop)->run().ok());
  th.join();
  return got;
}

class ServingCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "serving-cert-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ServingCertOptions staticOptions() {
    ServingCertOptions o;
    o.certDir = dir_ + "/pki";
    o.hostname = "node-a.example";
    return o;
  }

  std::string dir_;
};

TEST_F(ServingCertTest, SelfSignedPairIsGeneratedLikeClientGo) {
  auto now = std::chrono::system_clock::now();
  auto pair = loadOrGenerateStaticServingCert(staticOptions(), now);
  ASSERT_TRUE(pair.ok()) << pair.status();
  const std::string crt = dir_ + "/pki/kubelet.crt", key = dir_ + "/pki/kubelet.key";
  EXPECT_EQ(modeOf(crt), 0644u);
  EXPECT_EQ(modeOf(key), 0600u);
  auto crtData = core::readFile(crt);
  auto keyData = core::readFile(key);
  ASSERT_TRUE(crtData.ok() && keyData.ok());
  EXPECT_EQ(pair->certPem, *crtData);
  EXPECT_EQ(pair->keyPem, *keyData);
  EXPECT_THAT(*keyData, StartsWith("-----BEGIN RSA PRIVATE KEY-----\n"));

  // Certificate then CA.
  auto certs = readCerts(*crtData);
  ASSERT_EQ(certs.size(), 2u);
  X509* leaf = certs[0].get();
  X509* ca = certs[1].get();
  const long unix = static_cast<long>(std::chrono::system_clock::to_time_t(now));
  EXPECT_EQ(pair->leaf.commonName, "node-a.example@" + std::to_string(unix));
  auto infos = kubeapi::parseCertificatesPem(*crtData);
  ASSERT_TRUE(infos.ok());
  EXPECT_EQ((*infos)[1].commonName, "node-a.example-ca@" + std::to_string(unix));
  EXPECT_THAT(pair->leaf.dnsNames, ElementsAre("node-a.example"));
  EXPECT_THAT(pair->leaf.ipAddresses, IsEmpty());

  // Valid from an hour ago, for a year (both certificates).
  for (const auto& info : *infos) {
    auto from = std::chrono::duration_cast<std::chrono::seconds>(now - info.notBefore).count();
    EXPECT_NEAR(from, 3600, 2);
    EXPECT_EQ(
        std::chrono::duration_cast<std::chrono::hours>(info.notAfter - info.notBefore).count(),
        24 * 365);
  }
  EXPECT_EQ(ASN1_INTEGER_get(X509_get0_serialNumber(ca)), 1);
  EXPECT_EQ(ASN1_INTEGER_get(X509_get0_serialNumber(leaf)), 2);

  // RSA-2048 keys; usages.
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(leaf)), 2048);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(ca)), 2048);
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  EXPECT_TRUE(hasExtKeyUsage(leaf, XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_key_usage(leaf), uint32_t(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_key_usage(ca),
            uint32_t(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_CERT_SIGN));
  EXPECT_EQ(X509_check_host(leaf, "node-a.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(leaf, "other.example", 0, 0, nullptr), 1);

  // The leaf chains to the CA for TLS server use.
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  EXPECT_EQ(X509_verify_cert(ctx), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);

  EXPECT_TRUE(kubeapi::checkKeyMatchesCertificate(pair->certPem, pair->keyPem).ok());
}

TEST_F(ServingCertTest, SelfSignedForAnIpHostHasAnIpSan) {
  auto gen = generateSelfSignedCertKey("192.168.7.9", {"10.0.0.1"}, {"alt.example"},
                                       std::chrono::system_clock::now());
  ASSERT_TRUE(gen.ok()) << gen.status();
  auto info = kubeapi::parseCertificatePem(gen->certPem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->ipAddresses, ElementsAre("192.168.7.9", "10.0.0.1"));
  EXPECT_THAT(info->dnsNames, ElementsAre("alt.example"));
  EXPECT_THAT(info->commonName, StartsWith("192.168.7.9@"));
  EXPECT_FALSE(
      generateSelfSignedCertKey("h", {"not-an-ip"}, {}, std::chrono::system_clock::now()).ok());
}

TEST_F(ServingCertTest, ExistingSelfSignedPairIsReusedNotRegenerated) {
  auto first = loadOrGenerateStaticServingCert(staticOptions(), std::chrono::system_clock::now());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = loadOrGenerateStaticServingCert(
      staticOptions(), std::chrono::system_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->certPem, second->certPem);
  EXPECT_EQ(first->keyPem, second->keyPem);
}

TEST_F(ServingCertTest, CorruptOrHalfSelfSignedPairIsAnErrorAsUpstream) {
  auto first = loadOrGenerateStaticServingCert(staticOptions(), std::chrono::system_clock::now());
  ASSERT_TRUE(first.ok());
  const std::string crt = dir_ + "/pki/kubelet.crt", key = dir_ + "/pki/kubelet.key";
  ASSERT_TRUE(core::writeFileAtomic(crt, "garbage\n", 0644).ok());
  auto corrupt = loadOrGenerateStaticServingCert(staticOptions(), std::chrono::system_clock::now());
  ASSERT_FALSE(corrupt.ok());
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr(crt));
  EXPECT_EQ(*core::readFile(crt), "garbage\n");  // not silently replaced

  ASSERT_EQ(::unlink(crt.c_str()), 0);
  auto half = loadOrGenerateStaticServingCert(staticOptions(), std::chrono::system_clock::now());
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().message(),
            "error reading " + crt + ", certificate and key must be supplied as a pair");
}

TEST_F(ServingCertTest, ExplicitFilesAreLoadedAndChecked) {
  auto pki = cubelet::fakeapi::Pki::create(dir_ + "/ca");
  ASSERT_TRUE(pki.ok());
  auto a = (*pki)->issueServerCert({"127.0.0.1"}, {"localhost"});
  auto b = (*pki)->issueServerCert({"127.0.0.2"}, {"other"});
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string crt = dir_ + "/x.crt", key = dir_ + "/x.key", otherKey = dir_ + "/y.key";
  ASSERT_TRUE(core::writeFileAtomic(crt, a->certPem + (*pki)->caCertPem()).ok());
  ASSERT_TRUE(core::writeFileAtomic(key, a->keyPem, 0600).ok());
  ASSERT_TRUE(core::writeFileAtomic(otherKey, b->keyPem, 0600).ok());
  auto now = std::chrono::system_clock::now();

  ServingCertOptions o;
  o.certDir = dir_ + "/pki";
  o.tlsCertFile = crt;
  o.tlsPrivateKeyFile = key;
  auto pair = loadOrGenerateStaticServingCert(o, now);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->certPem, a->certPem + (*pki)->caCertPem());
  EXPECT_THAT(pair->leaf.ipAddresses, ElementsAre("127.0.0.1"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pki/kubelet.crt"));

  o.tlsPrivateKeyFile = otherKey;
  auto mismatch = loadOrGenerateStaticServingCert(o, now);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().message(),
            "tlsPrivateKeyFile " + otherKey +
                ": private key does not match the certificate in tlsCertFile " + crt);

  o.tlsCertFile = key;  // a file without a certificate
  o.tlsPrivateKeyFile = key;
  auto noCert = loadOrGenerateStaticServingCert(o, now);
  ASSERT_FALSE(noCert.ok());
  EXPECT_EQ(noCert.status().message(), "tlsCertFile " + key + ": no PEM block of type CERTIFICATE");

  o.tlsCertFile = dir_ + "/missing.crt";
  auto missing = loadOrGenerateStaticServingCert(o, now);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              StartsWith("tlsCertFile " + dir_ + "/missing.crt: "));

  o.tlsCertFile = crt;
  o.tlsPrivateKeyFile = "";
  auto onlyCert = loadOrGenerateStaticServingCert(o, now);
  ASSERT_FALSE(onlyCert.ok());
  EXPECT_THAT(std::string(onlyCert.status().message()), StartsWith("tlsPrivateKeyFile: "));
}

TEST_F(ServingCertTest, GeneratedAndIssuedPairsServeTls) {
  // The self-signed pair (RSA, PKCS#1 key), verified against its own CA for "localhost".
  ServingCertOptions o = staticOptions();
  o.hostname = "localhost";
  auto self = loadOrGenerateStaticServingCert(o, std::chrono::system_clock::now());
  ASSERT_TRUE(self.ok()) << self.status();
  auto certs = readCerts(self->certPem);
  ASSERT_EQ(certs.size(), 2u);
  ossl::BioPtr caBio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(caBio.get(), certs[1].get());
  std::string got = serveAndHandshake(*self, ossl::bioString(caBio.get()));
  EXPECT_EQ(got, self->certPem.substr(0, self->certPem.find("-----END CERTIFICATE-----") + 26));

  // An EC pair as the CSR path stores it (SEC 1 key).
  auto key = kubeapi::generateEcPrivateKeyPem();
  auto csr = kubeapi::makeCsrPem(*key, "system:node:n", {"system:nodes"}, {"n"}, {"127.0.0.1"});
  auto pki = cubelet::fakeapi::Pki::create(dir_ + "/ca");
  ASSERT_TRUE(key.ok() && csr.ok() && pki.ok());
  auto cert = (*pki)->signCsr(*csr, std::chrono::hours(1));
  ASSERT_TRUE(cert.ok());
  auto ec = kubeapi::parseCertKeyPem(*cert + *key);
  ASSERT_TRUE(ec.ok()) << ec.status();
  EXPECT_EQ(serveAndHandshake(*ec, ""), *cert);
}

TEST(ServingNamesTest, AddressesMapToDnsNamesAndIpsAsTheKubelet) {
  std::vector<node::NodeAddress> addrs = {
      {"InternalIP", "10.0.0.5"}, {"Hostname", "node-b"},      {"ExternalIP", "203.0.113.9"},
      {"InternalIP", "10.0.0.5"}, {"InternalIP", "not-an-ip"}, {"ExternalDNS", "b.example.com"},
      {"Hostname", "fd00::1"},    {"InternalDNS", ""},         {"Other", "x"}};
  ServingNames n = servingNamesFromAddresses(addrs);
  EXPECT_THAT(n.dnsNames, ElementsAre("b.example.com", "node-b"));
  EXPECT_THAT(n.ipAddresses, ElementsAre("10.0.0.5", "203.0.113.9", "fd00::1"));
  EXPECT_TRUE(servingNamesFromAddresses({}).empty());
}

// serverTLSBootstrap against the fake API server.
class ServingCertBootstrapTest : public ServingCertTest {
 protected:
  void SetUp() override {
    ServingCertTest::SetUp();
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    FakeApiServerOptions opts;
    opts.pkiDir = dir_ + "/api";
    auto server = FakeApiServer::start(opts);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    const std::string kc = dir_ + "/kubelet.conf";
    ASSERT_TRUE(server_->writeCertKubeconfig(kc, "system:node:node-1", {"system:nodes"}).ok());
    auto cfg = kubeapi::loadKubeconfig(kc);
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    auto client = kubeapi::CurlApiClient::create(*loop_, *cfg);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }
  void TearDown() override {
    client_.reset();
    pool_.reset();
    server_.reset();
    ServingCertTest::TearDown();
  }

  ServingCertOptions bootstrapOptions() {
    ServingCertOptions o;
    o.certDir = dir_ + "/pki";
    o.serverTlsBootstrap = true;
    o.nodeName = "node-1";
    o.random = [] { return 0.5; };
    o.retryInitial = std::chrono::milliseconds(50);
    return o;
  }

  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return cubelet::testing::runLoopUntil(*loop_, done, timeout, core::Duration(5));
  }

  std::vector<json> csrs() { return server_->list(kubeapi::kCsrCollectionPath); }

  static kubeapi::CsrInfo requestOf(const json& csr) {
    std::string pem;
    EXPECT_TRUE(absl::Base64Unescape(csr["spec"]["request"].get<std::string>(), &pem));
    auto info = kubeapi::parseCsrPem(pem);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.value_or(kubeapi::CsrInfo{});
  }

  std::vector<node::NodeAddress> addresses() {
    return {{"InternalIP", "10.1.2.3"}, {"Hostname", "node-1"}, {"ExternalIP", "198.51.100.4"}};
  }

  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<core::ThreadWorkerPool> pool_ = std::make_unique<core::ThreadWorkerPool>(1);
  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<kubeapi::CurlApiClient> client_;
};

TEST_F(ServingCertBootstrapTest, RequestsKubeletServingCertificateAndStoresIt) {
  auto sc = ServingCertificate::create(*loop_, *pool_, bootstrapOptions(), client_.get());
  ASSERT_TRUE(sc.ok()) << sc.status();
  std::vector<kubeapi::CertKeyPair> rotated;
  (*sc)->onRotated([&](const kubeapi::CertKeyPair& p) { rotated.push_back(p); });
  EXPECT_FALSE((*sc)->current().has_value());

  // No addresses yet: no CSR, as the kubelet's nil template.
  EXPECT_FALSE(runUntil([&] { return !csrs().empty(); }, std::chrono::milliseconds(300)));
  EXPECT_FALSE((*sc)->requestInFlight());

  (*sc)->setNodeAddresses(addresses());
  ASSERT_TRUE(runUntil([&] { return !csrs().empty(); }));
  auto list = csrs();
  ASSERT_EQ(list.size(), 1u);
  const json& csr = list[0];
  EXPECT_EQ(csr["spec"]["signerName"], "kubernetes.io/kubelet-serving");
  EXPECT_EQ(csr["spec"]["usages"], json({"digital signature", "server auth"}));
  EXPECT_THAT(csr["metadata"]["name"].get<std::string>(), StartsWith("csr-"));
  kubeapi::CsrInfo req = requestOf(csr);
  EXPECT_EQ(req.commonName, "system:node:node-1");
  EXPECT_THAT(req.organizations, ElementsAre("system:nodes"));
  EXPECT_THAT(req.dnsNames, ElementsAre("node-1"));
  EXPECT_THAT(req.ipAddresses, ElementsAre("10.1.2.3", "198.51.100.4"));
  EXPECT_TRUE((*sc)->requestInFlight());
  EXPECT_FALSE((*sc)->current().has_value());

  ASSERT_TRUE(
      server_->approveCsr(csr["metadata"]["name"].get<std::string>(), std::chrono::hours(10)).ok());
  ASSERT_TRUE(runUntil([&] { return !rotated.empty(); }));
  ASSERT_TRUE((*sc)->current().has_value());
  EXPECT_EQ((*sc)->current()->certPem, rotated[0].certPem);
  EXPECT_EQ((*sc)->current()->leaf.commonName, "system:node:node-1");
  EXPECT_TRUE((*sc)->lastError().ok()) << (*sc)->lastError();
  // The key is the one the CSR was made with: an EC key matching the issued cert.
  EXPECT_THAT((*sc)->current()->keyPem, StartsWith("-----BEGIN EC PRIVATE KEY-----"));
  auto pub = kubeapi::publicKeyDer((*sc)->current()->keyPem);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, req.publicKeyDer);

  // Stored as certificate.FileStore("kubelet-server", certDir).
  const std::string current = dir_ + "/pki/kubelet-server-current.pem";
  EXPECT_EQ((*sc)->currentPath(), current);
  std::string target = linkTarget(current);
  EXPECT_THAT(target, MatchesRegex(".*/pki/kubelet-server-[0-9]{4}(-[0-9]{2}){5}\\.pem"));
  EXPECT_EQ(modeOf(target), 0600u);
  auto stored = kubeapi::loadCurrentCertificate(dir_ + "/pki", kubeapi::kServingCertPrefix);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->certPem, rotated[0].certPem);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pki/kubelet-client-current.pem"));

  // Next rotation at notBefore + 80 % (random 0.5) of the lifetime.
  ASSERT_TRUE((*sc)->rotationDeadline().has_value());
  const auto cur = (*sc)->current();
  ASSERT_TRUE(cur.has_value());
  const kubeapi::CertificateInfo& leaf = cur->leaf;
  auto expected = leaf.notBefore + (leaf.notAfter - leaf.notBefore) * 8 / 10;
  EXPECT_NEAR(
      std::chrono::duration_cast<std::chrono::seconds>(*(*sc)->rotationDeadline() - expected)
          .count(),
      0, 1);
  EXPECT_FALSE((*sc)->requestInFlight());
  // No second CSR for the same names (even though the fake signer drops the SANs).
  EXPECT_FALSE(runUntil([&] { return csrs().size() > 1; }, std::chrono::milliseconds(300)));

  // A new address: a new CSR for the new names at once.
  auto more = addresses();
  more.push_back({"InternalIP", "10.9.9.9"});
  (*sc)->setNodeAddresses(more);
  ASSERT_TRUE(runUntil([&] { return csrs().size() == 2; }));
  kubeapi::CsrInfo second;
  for (const auto& c : csrs()) {
    if (c["metadata"]["name"] != csr["metadata"]["name"]) second = requestOf(c);
  }
  EXPECT_THAT(second.ipAddresses, ElementsAre("10.1.2.3", "10.9.9.9", "198.51.100.4"));
  EXPECT_NE(second.publicKeyDer, req.publicKeyDer);  // a fresh key per request
  EXPECT_TRUE((*sc)->current().has_value());         // the old one serves meanwhile
}

TEST_F(ServingCertBootstrapTest, ValidCurrentPairIsUsedAtStart) {
  // A pair issued earlier, with the node's names.
  auto key = kubeapi::generateEcPrivateKeyPem();
  ASSERT_TRUE(key.ok());
  auto csrPem = kubeapi::makeCsrPem(*key, "system:node:node-1", {"system:nodes"}, {"node-1"},
                                    {"10.1.2.3", "198.51.100.4"});
  ASSERT_TRUE(csrPem.ok()) << csrPem.status();
  auto pki = cubelet::fakeapi::Pki::create(dir_ + "/ca");
  ASSERT_TRUE(pki.ok());
  auto cert = (*pki)->signCsr(*csrPem, std::chrono::hours(10));
  ASSERT_TRUE(cert.ok());
  ASSERT_TRUE(kubeapi::storeCertificate(dir_ + "/pki", *cert, *key,
                                        std::chrono::system_clock::now(),
                                        kubeapi::kServingCertPrefix)
                  .ok());

  auto sc = ServingCertificate::create(*loop_, *pool_, bootstrapOptions(), client_.get(), {});
  ASSERT_TRUE(sc.ok()) << sc.status();
  ASSERT_TRUE((*sc)->current().has_value());
  EXPECT_EQ((*sc)->current()->certPem, *cert);
  EXPECT_EQ((*sc)->current()->keyPem, *key);
  EXPECT_FALSE(runUntil([&] { return !csrs().empty(); }, std::chrono::milliseconds(300)));
}

TEST_F(ServingCertBootstrapTest, DeniedRequestIsRetried) {
  auto sc =
      ServingCertificate::create(*loop_, *pool_, bootstrapOptions(), client_.get(), addresses());
  ASSERT_TRUE(sc.ok()) << sc.status();
  ASSERT_TRUE(runUntil([&] { return !csrs().empty(); }));
  ASSERT_TRUE(server_->denyCsr(csrs()[0]["metadata"]["name"].get<std::string>()).ok());
  ASSERT_TRUE(runUntil([&] { return csrs().size() == 2; }));
  EXPECT_THAT(std::string((*sc)->lastError().message()), HasSubstr("is denied"));
  EXPECT_FALSE((*sc)->current().has_value());
}

TEST_F(ServingCertBootstrapTest, BootstrapNeedsAClient) {
  auto sc = ServingCertificate::create(*loop_, *pool_, bootstrapOptions(), nullptr);
  ASSERT_FALSE(sc.ok());
  EXPECT_THAT(std::string(sc.status().message()), StartsWith("serverTLSBootstrap: "));
}

}  // namespace
}  // namespace agent::server

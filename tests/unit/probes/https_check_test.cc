// The HTTPS check against a loopback TLS server with a self-signed certificate
// made here (the kubelet does not verify probe certificates).
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mutex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probes/checks.h"
#include "tests/unit/probes/check_test_support.h"

namespace cubelet::testing {
namespace {

using probes::HttpGetSpec;
using probes::Outcome;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A TLS server context with a fresh self-signed P-256 certificate for "localhost".
SSL_CTX* selfSignedServerContext() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

class TlsServer {
 public:
  TlsServer()
      : ctx_(selfSignedServerContext()),
        server_(std::make_unique<Listener>(), [this](int fd, ServerThread&) { serve(fd); }) {}
  ~TlsServer() { SSL_CTX_free(ctx_); }
  int port() const { return server_.port(); }
  std::string sni() {
    std::lock_guard<std::mutex> lock(mu_);
    return sni_;
  }
  std::string request() {
    std::lock_guard<std::mutex> lock(mu_);
    return request_;
  }

 private:
  void serve(int fd) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        int n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        sni_ = sni != nullptr ? sni : "";
        request_ = req;
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure";
      SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  SSL_CTX* ctx_;
  std::mutex mu_;
  std::string sni_;
  std::string request_;
  ServerThread server_;
};

HttpGetSpec httpsSpec(const std::string& host, int port) {
  HttpGetSpec s;
  s.scheme = "HTTPS";
  s.host = host;
  s.port = port;
  s.path = "/healthz";
  return s;
}

CheckRun get(core::SdEventLoop& loop, const HttpGetSpec& s, core::Duration timeout = 3s) {
  return runCheck(loop, [&](probes::CheckDone done) {
    return probes::httpGet(loop, s, timeout, std::move(done));
  });
}

TEST(HttpsCheckTest, SelfSignedCertificateIsAccepted) {
  auto loop = newLoop();
  TlsServer server;
  CheckRun run = get(*loop, httpsSpec("127.0.0.1", server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess) << run.result->output;
  EXPECT_EQ(run.result->output, "secure");
  EXPECT_EQ(run.result->httpCode, 200);
  EXPECT_THAT(server.request(), StartsWith("GET /healthz HTTP/1.1\r\n"));
  EXPECT_EQ(server.sni(), "");  // no SNI for an IP address, as Go's client
}

// A host name is resolved off the loop and sent as SNI.
TEST(HttpsCheckTest, HostNameIsResolvedAndSentAsSNI) {
  auto loop = newLoop();
  TlsServer server;
  CheckRun run = get(*loop, httpsSpec("localhost", server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess) << run.result->output;
  EXPECT_EQ(server.sni(), "localhost");
  EXPECT_THAT(server.request(), HasSubstr("\r\nHost: localhost:" + std::to_string(server.port())));
}

TEST(HttpsCheckTest, PlainHttpServerIsATlsFailure) {
  auto loop = newLoop();
  ServerThread server(std::make_unique<Listener>(), [](int fd, ServerThread&) {
    char buf[512];
    (void)::recv(fd, buf, sizeof(buf), 0);
    ServerThread::sendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  CheckRun run = get(*loop, httpsSpec("127.0.0.1", server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_THAT(
      run.result->output,
      StartsWith("Get \"https://127.0.0.1:" + std::to_string(server.port()) + "/healthz\": tls: "));
}

TEST(HttpsCheckTest, StalledHandshakeTimesOutAndCancelLeavesNothingOpen) {
  auto loop = newLoop();
  {
    TlsServer warmup;  // OpenSSL's first use may open what it keeps for good
    get(*loop, httpsSpec("127.0.0.1", warmup.port()));
  }
  int fds = openFdCount();
  {
    ServerThread server(std::make_unique<Listener>(), [](int, ServerThread& s) { s.hold(); });
    CheckRun run = get(*loop, httpsSpec("127.0.0.1", server.port()), 300ms);
    ASSERT_TRUE(run.result);
    EXPECT_EQ(run.result->outcome, Outcome::kFailure);
    EXPECT_THAT(run.result->output, HasSubstr("context deadline exceeded"));
    EXPECT_LT(run.elapsed, 800ms);
  }
  {
    ServerThread server(std::make_unique<Listener>(), [](int, ServerThread& s) { s.hold(); });
    bool called = false;
    probes::PendingCheckPtr pending =
        probes::httpGet(*loop, httpsSpec("127.0.0.1", server.port()), 2s,
                        [&](probes::CheckResult) { called = true; });
    core::TimerPtr cancel = loop->createTimer([&] { pending.reset(); });
    cancel->enableTimer(100ms);
    runFor(*loop, 300ms);
    EXPECT_FALSE(called);
  }
  expectNoFdLeak(fds);
}

}  // namespace
}  // namespace cubelet::testing

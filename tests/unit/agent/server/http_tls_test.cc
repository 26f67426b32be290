// HttpServer's HTTPS: request fields over TLS, client certificates, tlsMinVersion
// and cipher suites, bad settings (the fixture: http_exchange_fixture.h).
#include "tests/unit/agent/server/http_exchange_fixture.h"

namespace agent::server {
namespace {

// Its own suite name: the fixture class is per file (anonymous namespace).
class HttpTlsTest : public HttpExchangeTest {};

TEST_F(HttpTlsTest, TlsGetFillsTargetQueryAllAndRemoteAddress) {
  auto server = startTls(tlsOptions(false));
  ASSERT_NE(server, nullptr);
  HttpRequest seen;
  server->handle("/pods", [&](const HttpRequest& req) {
    seen = req;
    return text("pods here");
  });
  std::optional<std::pair<Client::Head, std::string>> r;
  int port = server->port();
  std::string error;
  runWithClient([&] {
    Client c(port, tlsClient());
    error = c.error();
    if (c.ok() && c.send(get("/pods?command=sh&command=-c&x=a%20b&flag"))) r = c.readResponse();
  });
  ASSERT_TRUE(r.has_value()) << error;
  EXPECT_EQ(r->first.status, 200);
  EXPECT_EQ(r->second, "pods here");
  EXPECT_EQ(seen.path, "/pods");
  EXPECT_EQ(seen.target, "/pods?command=sh&command=-c&x=a%20b&flag");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(seen.queryAll,
            (Pairs{{"command", "sh"}, {"command", "-c"}, {"x", "a b"}, {"flag", ""}}));
  EXPECT_EQ(seen.query["command"], "sh");
  EXPECT_THAT(seen.remoteAddress, StartsWith("127.0.0.1:"));
  EXPECT_NE(seen.remoteAddress, "127.0.0.1:0");
  EXPECT_FALSE(seen.peer.has_value());
}

TEST_F(HttpTlsTest, ClientCertificatesFillPeer) {
  auto server = startTls(tlsOptions());
  ASSERT_NE(server, nullptr);
  std::vector<std::optional<PeerCertificate>> peers;
  server->handle("/whoami", [&](const HttpRequest& req) {
    peers.push_back(req.peer);
    return text("ok");
  });
  auto alice = pki_->issueClientCert("alice", {"system:nodes", "team-a"}, 3600s);
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto otherPki = cubelet::fakeapi::Pki::create(dir_ + "/other");
  ASSERT_TRUE(otherPki.ok()) << otherPki.status();
  auto mallory = (*otherPki)->issueClientCert("mallory", {"system:masters"}, 3600s);
  ASSERT_TRUE(mallory.ok()) << mallory.status();
  std::vector<int> statuses;
  int port = server->port();
  runWithClient([&] {
    for (const auto* id :
         {&*alice, &*mallory, static_cast<cubelet::fakeapi::CertKeyPem*>(nullptr)}) {
      ClientOptions o = tlsClient();
      if (id != nullptr) {
        o.certPem = id->certPem;
        o.keyPem = id->keyPem;
      }
      Client c(port, o);
      std::optional<std::pair<Client::Head, std::string>> r;
      if (c.ok() && c.send(get("/whoami"))) r = c.readResponse();
      statuses.push_back(r ? r->first.status : -1);
    }
  });
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200}));
  ASSERT_EQ(peers.size(), 3u);
  ASSERT_TRUE(peers[0].has_value());
  EXPECT_TRUE(peers[0]->verified);
  EXPECT_EQ(peers[0]->commonName, "alice");
  EXPECT_THAT(peers[0]->organizations, ElementsAre("system:nodes", "team-a"));
  ASSERT_TRUE(peers[1].has_value()) << "a certificate from another CA is still seen";
  EXPECT_FALSE(peers[1]->verified);
  EXPECT_EQ(peers[1]->commonName, "mallory");
  EXPECT_FALSE(peers[2].has_value()) << "no certificate, no peer";
}

TEST_F(HttpTlsTest, MinVersionAndCipherSuitesAreEnforced) {
  TlsOptions o = tlsOptions(false);
  o.minVersion = "VersionTLS13";
  auto tls13 = startTls(o);
  ASSERT_NE(tls13, nullptr);
  tls13->handle("/", [](const HttpRequest&) { return text("ok"); });
  o.minVersion = "VersionTLS12";
  o.cipherSuites = {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  auto suites = startTls(o);
  ASSERT_NE(suites, nullptr);
  suites->handle("/", [](const HttpRequest&) { return text("ok"); });
  bool old12Refused = false, new13Served = false;
  std::string cipher12;
  int p13 = tls13->port(), pSuites = suites->port();
  runWithClient([&] {
    ClientOptions c12 = tlsClient();
    c12.maxVersion = TLS1_2_VERSION;
    {
      Client c(p13, c12);
      old12Refused = !c.ok();
    }
    {
      Client c(p13, tlsClient());
      std::optional<std::pair<Client::Head, std::string>> r;
      if (c.ok() && c.send(get("/"))) r = c.readResponse();
      new13Served = r && r->second == "ok";
    }
    {
      Client c(pSuites, c12);
      std::optional<std::pair<Client::Head, std::string>> r;
      if (c.ok() && c.send(get("/"))) r = c.readResponse();
      if (r) cipher12 = c.cipher();
    }
  });
  EXPECT_TRUE(old12Refused) << "a TLS 1.2-only client got through a VersionTLS13 server";
  EXPECT_TRUE(new13Served);
  EXPECT_EQ(cipher12, "ECDHE-ECDSA-AES256-GCM-SHA384");
}

TEST_F(HttpTlsTest, BadTlsSettingsAreNamed) {
  absl::Status st = validateTlsSettings("", {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "FOO"});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("tlsCipherSuites: unknown cipher suite \"FOO\""));
  st = validateTlsSettings("VersionTLS14", {});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("tlsMinVersion"));
  EXPECT_THAT(st.message(), HasSubstr("\"VersionTLS14\""));
  EXPECT_TRUE(validateTlsSettings("VersionTLS10",
                                  {"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_AES_128_GCM_SHA256"})
                  .ok());
  EXPECT_TRUE(validateTlsSettings("", {}).ok());

  TlsOptions o = tlsOptions();
  o.cipherSuites = {"BAR"};
  auto s = HttpServer::createTls(*loop_, "127.0.0.1", 0, o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("unknown cipher suite \"BAR\""));
  EXPECT_THAT(s.status().message(), HasSubstr("127.0.0.1:0"));
  o = tlsOptions();
  o.certPem = "garbage";
  s = HttpServer::createTls(*loop_, "127.0.0.1", 0, o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("tls certificate"));
  o = tlsOptions();
  o.keyPem = "garbage";
  s = HttpServer::createTls(*loop_, "127.0.0.1", 0, o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("tls private key"));
  o = tlsOptions();
  auto other = pki_->issueClientCert("x", {}, 3600s);
  ASSERT_TRUE(other.ok());
  o.keyPem = other->keyPem;
  s = HttpServer::createTls(*loop_, "127.0.0.1", 0, o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("do not match"));
  o = tlsOptions();
  o.clientCaPem = "garbage";
  s = HttpServer::createTls(*loop_, "127.0.0.1", 0, o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("client CA"));
}

}  // namespace
}  // namespace agent::server

// HttpServer's HTTPS, async exchanges, streams and upgrades against real sockets
// and real TLS: the server runs on a real SdEventLoop on the test thread while a
// blocking client (plain sockets, or OpenSSL for TLS) runs on another thread.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/server/http_exchange.h"
#include "agent/server/http_server.h"
#include "core/sd_event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakeapi/pki.h"
#include "tests/support/loop_fixtures.h"

namespace agent::server {
namespace {

using std::chrono_literals::operator""s;
using std::chrono_literals::operator""ms;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int kClientTimeoutMs = 5000;

int openFdCount() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own fd
}

struct ClientOptions {
  bool tls = false;
  std::string caPem;  // verify the server with it when set
  std::string certPem, keyPem;
  int maxVersion = 0;  // e.g. TLS1_2_VERSION
};

// A blocking HTTP/1.1 client on one TCP connection, plain or TLS, with receive
// timeouts; reads Content-Length and chunked bodies, or raw bytes.
class Client {
 public:
  Client(int port, const ClientOptions& o) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{kClientTimeoutMs / 1000, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      error_ = "connect failed";
      return;
    }
    if (!o.tls) {
      ok_ = true;
      return;
    }
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.maxVersion != 0) SSL_CTX_set_max_proto_version(ctx_, o.maxVersion);
    if (!o.caPem.empty()) {
      BIO* b = BIO_new_mem_buf(o.caPem.data(), static_cast<int>(o.caPem.size()));
      X509* ca = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
      BIO_free(b);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
      X509_free(ca);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!o.certPem.empty()) {
      BIO* b = BIO_new_mem_buf(o.certPem.data(), static_cast<int>(o.certPem.size()));
      X509* cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
      BIO_free(b);
      b = BIO_new_mem_buf(o.keyPem.data(), static_cast<int>(o.keyPem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
      BIO_free(b);
      SSL_CTX_use_certificate(ctx_, cert);
      SSL_CTX_use_PrivateKey(ctx_, key);
      X509_free(cert);
      EVP_PKEY_free(key);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
      error_ = absl::StrCat("TLS handshake failed: ", buf);
      return;
    }
    ok_ = true;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string cipher() const { return ssl_ ? SSL_get_cipher_name(ssl_) : ""; }

  void close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      int n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                   : static_cast<int>(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The status and lower-cased headers of a response head.
  struct Head {
    int status = 0;
    std::map<std::string, std::string> headers;
  };
  std::optional<Head> readHead() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Head h;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t lineEnd = head.find("\r\n");
    if (!absl::SimpleAtoi(head.substr(9, 3), &h.status)) return std::nullopt;
    while (lineEnd != std::string::npos) {
      size_t start = lineEnd + 2;
      lineEnd = head.find("\r\n", start);
      std::string line =
          head.substr(start, lineEnd == std::string::npos ? lineEnd : lineEnd - start);
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      h.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    return h;
  }

  std::optional<std::string> readBytes(size_t n) {
    while (buf_.size() < n) {
      if (!fill()) return std::nullopt;
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  // One chunk of a chunked body ("" for the last one); nullopt on error.
  std::optional<std::string> readChunk() {
    size_t eol;
    while ((eol = buf_.find("\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    size_t size = 0;
    if (!absl::SimpleHexAtoi(buf_.substr(0, eol), &size)) return std::nullopt;
    buf_.erase(0, eol + 2);
    auto data = readBytes(size + 2);
    if (!data) return std::nullopt;
    data->resize(size);
    return data;
  }

  // A whole response with a Content-Length body.
  std::optional<std::pair<Head, std::string>> readResponse() {
    auto h = readHead();
    if (!h) return std::nullopt;
    size_t length = 0;
    if (!absl::SimpleAtoi(h->headers["content-length"], &length)) return std::nullopt;
    auto body = readBytes(length);
    if (!body) return std::nullopt;
    return std::make_pair(*h, *body);
  }

  // True when the server closed the connection (as opposed to a timeout).
  bool seesEof() {
    if (!buf_.empty()) return false;
    char c;
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, &c, 1);
      if (n > 0) return false;
      int err = SSL_get_error(ssl_, n);
      return err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno != EAGAIN);
    }
    return recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool fill() {
    char chunk[65536];
    int n = ssl_ ? SSL_read(ssl_, chunk, sizeof(chunk))
                 : static_cast<int>(recv(fd_, chunk, sizeof(chunk), 0));
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string error_;
  std::string buf_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\n", extra, "\r\n");
}

HttpResponse text(std::string body, int status = 200) {
  HttpResponse resp;
  resp.status = status;
  resp.body = std::move(body);
  return resp;
}

class HttpExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    char tmpl[] = "/tmp/http-exchange-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pki = cubelet::fakeapi::Pki::create(dir_ + "/ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto serving = pki_->issueServerCert({"127.0.0.1"}, {"localhost"});
    ASSERT_TRUE(serving.ok()) << serving.status();
    serving_ = *serving;
  }
  void TearDown() override {
    pki_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    EXPECT_EQ(system(cmd.c_str()), 0);
  }

  TlsOptions tlsOptions(bool clientCa = true) {
    TlsOptions o;
    o.certPem = serving_.certPem;
    o.keyPem = serving_.keyPem;
    if (clientCa) o.clientCaPem = pki_->caCertPem();
    return o;
  }
  std::unique_ptr<HttpServer> startTls(const TlsOptions& o) {
    auto server = HttpServer::createTls(*loop_, "127.0.0.1", 0, o);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }
  std::unique_ptr<HttpServer> startPlain() {
    auto server = HttpServer::create(*loop_, "127.0.0.1", 0);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }
  ClientOptions tlsClient() {
    ClientOptions o;
    o.tls = true;
    o.caPem = pki_->caCertPem();
    return o;
  }

  void runWithClient(const std::function<void()>& client, core::Duration guard = 30s) {
    cubelet::testing::runLoopWithClient(*loop_, client, guard);
  }
  void onLoop(const std::function<void()>& fn) { cubelet::testing::runOnLoop(*loop_, fn); }
  // Polls `pred` on the loop until it holds or 5 s pass; for clients.
  bool waitOnLoop(const std::function<bool()>& pred) {
    for (int i = 0; i < 500; ++i) {
      bool ok = false;
      onLoop([&] { ok = pred(); });
      if (ok) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::unique_ptr<core::SdEventLoop> loop_;
  std::string dir_;
  std::unique_ptr<cubelet::fakeapi::Pki> pki_;
  cubelet::fakeapi::CertKeyPem serving_;
};

TEST_F(HttpExchangeTest, TlsGetFillsTargetQueryAllAndRemoteAddress) {
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

TEST_F(HttpExchangeTest, ClientCertificatesFillPeer) {
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

TEST_F(HttpExchangeTest, MinVersionAndCipherSuitesAreEnforced) {
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

TEST_F(HttpExchangeTest, BadTlsSettingsAreNamed) {
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

TEST_F(HttpExchangeTest, AsyncHandlerAnswersAfterATimer) {
  auto server = startPlain();
  ASSERT_NE(server, nullptr);
  core::TimerPtr later;
  server->handleAsync("/slow", [&](ExchangePtr ex) {
    later = loop_->createTimer([ex] { ex->respond(text("late answer", 202)); });
    later->enableTimer(100ms);
  });
  std::vector<std::pair<int, core::Duration>> observed;
  server->setObserver([&](const HttpRequest& req, int status, core::Duration elapsed) {
    if (req.path == "/slow") observed.emplace_back(status, elapsed);
  });
  std::optional<std::pair<Client::Head, std::string>> r1, r2;
  int port = server->port();
  runWithClient([&] {
    Client c(port, {});
    // Twice on one keep-alive connection: the resumed connection serves on.
    if (c.send(get("/slow"))) r1 = c.readResponse();
    if (c.send(get("/slow"))) r2 = c.readResponse();
    waitOnLoop([&] { return observed.size() >= 2; });
  });
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->first.status, 202);
  EXPECT_EQ(r1->second, "late answer");
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->second, "late answer");
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_EQ(observed[0].first, 202);
  EXPECT_GE(observed[0].second, 90ms);
}

TEST_F(HttpExchangeTest, FilterAnswersOrRoutesLater) {
  auto server = startTls(tlsOptions());
  ASSERT_NE(server, nullptr);
  std::vector<core::TimerPtr> timers;
  server->setFilter([&](ExchangePtr ex, std::function<void()> next) {
    if (!ex->request().peer || !ex->request().peer->verified) {
      ex->respond(text("Unauthorized\n", 401));
      return;
    }
    // As a webhook would: decide later.
    timers.push_back(loop_->createTimer(std::move(next)));
    timers.back()->enableTimer(50ms);
  });
  server->handle("/sync",
                 [](const HttpRequest& req) { return text("sync " + req.peer->commonName); });
  server->handleAsync("/async", [](ExchangePtr ex) { ex->respond(text("async")); });
  std::vector<int> statuses;
  server->setObserver(
      [&](const HttpRequest&, int status, core::Duration) { statuses.push_back(status); });
  auto alice = pki_->issueClientCert("alice", {}, 3600s);
  ASSERT_TRUE(alice.ok());
  std::vector<std::string> got;
  int port = server->port();
  runWithClient([&] {
    {
      Client anon(port, tlsClient());
      auto r = anon.ok() && anon.send(get("/sync")) ? anon.readResponse() : std::nullopt;
      got.push_back(r ? absl::StrCat(r->first.status, " ", r->second) : "no answer");
    }
    ClientOptions o = tlsClient();
    o.certPem = alice->certPem;
    o.keyPem = alice->keyPem;
    Client c(port, o);
    for (const char* path : {"/sync", "/async", "/missing"}) {
      auto r = c.ok() && c.send(get(path)) ? c.readResponse() : std::nullopt;
      got.push_back(r ? absl::StrCat(r->first.status, " ", r->second) : "no answer");
    }
    waitOnLoop([&] { return statuses.size() >= 4; });
  });
  EXPECT_THAT(got, ElementsAre("401 Unauthorized\n", "200 sync alice", "200 async",
                               "404 404 page not found\n"));
  EXPECT_THAT(statuses, ElementsAre(401, 200, 200, 404));
}

TEST_F(HttpExchangeTest, StreamIsReadIncrementally) {
  auto server = startTls(tlsOptions(false));
  ASSERT_NE(server, nullptr);
  ExchangePtr stream;
  server->handleAsync("/logs", [&](ExchangePtr ex) {
    stream = ex;
    ex->startStream(200, "text/plain", {{"X-Stream", "yes"}});
    ex->write("one\n");
  });
  std::optional<Client::Head> head;
  std::vector<std::string> chunks;
  bool keptAlive = false;
  int port = server->port();
  runWithClient([&] {
    Client c(port, tlsClient());
    if (!c.ok() || !c.send(get("/logs"))) return;
    head = c.readHead();
    if (!head) return;
    auto one = c.readChunk();
    chunks.push_back(one.value_or("<error>"));
    // Only now is the second chunk written: the first came on its own.
    onLoop([&] { stream->write("two\n"); });
    chunks.push_back(c.readChunk().value_or("<error>"));
    onLoop([&] {
      stream->write("three\n");
      stream->end();
    });
    std::string rest;
    for (;;) {
      auto chunk = c.readChunk();
      if (!chunk || chunk->empty()) break;
      rest += *chunk;
    }
    chunks.push_back(rest);
    auto again = c.send(get("/missing")) ? c.readResponse() : std::nullopt;
    keptAlive = again && again->first.status == 404;
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["transfer-encoding"], "chunked");
  EXPECT_EQ(head->headers["content-type"], "text/plain");
  EXPECT_EQ(head->headers["x-stream"], "yes");
  EXPECT_THAT(chunks, ElementsAre("one\n", "two\n", "three\n"));
  EXPECT_TRUE(keptAlive);
  EXPECT_FALSE(stream->closed());
}

TEST_F(HttpExchangeTest, SlowReaderBuffersThenDrains) {
  auto server = startPlain();
  ASSERT_NE(server, nullptr);
  const std::string block(1 << 20, 'x');
  constexpr int kBlocks = 32;
  ExchangePtr stream;
  bool drained = false;
  server->handleAsync("/big", [&](ExchangePtr ex) {
    stream = ex;
    ex->startStream(200, "application/octet-stream", {});
    for (int i = 0; i < kBlocks; ++i) ex->write(block);
    ex->onDrained([&] { drained = true; });
  });
  size_t bufferedWhileStalled = 0, bufferedAfter = 1;
  size_t total = 0;
  bool drainedBeforeRead = true;
  int port = server->port();
  runWithClient([&] {
    Client c(port, {});
    if (!c.send(get("/big"))) return;
    // Not reading: the socket buffers fill and the rest waits in the exchange.
    std::this_thread::sleep_for(300ms);
    onLoop([&] {
      bufferedWhileStalled = stream ? stream->buffered() : 0;
      drainedBeforeRead = drained;
    });
    if (!c.readHead()) return;
    for (;;) {
      auto chunk = c.readChunk();
      if (!chunk) return;
      total += chunk->size();
      if (total == block.size() * kBlocks) break;
    }
    waitOnLoop([&] { return drained; });
    onLoop([&] {
      bufferedAfter = stream->buffered();
      stream->end();
    });
    auto last = c.readChunk();
    if (!last || !last->empty()) total = 0;
  });
  EXPECT_GT(bufferedWhileStalled, 0u);
  EXPECT_FALSE(drainedBeforeRead);
  EXPECT_TRUE(drained);
  EXPECT_EQ(bufferedAfter, 0u);
  EXPECT_EQ(total, block.size() * kBlocks);
}

TEST_F(HttpExchangeTest, ClientLeavingMidStreamFiresOnClosedAndFreesItsFds) {
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    int fdsBefore = openFdCount();
    {
      auto server = tls ? startTls(tlsOptions(false)) : startPlain();
      ASSERT_NE(server, nullptr);
      ExchangePtr stream;
      int closedCalls = 0;
      server->handleAsync("/follow", [&](ExchangePtr ex) {
        stream = ex;
        ex->onClosed([&] { ++closedCalls; });
        ex->startStream(200, "text/plain", {});
        ex->write("first\n");
      });
      std::vector<int> observed;
      server->setObserver(
          [&](const HttpRequest&, int status, core::Duration) { observed.push_back(status); });
      int fdsServing = openFdCount();
      bool sawFirst = false, closedSeen = false;
      int fdsAfter = -1;
      int port = server->port();
      runWithClient([&] {
        {
          ClientOptions o = tls ? tlsClient() : ClientOptions{};
          Client c(port, o);
          if (!c.ok() || !c.send(get("/follow")) || !c.readHead()) return;
          sawFirst = c.readChunk() == std::optional<std::string>("first\n");
        }  // gone, while the stream waits for more
        closedSeen = waitOnLoop([&] { return closedCalls > 0; });
        waitOnLoop([&] { return openFdCount() == fdsServing; });
        onLoop([&] {
          fdsAfter = openFdCount();
          stream->write("into the void\n");  // no-ops now
          stream->end();
        });
      });
      EXPECT_TRUE(sawFirst);
      EXPECT_TRUE(closedSeen);
      EXPECT_EQ(closedCalls, 1);
      EXPECT_TRUE(stream->closed());
      EXPECT_EQ(fdsAfter, fdsServing);
      EXPECT_THAT(observed, ElementsAre(200));
    }
    EXPECT_EQ(openFdCount(), fdsBefore);
  }
}

// The handler of "Upgrade: test-echo": sends back every byte it reads.
struct Echo {
  std::unique_ptr<UpgradedConnection> conn;
  core::FileEventPtr event;
  std::string initial;
  bool sawEof = false;
};

void startEcho(core::EventLoop& loop, Echo& echo, std::unique_ptr<UpgradedConnection> conn) {
  echo.conn = std::move(conn);
  echo.initial = echo.conn->takeInitialData();
  if (!echo.initial.empty()) {
    ASSERT_EQ(::write(echo.conn->fd(), echo.initial.data(), echo.initial.size()),
              static_cast<ssize_t>(echo.initial.size()));
  }
  echo.event = loop.createFileEvent(echo.conn->fd(), core::kReadable, [&echo](uint32_t) {
    char buf[4096];
    ssize_t n = read(echo.conn->fd(), buf, sizeof(buf));
    if (n > 0) {
      EXPECT_EQ(::write(echo.conn->fd(), buf, static_cast<size_t>(n)), n);
      return;
    }
    if (n < 0 && errno == EAGAIN) return;
    echo.sawEof = true;
    echo.event.reset();
    echo.conn.reset();
  });
}

TEST_F(HttpExchangeTest, UpgradeOverTlsEchoesIncludingInitialData) {
  int fdsBefore = openFdCount();
  auto server = startTls(tlsOptions(false));
  ASSERT_NE(server, nullptr);
  Echo echo;
  std::vector<int> observed;
  server->setObserver(
      [&](const HttpRequest&, int status, core::Duration) { observed.push_back(status); });
  server->handleAsync("/echo", [&](ExchangePtr ex) {
    if (absl::AsciiStrToLower(ex->request().headers.at("upgrade")) != "test-echo") {
      ex->respond(text("want an upgrade", 400));
      return;
    }
    ex->upgrade(
        {{"Upgrade", "test-echo"}, {"Connection", "Upgrade"}},
        [&](std::unique_ptr<UpgradedConnection> c) { startEcho(*loop_, echo, std::move(c)); });
  });
  std::optional<Client::Head> head;
  std::string first, second;
  int port = server->port();
  runWithClient([&] {
    Client c(port, tlsClient());
    if (!c.ok()) return;
    // The first bytes ride with the request head.
    if (!c.send(get("/echo", "Connection: Upgrade\r\nUpgrade: test-echo\r\n") + "early|")) return;
    head = c.readHead();
    if (!head) return;
    first = c.readBytes(6).value_or("<none>");
    for (int i = 0; i < 3; ++i) {
      std::string msg = absl::StrCat("ping", i, "|");
      if (!c.send(msg)) return;
      second += c.readBytes(msg.size()).value_or("<none>");
    }
    c.close();
    waitOnLoop([&] { return echo.sawEof; });
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 101);
  EXPECT_EQ(absl::AsciiStrToLower(head->headers["upgrade"]), "test-echo");
  EXPECT_EQ(first, "early|");
  EXPECT_EQ(second, "ping0|ping1|ping2|");
  EXPECT_TRUE(echo.sawEof);
  EXPECT_EQ(echo.conn, nullptr);
  // Let the server finish the closed connection, then check nothing is left.
  runWithClient([&] { waitOnLoop([&] { return !observed.empty(); }); });
  EXPECT_THAT(observed, ElementsAre(101));
  server.reset();
  EXPECT_EQ(openFdCount(), fdsBefore);
}

TEST_F(HttpExchangeTest, ServerDestroyedWithUpgradedConnectionOpen) {
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    int fdsBefore = openFdCount();
    auto server = tls ? startTls(tlsOptions(false)) : startPlain();
    ASSERT_NE(server, nullptr);
    Echo echo;
    ExchangePtr pending;  // a second request, never answered
    server->handleAsync("/echo", [&](ExchangePtr ex) {
      ex->upgrade(
          {{"Upgrade", "test-echo"}, {"Connection", "Upgrade"}},
          [&](std::unique_ptr<UpgradedConnection> c) { startEcho(*loop_, echo, std::move(c)); });
    });
    server->handleAsync("/hang", [&](ExchangePtr ex) { pending = ex; });
    bool pingOk = false, clientSawEof = false, hangSawEof = false;
    int port = server->port();
    runWithClient([&] {
      ClientOptions o = tls ? tlsClient() : ClientOptions{};
      Client c(port, o);
      Client hang(port, o);
      if (!c.ok() || !hang.ok()) return;
      if (!c.send(get("/echo", "Connection: Upgrade\r\nUpgrade: test-echo\r\n"))) return;
      if (!c.readHead() || !c.send("ping")) return;
      pingOk = c.readBytes(4) == std::optional<std::string>("ping");
      hang.send(get("/hang"));
      waitOnLoop([&] { return pending != nullptr; });
      onLoop([&] {
        // The echo keeps its connection; the server goes first.
        echo.event.reset();
        server.reset();
      });
      clientSawEof = c.seesEof();
      hangSawEof = hang.seesEof();
    });
    EXPECT_TRUE(pingOk);
    EXPECT_TRUE(clientSawEof);
    EXPECT_TRUE(hangSawEof);
    ASSERT_NE(echo.conn, nullptr);
    // Still a valid descriptor, at EOF; destroying it afterwards is safe.
    char c;
    EXPECT_LE(read(echo.conn->fd(), &c, 1), 0);
    echo.conn.reset();
    ASSERT_NE(pending, nullptr);
    EXPECT_TRUE(pending->closed());
    pending->respond(text("too late"));  // a no-op
    pending.reset();
    // Posted close notifications and the like run, then nothing is left.
    runWithClient([] {});
    EXPECT_EQ(openFdCount(), fdsBefore);
  }
}

}  // namespace
}  // namespace agent::server

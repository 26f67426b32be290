// The fixture of the HttpServer tests over real sockets and real TLS: a blocking
// client (plain sockets, or OpenSSL for TLS) on another thread, the server on a
// real SdEventLoop on the test thread, and a test CA. Included by one test file
// per concern (http_tls_test.cc, http_exchange_test.cc).
#pragma once

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

inline int openFdCount() {
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

inline std::string get(const std::string& target, const std::string& extra = "") {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\n", extra, "\r\n");
}

inline HttpResponse text(std::string body, int status = 200) {
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

}  // namespace
}  // namespace agent::server

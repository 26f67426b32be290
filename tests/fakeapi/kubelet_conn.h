// The fake API server's side of a connection to a kubelet's HTTPS API: dialling
// with TLS (Go's error texts), reading an HTTP/1.1 response head and body, and the
// two-way byte pump of an upgraded (exec, attach, port-forward) session. Blocking
// calls with timeouts, for the proxy's per-request threads.
#pragma once

#include <openssl/ssl.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "tests/fakeapi/pki.h"
#include "tests/fakeapi/tls_http_server.h"

namespace cubelet::fakeapi {

inline constexpr int kKubeletConnectTimeoutMs = 5000;
inline constexpr int kKubeletHeadTimeoutMs = 60000;
inline constexpr size_t kKubeletMaxHeadBytes = 1 << 20;
inline constexpr size_t kKubeletPumpBuffer = 64 * 1024;

std::string sslError(const std::string& what);
// host:port, with brackets for an IPv6 host.
std::string hostPort(const std::string& host, int port);
bool isUpgradeRequest(const HttpRequest& req);
// Hop-by-hop headers, which a proxy does not forward.
bool hopByHop(const std::string& name);

// One TLS connection to a kubelet.
class KubeletConn {
 public:
  ~KubeletConn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_; }
  std::string& buf() { return buf_; }

  // Connects with a timeout and completes the TLS handshake; the error text is
  // Go's net.Dial error where there is one ("dial tcp h:p: connect: ...").
  static absl::StatusOr<std::unique_ptr<KubeletConn>> dial(SSL_CTX* ctx, const std::string& host,
                                                           int port);
  bool writeAll(const std::string& data);
  // 1: more bytes in buf(); 0: EOF or error; -1: nothing within timeoutMs.
  int fill(int timeoutMs);

  // 1: more bytes in buf(); 0: EOF or error; -1: nothing within timeoutMs.

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

struct ResponseHead {
  int code = 0;
  std::string statusLine;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }
};

// Reads and parses the response head; the bytes after it stay in b.buf().
absl::StatusOr<ResponseHead> readResponseHead(KubeletConn& b);
// Reads the body of `h`, handing each piece to `sink` as it arrives (false from sink
// stops). Polls `cancelled` while waiting. True when the body ended as framed.
bool readBody(KubeletConn& b, const ResponseHead& h, bool headRequest,
              const std::function<bool(const std::string&)>& sink,
              const std::function<bool()>& cancelled);
// Copies bytes both ways between two TLS sessions on non-blocking sockets until
// either side closes or fails (upgradeaware's "one half exited" rule), first
// delivering `toB` to b and `toA` to a.
void pump(SSL* aSsl, int aFd, SSL* bSsl, int bFd, std::string toB, std::string toA);
// The kubelet-client TLS context: `cert` presented; the kubelet's serving
// certificate verified against `caPem` unless it is empty (then not at all).
SSL_CTX* makeClientContext(const CertKeyPem& cert, const std::string& caPem, std::string* error);

}  // namespace cubelet::fakeapi

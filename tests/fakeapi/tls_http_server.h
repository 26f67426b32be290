// A small HTTPS/1.1 server for the fake API server: an accept thread and one thread per
// connection, OpenSSL with optional client certificates, keep-alive, Content-Length and
// chunked request bodies, `Expect: 100-continue`, chunked streaming responses (watch), and
// handlers that take over the raw connection after the request (upgrades, hijack()).
// stop() closes the listener and every connection; resume() listens on the same port again.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;

namespace cubelet::fakeapi {

struct HttpRequest {
  std::string method;
  std::string target;                          // as sent: path?query
  std::string path;                            // before '?'
  std::string query;                           // after '?', still escaped
  std::map<std::string, std::string> headers;  // lower-case names; a repeated header: the last
  // Every header line as sent (original case and order, repeats kept), e.g. each
  // X-Stream-Protocol-Version of a SPDY upgrade.
  std::vector<std::pair<std::string, std::string>> headerList;
  std::string body;
  X509* peerCert = nullptr;   // borrowed for the duration of the handler call
  bool peerVerified = false;  // the peer certificate chains to the configured CA and is valid
  std::string header(const std::string& lowerName) const;
};

// A connection a handler took over (HttpResponder::hijack()).
struct HijackedConnection {
  SSL* ssl = nullptr;    // the TLS session, handshake done; borrowed (see hijack())
  int fd = -1;           // its socket; borrowed
  std::string buffered;  // bytes the client sent after the request that the server already read
};

// How a handler answers one request.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  // A complete response with Content-Length.
  virtual bool send(int code, const std::string& contentType, const std::string& body) = 0;
  // A chunked response: header now, then one chunk per writeChunk(), then endStream().
  virtual bool startStream(int code, const std::string& contentType) = 0;
  virtual bool writeChunk(const std::string& data) = 0;
  virtual bool endStream() = 0;
  // True once the client hung up or the server is stopping.
  virtual bool closed() = 0;
  // Takes over the connection after the request head and body (nothing may have been
  // sent yet): the handler reads and writes `ssl` itself (it may make `fd`
  // non-blocking) until it returns. Afterwards the server sends nothing more, skips
  // the TLS close_notify, frees the SSL and closes the socket; the connection is not
  // reused. stop() shuts the socket down (SHUT_RDWR), so reads and writes on it fail
  // and the handler must then return.
  virtual HijackedConnection hijack() = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponder&)>;

class TlsHttpServer {
 public:
  // `ctx` is referenced (SSL_CTX_up_ref) for the server's lifetime.
  static absl::StatusOr<std::unique_ptr<TlsHttpServer>> start(const std::string& bindAddress,
                                                              int port, SSL_CTX* ctx,
                                                              HttpHandler handler);
  ~TlsHttpServer();
  TlsHttpServer(const TlsHttpServer&) = delete;
  TlsHttpServer& operator=(const TlsHttpServer&) = delete;

  int port() const { return port_; }
  // Closes the listener and every connection; returns once all their threads ended.
  void stop();
  // Listens again on the same address and port.
  absl::Status resume();

 private:
  struct Connection {
    int fd = -1;
    std::atomic<bool> closing{false};
    std::atomic<bool> done{false};
    std::thread thread;
  };
  TlsHttpServer(std::string bindAddress, SSL_CTX* ctx, HttpHandler handler);
  absl::Status listenOn(int port);
  void acceptLoop();
  void serve(Connection* conn);
  void reapLocked();

  const std::string bindAddress_;
  SSL_CTX* ctx_;
  const HttpHandler handler_;
  int port_ = 0;
  int listenFd_ = -1;
  int wakeFd_ = -1;  // eventfd that ends acceptLoop
  std::thread acceptThread_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> conns_;
  bool running_ = false;
};

}  // namespace cubelet::fakeapi

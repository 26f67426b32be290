// A small HTTP/1.1 server driven by the agent's event loop, for the kubelet's
// endpoints: plain HTTP (healthz on 127.0.0.1:10248, the read-only port) and the
// HTTPS API on :10250 (createTls) with its long-running requests (handleAsync:
// answers that wait on a webhook, streamed logs, upgraded exec/attach/
// port-forward connections; see http_exchange.h). It wraps libmicrohttpd
// (with GnuTLS) in "external epoll" mode: no threads of its own, its epoll fd is
// one readable FileEvent on our loop and its connection timeouts one Timer, so a
// slow or stalled client costs a socket, never a blocked loop or a thread. A
// request waiting for its handler, or a stream waiting for data, is parked
// (suspended) in libmicrohttpd while its socket is watched for the client leaving.
//
// Threading: create(), handle() and the destructor run on the loop thread, and
// handlers, filter and observer are called there. The loop must outlive the
// server. Destroying the server closes every connection: exchanges still held
// see closed() (their onClosed runs, posted to the loop) and every method
// becomes a no-op; an UpgradedConnection still held keeps a valid descriptor
// that reads EOF and fails writes, and must still be destroyed by its owner
// (before or after the server, either is safe). The observer is not called for
// requests cut short by the destructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

struct MHD_Daemon;

namespace agent::server {

// Who is on the other end of a TLS connection, from its client certificate.
struct PeerCertificate {
  // A client certificate was presented and it chains to the server's client CA
  // (TlsOptions::clientCaPem) and is valid now. Unverified certificates name nobody.
  bool verified = false;
  std::string commonName;                  // subject CN (the user name)
  std::vector<std::string> organizations;  // subject O, in order (the groups)
};

struct HttpRequest {
  std::string method;
  // Percent-decoded path, without the query string.
  std::string path;
  // The raw request target as sent (path?query, still escaped), for proxying.
  std::string target;
  // Decoded query arguments; for a repeated key the first value wins (as Go's
  // url.Values.Get); "?flag" gives an empty value.
  std::map<std::string, std::string> query;
  // Every decoded query argument in order, repeated keys included (exec's
  // `command=sh&command=-c`).
  std::vector<std::pair<std::string, std::string>> queryAll;
  // Header names lower-cased; repeated headers joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;
  // "ip:port" of the client.
  std::string remoteAddress;
  // Set on a TLS server when the client sent a certificate.
  std::optional<PeerCertificate> peer;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers. Content-Length is computed and may not be set here.
  std::map<std::string, std::string> headers;
};

// Runs on the loop thread, so it must not block: answer from state the loop owns.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpExchange;
using AsyncHandler = std::function<void(std::shared_ptr<HttpExchange>)>;
namespace internal {
class ExchangeImpl;
class UpgradedConnectionImpl;
}  // namespace internal

// The HTTPS side of a server (the kubelet API on :10250).
struct TlsOptions {
  std::string certPem;  // the serving certificate, then any intermediates
  std::string keyPem;
  // When set, clients are asked for a certificate (not required) and one that
  // chains to these CAs fills HttpRequest::peer (authentication.x509.clientCAFile).
  std::string clientCaPem;
  // tlsMinVersion ("VersionTLS10".."VersionTLS13"; empty: VersionTLS12) and
  // tlsCipherSuites (Go/IANA names such as "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
  // empty: the library's defaults), as the kubelet takes them.
  std::string minVersion;
  std::vector<std::string> cipherSuites;
};

class HttpServer {
 public:
  // Request bodies beyond this are answered 413.
  static constexpr size_t kMaxBodyBytes = 1 << 20;
  // An idle keep-alive connection (or a client that stops sending mid-request) is
  // closed after this long, as the kubelet's server does (IdleTimeout 90 s).
  static constexpr core::Duration kIdleTimeout = std::chrono::seconds(90);

  // Binds address:port and starts serving on `loop`. `address` is an IPv4 or IPv6
  // literal (brackets allowed), "localhost" (= 127.0.0.1), or "" (all interfaces,
  // IPv4 and IPv6 like "::"). Port 0 picks a free port; see port(). Errors name
  // the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> create(core::EventLoop& loop,
                                                            const std::string& address, int port);
  // Closes the listening socket and every open connection at once.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes requests to `h`, with Go ServeMux's rule: a pattern ending in '/' (such
  // as "/stats/") matches every path under it, any other pattern matches only that
  // exact path; of the patterns that match, the longest wins. Registering the same
  // pattern again replaces its handler. An unmatched path gets Go's 404
  // ("404 page not found\n"); unlike Go, "/stats" is not redirected to a
  // registered "/stats/". Methods are not filtered: that is the handler's job.
  void handle(const std::string& pattern, HttpHandler h);

  // As create(), serving HTTPS with `tls`. Errors name the address and, for a bad
  // certificate, key, CA, version or cipher suite, which one.
  static absl::StatusOr<std::unique_ptr<HttpServer>> createTls(core::EventLoop& loop,
                                                               const std::string& address, int port,
                                                               const TlsOptions& tls);

  // As handle(), for a handler that answers later, streams or upgrades (see
  // http_exchange.h). Shares the pattern space with handle().
  void handleAsync(const std::string& pattern,
                   std::function<void(std::shared_ptr<HttpExchange>)> h);

  // Runs before routing for every request (authentication and authorization): it
  // either answers the exchange itself or calls `next()` (possibly later, on the
  // loop) to route it.
  using Filter = std::function<void(std::shared_ptr<HttpExchange>, std::function<void()> next)>;
  void setFilter(Filter f);

  // Called once per finished request (answered, stream ended, upgrade closed or
  // client gone) with the status sent (0 if none) and how long it took.
  using Observer = std::function<void(const HttpRequest&, int status, core::Duration elapsed)>;
  void setObserver(Observer o);

  // The bound port (the chosen one when created with port 0).
  int port() const { return port_; }

 private:
  struct Route {
    HttpHandler sync;    // set for handle()
    AsyncHandler async;  // set for handleAsync()
  };

  HttpServer(core::EventLoop& loop, int port) : loop_(loop), port_(port) {}
  static absl::StatusOr<std::unique_ptr<HttpServer>> createImpl(core::EventLoop& loop,
                                                                const std::string& address,
                                                                int port, const TlsOptions* tls);
  absl::Status start(int listenFd, bool ipv6, const std::string& where, const TlsOptions* tls);
  // Lets libmicrohttpd do all the work it can without blocking, then arms the
  // timer for its next deadline.
  void runDaemon();
  // Runs the daemon soon (from the loop, never re-entering libmicrohttpd): after
  // a connection was resumed or an upgraded one closed.
  void kick();
  const Route* route(const std::string& path) const;
  HttpResponse dispatch(const HttpRequest& req) const;
  // Routes an exchange that passed the filter.
  void dispatchAsync(const std::shared_ptr<internal::ExchangeImpl>& ex);

  // libmicrohttpd's C callbacks, defined in the .cc.
  friend struct HttpServerCallbacks;
  friend class internal::ExchangeImpl;
  friend class internal::UpgradedConnectionImpl;

  core::EventLoop& loop_;
  int port_;
  MHD_Daemon* daemon_ = nullptr;
  core::FileEventPtr epollEvent_;
  core::TimerPtr timer_;
  core::TimerPtr kickTimer_;
  bool tls_ = false;
  // Set by the destructor: suspended requests are dropped instead of re-suspended.
  bool stopping_ = false;
  // The PEMs and priority string handed to libmicrohttpd, kept for its lifetime.
  std::string certPem_, keyPem_, clientCaPem_, priorities_;
  // Pattern -> handler.
  std::map<std::string, Route> routes_;
  Filter filter_;
  Observer observer_;
  // Exchanges whose connection is suspended, and upgraded connections not yet
  // destroyed: the destructor resumes the first and detaches the second.
  std::set<internal::ExchangeImpl*> suspended_;
  std::set<internal::UpgradedConnectionImpl*> upgraded_;
};

// Checks tlsMinVersion and tlsCipherSuites as the kubelet takes them, without
// starting a server (for config load). Errors name the setting and the value,
// e.g. `tlsCipherSuites: unknown cipher suite "FOO"`.
absl::Status validateTlsSettings(const std::string& minVersion,
                                 const std::vector<std::string>& cipherSuites);

}  // namespace agent::server

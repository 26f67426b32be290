// A small HTTP/1.1 server driven by the agent's event loop, for the kubelet's
// plain-HTTP endpoints (healthz on 127.0.0.1:10248, the read-only port). It wraps
// libmicrohttpd in "external epoll" mode: no threads of its own, its epoll fd is
// one readable FileEvent on our loop and its connection timeouts one Timer, so a
// slow or stalled client costs a socket, never a blocked loop. The TLS API port
// (:10250, with streaming) is meant to grow out of the same class.
//
// Threading: create(), handle() and the destructor run on the loop thread, and
// handlers are called there. The loop must outlive the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

struct MHD_Daemon;

namespace agent::server {

struct HttpRequest {
  std::string method;
  // Percent-decoded path, without the query string.
  std::string path;
  // Decoded query arguments; for a repeated key the first value wins (as Go's
  // url.Values.Get); "?flag" gives an empty value.
  std::map<std::string, std::string> query;
  // Header names lower-cased; repeated headers joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;
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

  // The bound port (the chosen one when created with port 0).
  int port() const { return port_; }

 private:
  HttpServer(core::EventLoop& loop, int port) : loop_(loop), port_(port) {}
  absl::Status start(int listenFd, bool ipv6, const std::string& where);
  // Lets libmicrohttpd do all the work it can without blocking, then arms the
  // timer for its next deadline.
  void runDaemon();
  const HttpHandler* route(const std::string& path) const;
  HttpResponse dispatch(const HttpRequest& req) const;

  // libmicrohttpd's C callbacks, defined in the .cc.
  friend struct HttpServerCallbacks;

  core::EventLoop& loop_;
  int port_;
  MHD_Daemon* daemon_ = nullptr;
  core::FileEventPtr epollEvent_;
  core::TimerPtr timer_;
  // Pattern -> handler.
  std::map<std::string, HttpHandler> routes_;
};

}  // namespace agent::server

// One HTTP request on the agent's servers that is answered later, streamed, or
// upgraded: the kubelet API's long-running endpoints (follow logs, exec, attach,
// port-forward) and every request that waits on an authentication or
// authorization webhook. A handler keeps the exchange (a shared_ptr) as long as it
// needs it; the server keeps the connection open until the exchange is answered,
// its stream ended, its upgrade done, or the client goes away.
//
// Threading: every member runs on the server's loop thread, and every callback
// given here is called there. A handler that works on another thread posts back to
// the loop before touching the exchange.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "agent/server/http_server.h"

namespace agent::server {

// The client's connection after a 101 Switching Protocols: raw bytes in both
// directions, TLS already removed by the server. Destroying it closes it.
class UpgradedConnection {
 public:
  virtual ~UpgradedConnection() = default;
  // A connected, non-blocking stream socket. Do not close() it: destroy this
  // object instead. Shutting down its write side (shutdown(SHUT_WR)) is allowed.
  virtual int fd() const = 0;
  // Bytes the client sent after its request head, before the upgrade was
  // answered; they come before anything read from fd().
  virtual std::string takeInitialData() = 0;
};

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;

  virtual const HttpRequest& request() const = 0;

  // A complete response. Exactly one of respond(), startStream() or upgrade() may
  // be called, once; after the client has gone away (closed()) it is a no-op.
  virtual void respond(HttpResponse response) = 0;

  // A streamed response (chunked transfer encoding): the status line and headers
  // now, then write() as data comes, then end().
  virtual void startStream(int status, const std::string& contentType,
                           const std::map<std::string, std::string>& headers) = 0;
  // Queues bytes for the client. Never blocks; see buffered() for back-pressure.
  virtual void write(std::string_view data) = 0;
  // Bytes queued by write() and not yet handed to the socket.
  virtual size_t buffered() const = 0;
  // Called (once per registration) when buffered() falls to zero after having
  // been above zero; a producer that paused because of a slow reader resumes here.
  virtual void onDrained(std::function<void()> cb) = 0;
  // Finishes the stream (the terminating chunk) once every queued byte is sent.
  virtual void end() = 0;

  // Answers 101 Switching Protocols with `headers` (Upgrade and Connection
  // included by the caller), then hands over the connection. If the client has
  // gone away first, `onUpgraded` is never called.
  virtual void upgrade(const std::map<std::string, std::string>& headers,
                       std::function<void(std::unique_ptr<UpgradedConnection>)> onUpgraded) = 0;

  // Called once if the client disconnects (or the server shuts down) before the
  // response, stream or upgrade completed. Not called after a normal finish.
  virtual void onClosed(std::function<void()> cb) = 0;
  virtual bool closed() const = 0;
};

using ExchangePtr = std::shared_ptr<HttpExchange>;
using AsyncHandler = std::function<void(ExchangePtr)>;

}  // namespace agent::server

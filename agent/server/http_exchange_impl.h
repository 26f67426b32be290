// HttpServer's implementation of HttpExchange and UpgradedConnection over
// libmicrohttpd (private to agent/server). Lifetimes: the request's state holds
// the exchange until libmicrohttpd completes the request; a handler may hold it
// longer, and after the request completed (or the server went away) every
// method is a no-op. Everything runs on the server's loop thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "agent/server/http_exchange.h"
#include "agent/server/http_server.h"
#include "core/event_loop.h"

struct MHD_Connection;
struct MHD_UpgradeResponseHandle;

namespace agent::server::internal {

class ExchangeImpl final : public HttpExchange, public std::enable_shared_from_this<ExchangeImpl> {
 public:
  enum class Action { kNone, kRespond, kStream, kUpgrade };

  ExchangeImpl(HttpServer* server, MHD_Connection* conn, HttpRequest req);
  ~ExchangeImpl() override;

  const HttpRequest& request() const override { return req_; }
  void respond(HttpResponse response) override;
  void startStream(int status, const std::string& contentType,
                   const std::map<std::string, std::string>& headers) override;
  void write(std::string_view data) override;
  size_t buffered() const override { return buf_.size() - sent_; }
  void onDrained(std::function<void()> cb) override { drained_ = std::move(cb); }
  void end() override;
  void upgrade(const std::map<std::string, std::string>& headers,
               std::function<void(std::unique_ptr<UpgradedConnection>)> onUpgraded) override;
  void onClosed(std::function<void()> cb) override;
  bool closed() const override { return closed_; }

  // --- The server's side.
  // Null once the request is over or the server is gone.
  HttpServer* server() const { return server_; }
  // Parks the connection until the handler acts (from libmicrohttpd's callbacks
  // only), watching its socket so a client that leaves is still noticed.
  void suspend();
  // Resumes a parked connection and has the server run libmicrohttpd again.
  void wake();
  // The request is over (libmicrohttpd completed it, or the server is going).
  void detach(bool completedOk);
  // libmicrohttpd's content reader for a stream: bytes copied, 0 after parking
  // the connection, or an end/error code.
  ssize_t readStream(char* out, size_t max);
  // The upgrade was handed over: later disconnects are the connection's business.
  void upgraded(std::unique_ptr<UpgradedConnection> conn);

  HttpRequest req_;
  Action action_ = Action::kNone;
  bool routed_ = false;     // next() already ran
  bool inAccess_ = false;   // libmicrohttpd's access handler is on the stack
  bool queued_ = false;     // the action was handed to libmicrohttpd
  bool suspended_ = false;  // the connection is parked
  bool clientGone_ = false;
  bool finished_ = false;  // answered in full, stream ended, or upgraded
  int status_ = 0;         // what was sent (0: nothing yet)
  HttpResponse response_;  // kRespond's response; kStream's status line and headers
  std::map<std::string, std::string> upgradeHeaders_;

 private:
  void fireClosed();

  core::EventLoop& loop_;  // outlives the server and, in practice, the exchange
  HttpServer* server_;
  MHD_Connection* conn_;
  std::string buf_;  // stream bytes; [sent_, size) not yet given to libmicrohttpd
  size_t sent_ = 0;
  bool ended_ = false;
  std::function<void()> drained_;
  std::function<void(std::unique_ptr<UpgradedConnection>)> onUpgraded_;
  std::function<void()> onClosed_;
  bool closed_ = false;
  // While parked: the socket, for the client closing it, and a timer that looks
  // again after the client sent bytes instead (pipelined data, TLS records).
  core::FileEventPtr watch_;
  core::TimerPtr rewatch_;
  int watchFd_ = -1;
};

class UpgradedConnectionImpl final : public UpgradedConnection {
 public:
  // `clientFd` (TLS only, else -1): the client's TCP socket, watched because
  // libmicrohttpd does not pass the client's EOF on to `fd` (see watchClient()).
  UpgradedConnectionImpl(HttpServer* server, MHD_UpgradeResponseHandle* urh, int fd,
                         std::string initial, int clientFd);
  // Closes our descriptor and tells libmicrohttpd to close the connection (when
  // the server is still there).
  ~UpgradedConnectionImpl() override;
  int fd() const override { return fd_; }
  std::string takeInitialData() override { return std::move(initial_); }
  // The server is being destroyed first: the client's connection is closed now
  // (fd() sees EOF and errors), the descriptor stays valid until destruction.
  void detach();

 private:
  // Over TLS, libmicrohttpd forwards between the client and a socketpair and
  // stops reading at the client's EOF without telling the application side. So
  // once the client's socket reports its peer gone and every byte it sent has
  // been taken in, our side's write half is shut down: libmicrohttpd then ends
  // the forwarding and `fd` reads EOF after the last forwarded byte.
  void watchClient();

  HttpServer* server_;
  MHD_UpgradeResponseHandle* urh_;
  int fd_;
  std::string initial_;
  int clientFd_;
  core::FileEventPtr clientWatch_;
  core::TimerPtr clientTimer_;
  bool clientGone_ = false;
};

}  // namespace agent::server::internal

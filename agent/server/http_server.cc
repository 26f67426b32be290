#include "agent/server/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/server/http_exchange_impl.h"
#include "agent/server/http_tls.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::server {
namespace {

// What one request accumulates across libmicrohttpd's calls, from its request
// line (the URI log callback) to its completion.
struct RequestState {
  core::MonoTime start;
  std::string target;  // the raw request target
  bool headersSeen = false;
  bool routed = false;
  std::string body;
  bool tooLarge = false;
  // A request answered by a plain handler without a filter: what the observer sees.
  HttpRequest request;
  int status = 0;
  // Everything else goes through an exchange.
  std::shared_ptr<internal::ExchangeImpl> exchange;
};

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool ipv6 = false;
  bool dualStack = false;
};

std::string hostPort(const std::string& address, int port) {
  if (address.find(':') != std::string::npos && address.front() != '[') {
    return absl::StrCat("[", address, "]:", port);
  }
  return absl::StrCat(address, ":", port);
}

absl::StatusOr<ListenAddress> parseAddress(const std::string& address, int port) {
  ListenAddress out;
  std::string host = address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host.empty()) {
    host = "::";
    out.dualStack = true;
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    sin->sin_addr = v4;
    out.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    sin6->sin6_addr = v6;
    out.len = sizeof(sockaddr_in6);
    out.ipv6 = true;
    // "::" serves IPv4 too, as a Go listener on [::] does.
    out.dualStack = out.dualStack || IN6_IS_ADDR_UNSPECIFIED(&v6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("http server address \"", address,
                                                   "\": not an IP address (nor \"localhost\")"));
  }
  return out;
}

// A non-blocking listening socket bound to `la`; the caller owns the fd.
absl::StatusOr<int> openListener(const ListenAddress& la, const std::string& where) {
  int fd = socket(la.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::errnoStatus(errno, absl::StrCat("socket for ", where));
  int one = 1;
  int v6only = la.dualStack ? 0 : 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (la.ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)) {
    int err = errno;
    close(fd);
    return core::errnoStatus(err, absl::StrCat("setsockopt on ", where));
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&la.addr), la.len) != 0) {
    int err = errno;
    close(fd);
    return core::errnoStatus(err, absl::StrCat("bind ", where));
  }
  if (listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    close(fd);
    return core::errnoStatus(err, absl::StrCat("listen on ", where));
  }
  return fd;
}

absl::StatusOr<int> boundPort(int fd, const std::string& where) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return core::errnoStatus(errno, absl::StrCat("getsockname for ", where));
  }
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void logFromDaemon(void* /*cls*/, const char* fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  // Our own doing: a stream or parked request dropped because its client left
  // or the server is stopping.
  if (msg.find("application error generating response") != std::string::npos ||
      msg.find("Application reported internal error") != std::string::npos) {
    VLOG(2) << "http server: " << msg;
    return;
  }
  LOG_WARNING << "http server: " << msg;
}

MHD_Result collectQuery(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  query->emplace(key, value == nullptr ? "" : value);
  return MHD_YES;
}

MHD_Result collectQueryInOrder(void* cls, MHD_ValueKind /*kind*/, const char* key,
                               const char* value) {
  auto* query = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  query->emplace_back(key, value == nullptr ? "" : value);
  return MHD_YES;
}

// "ip:port" as Go's RemoteAddr: "[v6]:port", and IPv4-mapped IPv6 as IPv4.
std::string formatAddress(const sockaddr* sa) {
  if (sa == nullptr) return "";
  char ip[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    return absl::StrCat(ip, ":", ntohs(sin->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, sizeof(ip));
      return absl::StrCat(ip, ":", ntohs(sin6->sin6_port));
    }
    inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
    return absl::StrCat("[", ip, "]:", ntohs(sin6->sin6_port));
  }
  return "";
}

void freeExchangeRef(void* cls) {
  delete static_cast<std::shared_ptr<internal::ExchangeImpl>*>(cls);
}

ssize_t readStream(void* cls, uint64_t /*pos*/, char* buf, size_t max) {
  return (*static_cast<std::shared_ptr<internal::ExchangeImpl>*>(cls))->readStream(buf, max);
}

void addHeaders(MHD_Response* r, const std::map<std::string, std::string>& headers) {
  for (const auto& [name, value] : headers) {
    if (MHD_add_response_header(r, name.c_str(), value.c_str()) != MHD_YES) {
      LOG_WARNING << "http server: dropping response header \"" << name << "\"";
    }
  }
}

MHD_Result collectHeader(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name = absl::AsciiStrToLower(key);
  std::string v = value == nullptr ? "" : value;
  auto [it, inserted] = headers->emplace(std::move(name), v);
  if (!inserted) absl::StrAppend(&it->second, ", ", v);
  return MHD_YES;
}

void freeBody(void* cls) { delete static_cast<std::string*>(cls); }

// Hands `resp` to libmicrohttpd; the body is moved, not copied.
MHD_Result queueResponse(MHD_Connection* conn, HttpResponse resp) {
  auto* body = new std::string(std::move(resp.body));
  MHD_Response* r = MHD_create_response_from_buffer_with_free_callback_cls(
      body->size(), body->data(), &freeBody, body);
  if (r == nullptr) {
    delete body;
    return MHD_NO;
  }
  if (!resp.contentType.empty()) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp.contentType.c_str());
  }
  addHeaders(r, resp.headers);
  MHD_Result ret = MHD_queue_response(conn, static_cast<unsigned int>(resp.status), r);
  MHD_destroy_response(r);
  return ret;
}

HttpResponse notFound() {
  HttpResponse resp;
  resp.status = 404;
  resp.body = "404 page not found\n";
  resp.headers["X-Content-Type-Options"] = "nosniff";
  return resp;
}

HttpResponse internalError() {
  HttpResponse resp;
  resp.status = 500;
  resp.body = "internal server error\n";
  return resp;
}

HttpResponse tooLargeResponse() {
  HttpResponse resp;
  resp.status = MHD_HTTP_CONTENT_TOO_LARGE;
  resp.body = absl::StrCat("request body larger than ", HttpServer::kMaxBodyBytes, " bytes\n");
  resp.headers["Connection"] = "close";
  return resp;
}

}  // namespace

// Only this struct's functions are handed to libmicrohttpd; they reach the
// server's private parts through the friend declaration.
struct HttpServerCallbacks {
  // The request line is in: the raw target, and the clock starts.
  static void* onUri(void* cls, const char* uri, MHD_Connection* /*conn*/) {
    auto* self = static_cast<HttpServer*>(cls);
    auto* state = new RequestState;
    state->start = self->loop_.monotonicNow();
    state->target = uri == nullptr ? "" : uri;
    return state;
  }

  static MHD_Result onAccess(void* cls, MHD_Connection* conn, const char* url, const char* method,
                             const char* /*version*/, const char* uploadData,
                             size_t* uploadDataSize, void** conCls) {
    auto* self = static_cast<HttpServer*>(cls);
    auto* state = static_cast<RequestState*>(*conCls);
    if (state == nullptr) {
      state = static_cast<RequestState*>(onUri(cls, url, conn));
      *conCls = state;
    }
    if (!state->headersSeen) {
      // First call: headers are in. Refuse a declared oversize body before reading it.
      state->headersSeen = true;
      const char* cl =
          MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t declared = 0;
      if (cl != nullptr && absl::SimpleAtoi(cl, &declared) &&
          declared > HttpServer::kMaxBodyBytes) {
        state->tooLarge = true;
        state->routed = true;
        state->status = MHD_HTTP_CONTENT_TOO_LARGE;
        return queueResponse(conn, tooLargeResponse());
      }
      return MHD_YES;
    }
    if (*uploadDataSize != 0) {
      // A chunked body has no declared size: keep reading but stop storing it, and
      // answer once it ends (a response cannot be queued mid-upload).
      if (!state->tooLarge && state->body.size() + *uploadDataSize > HttpServer::kMaxBodyBytes) {
        state->tooLarge = true;
        std::string().swap(state->body);
      }
      if (!state->tooLarge) state->body.append(uploadData, *uploadDataSize);
      *uploadDataSize = 0;
      return MHD_YES;
    }
    if (state->tooLarge) {
      if (state->routed) return MHD_YES;
      state->routed = true;
      state->status = MHD_HTTP_CONTENT_TOO_LARGE;
      return queueResponse(conn, tooLargeResponse());
    }

    if (!state->routed) {
      state->routed = true;
      HttpRequest req = buildRequest(self, conn, url, method, state);
      if (!self->filter_) {
        const HttpServer::Route* r = self->route(req.path);
        if (r == nullptr || r->sync) {
          // The plain path: answered here and now.
          HttpResponse resp = self->dispatch(req);
          state->status = resp.status;
          state->request = std::move(req);
          return queueResponse(conn, std::move(resp));
        }
      }
      state->exchange = std::make_shared<internal::ExchangeImpl>(self, conn, std::move(req));
      std::shared_ptr<internal::ExchangeImpl> ex = state->exchange;
      ex->inAccess_ = true;
      try {
        if (self->filter_) {
          HttpServer::Filter filter = self->filter_;
          std::weak_ptr<internal::ExchangeImpl> weak = ex;
          filter(ex, [weak] {
            std::shared_ptr<internal::ExchangeImpl> e = weak.lock();
            if (e == nullptr || e->closed() || e->routed_) return;
            if (HttpServer* server = e->server()) server->dispatchAsync(e);
          });
        } else {
          self->dispatchAsync(ex);
        }
      } catch (const std::exception& e) {
        LOG_ERROR << "http handler for " << method << " " << url << " threw: " << e.what();
        ex->respond(internalError());
      }
      ex->inAccess_ = false;
    }
    internal::ExchangeImpl* ex = state->exchange.get();
    if (ex == nullptr || ex->queued_) return MHD_YES;
    if (self->stopping_ || ex->clientGone_) return MHD_NO;
    switch (ex->action_) {
      case internal::ExchangeImpl::Action::kNone:
        ex->suspend();
        return MHD_YES;
      case internal::ExchangeImpl::Action::kRespond:
        ex->queued_ = true;
        ex->status_ = ex->response_.status;
        return queueResponse(conn, std::move(ex->response_));
      case internal::ExchangeImpl::Action::kStream: {
        ex->queued_ = true;
        ex->status_ = ex->response_.status;
        auto* ref = new std::shared_ptr<internal::ExchangeImpl>(state->exchange);
        MHD_Response* r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                            &readStream, ref, &freeExchangeRef);
        if (r == nullptr) {
          delete ref;
          return MHD_NO;
        }
        if (!ex->response_.contentType.empty()) {
          MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  ex->response_.contentType.c_str());
        }
        addHeaders(r, ex->response_.headers);
        MHD_Result ret =
            MHD_queue_response(conn, static_cast<unsigned int>(ex->response_.status), r);
        MHD_destroy_response(r);
        return ret;
      }
      case internal::ExchangeImpl::Action::kUpgrade: {
        ex->queued_ = true;
        ex->status_ = MHD_HTTP_SWITCHING_PROTOCOLS;
        MHD_Response* r = MHD_create_response_for_upgrade(&onUpgrade, self);
        if (r == nullptr) return MHD_NO;
        addHeaders(r, ex->upgradeHeaders_);
        MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
      }
    }
    return MHD_NO;
  }

  static HttpRequest buildRequest(HttpServer* self, MHD_Connection* conn, const char* url,
                                  const char* method, RequestState* state) {
    HttpRequest req;
    req.method = method;
    req.path = url;
    req.target = state->target;
    req.body = std::move(state->body);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, &collectQuery, &req.query);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, &collectQueryInOrder, &req.queryAll);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, &collectHeader, &req.headers);
    if (const MHD_ConnectionInfo* ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) {
      req.remoteAddress = formatAddress(ci->client_addr);
    }
    if (self->tls_) {
      if (const MHD_ConnectionInfo* ci =
              MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION)) {
        req.peer = internal::peerCertificate(ci->tls_session);
      }
    }
    return req;
  }

  static void onUpgrade(void* cls, MHD_Connection* conn, void* conCls, const char* extraIn,
                        size_t extraInSize, MHD_socket sock, MHD_UpgradeResponseHandle* urh) {
    auto* self = static_cast<HttpServer*>(cls);
    auto* state = static_cast<RequestState*>(conCls);
    // Our own descriptor for the user, so the rule "destroy, don't close" holds
    // even when the server goes first (see UpgradedConnectionImpl::detach).
    int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      LOG_ERROR << "http server: dup of an upgraded connection: " << strerror(errno);
      MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
      self->kick();
      return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int clientFd = -1;
    if (self->tls_) {
      if (const MHD_ConnectionInfo* ci =
              MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) {
        clientFd = ci->connect_fd;
      }
    }
    auto up = std::make_unique<internal::UpgradedConnectionImpl>(
        self, urh, fd, std::string(extraIn == nullptr ? "" : extraIn, extraInSize), clientFd);
    if (state != nullptr && state->exchange != nullptr) {
      state->exchange->upgraded(std::move(up));
    }
  }

  static void onCompleted(void* cls, MHD_Connection* /*conn*/, void** conCls,
                          MHD_RequestTerminationCode toe) {
    auto* self = static_cast<HttpServer*>(cls);
    auto* state = static_cast<RequestState*>(*conCls);
    *conCls = nullptr;
    if (state == nullptr) return;
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (state->exchange != nullptr) state->exchange->detach(ok);
    if (self->observer_ && !self->stopping_ && state->headersSeen) {
      const HttpRequest& req =
          state->exchange != nullptr ? state->exchange->request() : state->request;
      int status = state->exchange != nullptr ? state->exchange->status_ : state->status;
      try {
        self->observer_(
            req, status,
            std::chrono::duration_cast<core::Duration>(self->loop_.monotonicNow() - state->start));
      } catch (const std::exception& e) {
        LOG_ERROR << "http server observer threw: " << e.what();
      }
    }
    delete state;
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::create(core::EventLoop& loop,
                                                               const std::string& address,
                                                               int port) {
  return createImpl(loop, address, port, nullptr);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::createTls(core::EventLoop& loop,
                                                                  const std::string& address,
                                                                  int port, const TlsOptions& tls) {
  return createImpl(loop, address, port, &tls);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::createImpl(core::EventLoop& loop,
                                                                   const std::string& address,
                                                                   int port,
                                                                   const TlsOptions* tls) {
  std::string where = hostPort(address, port);
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http server ", where, ": port out of range"));
  }
  if (tls != nullptr) {
    absl::Status st = internal::checkTlsMaterial(*tls);
    if (st.ok()) st = internal::tlsPriorities(tls->minVersion, tls->cipherSuites).status();
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat("https server ", where, ": ", st.message()));
    }
  }
  ASSIGN_OR_RETURN(ListenAddress la, parseAddress(address, port));
  ASSIGN_OR_RETURN(int fd, openListener(la, where));
  absl::StatusOr<int> bound = boundPort(fd, where);
  if (!bound.ok()) {
    close(fd);
    return bound.status();
  }
  std::unique_ptr<HttpServer> server(new HttpServer(loop, *bound));
  RETURN_IF_ERROR(server->start(fd, la.ipv6, where, tls));
  return server;
}

absl::Status HttpServer::start(int listenFd, bool ipv6, const std::string& where,
                               const TlsOptions* tls) {
  // External epoll mode: no threads; libmicrohttpd never blocks inside MHD_run().
  unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
                       MHD_ALLOW_UPGRADE | (ipv6 ? MHD_USE_IPv6 : 0);
  std::vector<MHD_OptionItem> tlsOptions;
  if (tls != nullptr) {
    flags |= MHD_USE_TLS;
    tls_ = true;
    certPem_ = tls->certPem;
    keyPem_ = tls->keyPem;
    clientCaPem_ = tls->clientCaPem;
    ASSIGN_OR_RETURN(priorities_, internal::tlsPriorities(tls->minVersion, tls->cipherSuites));
    tlsOptions.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, certPem_.data()});
    tlsOptions.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, keyPem_.data()});
    // A trust store makes libmicrohttpd ask for (not require) a client certificate.
    if (!clientCaPem_.empty()) {
      tlsOptions.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, clientCaPem_.data()});
    }
    tlsOptions.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, priorities_.data()});
  }
  tlsOptions.push_back({MHD_OPTION_END, 0, nullptr});
  // MHD_OPTION_NOTIFY_COMPLETED's callback type takes the termination code enum.
  MHD_RequestCompletedCallback completed = &HttpServerCallbacks::onCompleted;
  void* (*uriLog)(void*, const char*, MHD_Connection*) = &HttpServerCallbacks::onUri;
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &HttpServerCallbacks::onAccess, this, MHD_OPTION_EXTERNAL_LOGGER,
      &logFromDaemon, nullptr, MHD_OPTION_LISTEN_SOCKET, listenFd, MHD_OPTION_NOTIFY_COMPLETED,
      completed, this, MHD_OPTION_URI_LOG_CALLBACK, uriLog, this, MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned int>(
          std::chrono::duration_cast<std::chrono::seconds>(kIdleTimeout).count()),
      MHD_OPTION_ARRAY, tlsOptions.data(), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    // Whether libmicrohttpd closed the socket on its failure path is not
    // specified; leaking it on this rare path is safer than a double close.
    return absl::InternalError(absl::StrCat(tls_ ? "https" : "http", " server ", where,
                                            ": starting libmicrohttpd failed"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  if (info == nullptr) {
    return absl::InternalError(absl::StrCat("http server ", where, ": no epoll fd"));
  }
  epollEvent_ =
      loop_.createFileEvent(info->epoll_fd, core::kReadable, [this](uint32_t) { runDaemon(); });
  timer_ = loop_.createTimer([this] { runDaemon(); });
  kickTimer_ = loop_.createTimer([this] { runDaemon(); });
  runDaemon();
  VLOG(2) << "http server listening on " << where << " (port " << port_ << ")";
  return absl::OkStatus();
}

HttpServer::~HttpServer() {
  stopping_ = true;
  if (daemon_ != nullptr) {
    // libmicrohttpd must not be stopped with parked connections: the user's
    // upgraded connections are closed under them (their descriptors stay valid
    // until they are destroyed), parked requests resumed and dropped.
    for (internal::UpgradedConnectionImpl* up : std::set(upgraded_)) up->detach();
    upgraded_.clear();
    for (internal::ExchangeImpl* ex : std::set(suspended_)) ex->wake();
    for (int i = 0; i < 3; ++i) MHD_run(daemon_);
  }
  // Loop handles first, so nothing calls into a stopped daemon; stopping it closes
  // the listening socket and every connection, completing their requests.
  epollEvent_.reset();
  timer_.reset();
  kickTimer_.reset();
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

void HttpServer::runDaemon() {
  if (MHD_run(daemon_) != MHD_YES) LOG_WARNING << "http server: MHD_run failed";
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(daemon_, &ms) == MHD_YES) {
    // Capped so the conversion cannot overflow; an early wake-up is harmless.
    constexpr MHD_UNSIGNED_LONG_LONG kMaxMs = 3600 * 1000;
    timer_->enableTimer(core::Duration(std::min(ms, kMaxMs)));
  } else {
    timer_->disableTimer();
  }
}

void HttpServer::kick() {
  if (!stopping_ && kickTimer_ && !kickTimer_->enabled())
    kickTimer_->enableTimer(core::Duration(0));
}

void HttpServer::handle(const std::string& pattern, HttpHandler h) {
  routes_[pattern] = Route{std::move(h), nullptr};
}

void HttpServer::handleAsync(const std::string& pattern,
                             std::function<void(std::shared_ptr<HttpExchange>)> h) {
  routes_[pattern] = Route{nullptr, std::move(h)};
}

void HttpServer::setFilter(Filter f) { filter_ = std::move(f); }

void HttpServer::setObserver(Observer o) { observer_ = std::move(o); }

const HttpServer::Route* HttpServer::route(const std::string& path) const {
  const Route* best = nullptr;
  size_t bestLen = 0;
  for (const auto& [pattern, handler] : routes_) {
    bool matches = pattern.ends_with('/') ? path.starts_with(pattern) : path == pattern;
    if (matches && (best == nullptr || pattern.size() > bestLen)) {
      best = &handler;
      bestLen = pattern.size();
    }
  }
  return best;
}

HttpResponse HttpServer::dispatch(const HttpRequest& req) const {
  const Route* found = route(req.path);
  if (found == nullptr || !found->sync) return notFound();
  // A copy, so a handler that re-registers its own pattern does not destroy itself.
  HttpHandler handler = found->sync;
  try {
    return handler(req);
  } catch (const std::exception& e) {
    // An exception must not unwind through libmicrohttpd's C frames.
    LOG_ERROR << "http handler for " << req.method << " " << req.path << " threw: " << e.what();
  }
  return internalError();
}

void HttpServer::dispatchAsync(const std::shared_ptr<internal::ExchangeImpl>& ex) {
  ex->routed_ = true;
  const Route* found = route(ex->request().path);
  if (found == nullptr) {
    ex->respond(notFound());
    return;
  }
  if (found->sync) {
    ex->respond(dispatch(ex->request()));
    return;
  }
  AsyncHandler handler = found->async;
  try {
    handler(ex);
  } catch (const std::exception& e) {
    LOG_ERROR << "http handler for " << ex->request().method << " " << ex->request().path
              << " threw: " << e.what();
    ex->respond(internalError());
  }
}

}  // namespace agent::server

#include "agent/server/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::server {
namespace {

// What one request accumulates across libmicrohttpd's calls to the access handler.
struct RequestState {
  std::string body;
  bool tooLarge = false;
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
  LOG_WARNING << "http server: " << msg;
}

MHD_Result collectQuery(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  query->emplace(key, value == nullptr ? "" : value);
  return MHD_YES;
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
  for (const auto& [name, value] : resp.headers) {
    if (MHD_add_response_header(r, name.c_str(), value.c_str()) != MHD_YES) {
      LOG_WARNING << "http server: dropping response header \"" << name << "\"";
    }
  }
  MHD_Result ret = MHD_queue_response(conn, static_cast<unsigned int>(resp.status), r);
  MHD_destroy_response(r);
  return ret;
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
  static MHD_Result onAccess(void* cls, MHD_Connection* conn, const char* url, const char* method,
                             const char* /*version*/, const char* uploadData,
                             size_t* uploadDataSize, void** conCls) {
    auto* self = static_cast<HttpServer*>(cls);
    auto* state = static_cast<RequestState*>(*conCls);
    if (state == nullptr) {
      // First call: headers are in. Refuse a declared oversize body before reading it.
      state = new RequestState;
      *conCls = state;
      const char* cl =
          MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t declared = 0;
      if (cl != nullptr && absl::SimpleAtoi(cl, &declared) &&
          declared > HttpServer::kMaxBodyBytes) {
        state->tooLarge = true;
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
    if (state->tooLarge) return queueResponse(conn, tooLargeResponse());

    HttpRequest req;
    req.method = method;
    req.path = url;
    req.body = std::move(state->body);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, &collectQuery, &req.query);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, &collectHeader, &req.headers);
    return queueResponse(conn, self->dispatch(req));
  }

  static void onCompleted(void* /*cls*/, MHD_Connection* /*conn*/, void** conCls,
                          MHD_RequestTerminationCode /*toe*/) {
    delete static_cast<RequestState*>(*conCls);
    *conCls = nullptr;
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::create(core::EventLoop& loop,
                                                               const std::string& address,
                                                               int port) {
  std::string where = hostPort(address, port);
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http server ", where, ": port out of range"));
  }
  ASSIGN_OR_RETURN(ListenAddress la, parseAddress(address, port));
  ASSIGN_OR_RETURN(int fd, openListener(la, where));
  absl::StatusOr<int> bound = boundPort(fd, where);
  if (!bound.ok()) {
    close(fd);
    return bound.status();
  }
  std::unique_ptr<HttpServer> server(new HttpServer(loop, *bound));
  RETURN_IF_ERROR(server->start(fd, la.ipv6, where));
  return server;
}

absl::Status HttpServer::start(int listenFd, bool ipv6, const std::string& where) {
  // External epoll mode: no threads; libmicrohttpd never blocks inside MHD_run().
  unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
  // MHD_OPTION_NOTIFY_COMPLETED's callback type takes the termination code enum.
  MHD_RequestCompletedCallback completed = &HttpServerCallbacks::onCompleted;
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &HttpServerCallbacks::onAccess, this, MHD_OPTION_EXTERNAL_LOGGER,
      &logFromDaemon, nullptr, MHD_OPTION_LISTEN_SOCKET, listenFd, MHD_OPTION_NOTIFY_COMPLETED,
      completed, nullptr, MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned int>(
          std::chrono::duration_cast<std::chrono::seconds>(kIdleTimeout).count()),
      MHD_OPTION_END);
  if (daemon_ == nullptr) {
    // Whether libmicrohttpd closed the socket on its failure path is not
    // specified; leaking it on this rare path is safer than a double close.
    return absl::InternalError(
        absl::StrCat("http server ", where, ": starting libmicrohttpd failed"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  if (info == nullptr) {
    return absl::InternalError(absl::StrCat("http server ", where, ": no epoll fd"));
  }
  epollEvent_ =
      loop_.createFileEvent(info->epoll_fd, core::kReadable, [this](uint32_t) { runDaemon(); });
  timer_ = loop_.createTimer([this] { runDaemon(); });
  runDaemon();
  VLOG(2) << "http server listening on " << where << " (port " << port_ << ")";
  return absl::OkStatus();
}

HttpServer::~HttpServer() {
  // Loop handles first, so nothing calls into a stopped daemon; stopping it closes
  // the listening socket and every connection, completing their requests.
  epollEvent_.reset();
  timer_.reset();
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

void HttpServer::handle(const std::string& pattern, HttpHandler h) {
  routes_[pattern] = std::move(h);
}

const HttpHandler* HttpServer::route(const std::string& path) const {
  const HttpHandler* best = nullptr;
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
  const HttpHandler* found = route(req.path);
  if (found == nullptr) {
    HttpResponse resp;
    resp.status = 404;
    resp.body = "404 page not found\n";
    resp.headers["X-Content-Type-Options"] = "nosniff";
    return resp;
  }
  // A copy, so a handler that re-registers its own pattern does not destroy itself.
  HttpHandler handler = *found;
  try {
    return handler(req);
  } catch (const std::exception& e) {
    // An exception must not unwind through libmicrohttpd's C frames.
    LOG_ERROR << "http handler for " << req.method << " " << req.path << " threw: " << e.what();
  }
  HttpResponse resp;
  resp.status = 500;
  resp.body = "internal server error\n";
  return resp;
}

}  // namespace agent::server

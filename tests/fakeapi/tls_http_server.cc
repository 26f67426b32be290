#include "tests/fakeapi/tls_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"

namespace cubelet::fakeapi {
namespace {

constexpr size_t kMaxHeaderBytes = 1 << 20;

const char* reasonPhrase(int code) {
  switch (code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// One TLS connection: buffered reads and whole writes.
class TlsStream {
 public:
  TlsStream(SSL* ssl) : ssl_(ssl) {}
  bool fill() {
    char tmp[16384];
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, n);
    return true;
  }
  // Reads up to and including "\r\n\r\n"; false on EOF/error/oversize.
  bool readHead(std::string* head) {
    while (true) {
      size_t pos = buf_.find("\r\n\r\n");
      if (pos != std::string::npos) {
        *head = buf_.substr(0, pos);
        buf_.erase(0, pos + 4);
        return true;
      }
      if (buf_.size() > kMaxHeaderBytes || !fill()) return false;
    }
  }
  bool readLine(std::string* line) {
    while (true) {
      size_t pos = buf_.find("\r\n");
      if (pos != std::string::npos) {
        *line = buf_.substr(0, pos);
        buf_.erase(0, pos + 2);
        return true;
      }
      if (buf_.size() > kMaxHeaderBytes || !fill()) return false;
    }
  }
  bool readExact(size_t n, std::string* out) {
    while (buf_.size() < n) {
      if (!fill()) return false;
    }
    out->append(buf_, 0, n);
    buf_.erase(0, n);
    return true;
  }
  bool write(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }
  SSL* ssl() const { return ssl_; }
  std::string takeBuffered() { return std::exchange(buf_, std::string()); }

 private:
  SSL* ssl_;
  std::string buf_;
};

class Responder : public HttpResponder {
 public:
  Responder(TlsStream& s, int fd, const std::atomic<bool>& closing, bool keepAlive)
      : s_(s), fd_(fd), closing_(closing), keepAlive_(keepAlive) {}

  bool send(int code, const std::string& contentType, const std::string& body) override {
    sent_ = true;
    std::string head = absl::StrCat(
        "HTTP/1.1 ", code, " ", reasonPhrase(code), "\r\n", "Content-Type: ", contentType, "\r\n",
        "Cache-Control: no-cache, private\r\n", "Content-Length: ", body.size(), "\r\n",
        keepAlive_ ? "" : "Connection: close\r\n", "\r\n");
    return ok_ = s_.write(head + body);
  }
  bool startStream(int code, const std::string& contentType) override {
    sent_ = true;
    streaming_ = true;
    std::string head = absl::StrCat(
        "HTTP/1.1 ", code, " ", reasonPhrase(code), "\r\n", "Content-Type: ", contentType, "\r\n",
        "Cache-Control: no-cache, private\r\n", "Transfer-Encoding: chunked\r\n",
        keepAlive_ ? "" : "Connection: close\r\n", "\r\n");
    return ok_ = s_.write(head);
  }
  bool writeChunk(const std::string& data) override {
    if (data.empty()) return ok_;
    return ok_ = ok_ && s_.write(absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n"));
  }
  bool endStream() override {
    streaming_ = false;
    return ok_ = ok_ && s_.write("0\r\n\r\n");
  }
  bool closed() override {
    if (closing_ || !ok_) return true;
    pollfd p{fd_, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
  }
  HijackedConnection hijack() override {
    sent_ = true;
    hijacked_ = true;
    return HijackedConnection{s_.ssl(), fd_, s_.takeBuffered()};
  }
  bool sent() const { return sent_; }
  bool ok() const { return ok_ && !streaming_; }
  bool hijacked() const { return hijacked_; }

 private:
  TlsStream& s_;
  int fd_;
  const std::atomic<bool>& closing_;
  bool keepAlive_;
  bool sent_ = false;
  bool streaming_ = false;
  bool ok_ = true;
  bool hijacked_ = false;
};

bool parseHead(const std::string& head, HttpRequest* req) {
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  if (lines.empty()) return false;
  std::vector<std::string> first = absl::StrSplit(lines[0], ' ', absl::SkipEmpty());
  if (first.size() != 3 || !absl::StartsWith(first[2], "HTTP/1.")) return false;
  req->method = first[0];
  req->target = first[1];
  size_t q = req->target.find('?');
  req->path = req->target.substr(0, q);
  req->query = q == std::string::npos ? "" : req->target.substr(q + 1);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) return false;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    req->headerList.emplace_back(lines[i].substr(0, colon), value);
    req->headers[name] = value;
  }
  return true;
}

}  // namespace

std::string HttpRequest::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? "" : it->second;
}

TlsHttpServer::TlsHttpServer(std::string bindAddress, SSL_CTX* ctx, HttpHandler handler)
    : bindAddress_(std::move(bindAddress)), ctx_(ctx), handler_(std::move(handler)) {
  SSL_CTX_up_ref(ctx_);
}

absl::StatusOr<std::unique_ptr<TlsHttpServer>> TlsHttpServer::start(const std::string& bindAddress,
                                                                    int port, SSL_CTX* ctx,
                                                                    HttpHandler handler) {
  // A peer that hangs up mid-write must be an error return, not a process kill.
  static std::once_flag ignorePipe;
  std::call_once(ignorePipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  std::unique_ptr<TlsHttpServer> s(new TlsHttpServer(bindAddress, ctx, std::move(handler)));
  RETURN_IF_ERROR(s->listenOn(port));
  return s;
}

TlsHttpServer::~TlsHttpServer() {
  stop();
  SSL_CTX_free(ctx_);
}

absl::Status TlsHttpServer::listenOn(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::errnoStatus(errno, "socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, bindAddress_.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return absl::InvalidArgumentError("bind address " + bindAddress_ + ": not an IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(fd, 128) < 0) {
    int err = errno;
    ::close(fd);
    return core::errnoStatus(err, absl::StrCat("listen on ", bindAddress_, ":", port));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC);
  listenFd_ = fd;
  running_ = true;
  acceptThread_ = std::thread([this] { acceptLoop(); });
  return absl::OkStatus();
}

absl::Status TlsHttpServer::resume() {
  if (running_) return absl::OkStatus();
  return listenOn(port_);
}

void TlsHttpServer::stop() {
  if (!running_) return;
  uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
  acceptThread_.join();
  ::close(listenFd_);
  ::close(wakeFd_);
  listenFd_ = wakeFd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns.swap(conns_);
    for (auto& c : conns) {
      c->closing = true;
      ::shutdown(c->fd, SHUT_RDWR);
    }
  }
  for (auto& c : conns) {
    c->thread.join();
    ::close(c->fd);
  }
  running_ = false;
}

void TlsHttpServer::reapLocked() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      ::close((*it)->fd);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void TlsHttpServer::acceptLoop() {
  while (true) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    reapLocked();
    auto conn = std::make_unique<Connection>();
    conn->fd = fd;
    Connection* raw = conn.get();
    conn->thread = std::thread([this, raw] { serve(raw); });
    conns_.push_back(std::move(conn));
  }
}

void TlsHttpServer::serve(Connection* conn) {
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, conn->fd);
  if (SSL_accept(ssl) == 1) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    const bool verified = peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
    TlsStream stream(ssl);
    std::string head;
    bool hijacked = false;
    while (!conn->closing && stream.readHead(&head)) {
      HttpRequest req;
      if (!parseHead(head, &req)) {
        Responder(stream, conn->fd, conn->closing, false).send(400, "text/plain", "bad request");
        break;
      }
      req.peerCert = peer;
      req.peerVerified = verified;
      const bool keepAlive = absl::AsciiStrToLower(req.header("connection")) != "close";
      const bool chunked =
          absl::StrContains(absl::AsciiStrToLower(req.header("transfer-encoding")), "chunked");
      size_t length = 0;
      if (!req.header("content-length").empty() &&
          !absl::SimpleAtoi(req.header("content-length"), &length)) {
        Responder(stream, conn->fd, conn->closing, false).send(400, "text/plain", "bad length");
        break;
      }
      if ((chunked || length > 0) &&
          absl::AsciiStrToLower(req.header("expect")) == "100-continue" &&
          !stream.write("HTTP/1.1 100 Continue\r\n\r\n")) {
        break;
      }
      bool bodyOk = true;
      if (chunked) {
        std::string line;
        while ((bodyOk = stream.readLine(&line))) {
          size_t n = 0;
          if (!absl::SimpleHexAtoi(line.substr(0, line.find(';')), &n)) {
            bodyOk = false;
            break;
          }
          if (n == 0) {
            while ((bodyOk = stream.readLine(&line)) && !line.empty()) {
            }
            break;
          }
          std::string crlf;
          if (!(bodyOk = stream.readExact(n, &req.body) && stream.readExact(2, &crlf))) break;
        }
      } else if (length > 0) {
        bodyOk = stream.readExact(length, &req.body);
      }
      if (!bodyOk) break;
      Responder resp(stream, conn->fd, conn->closing, keepAlive);
      handler_(req, resp);
      if ((hijacked = resp.hijacked())) break;
      if (!resp.sent()) resp.send(500, "text/plain", "no response");
      if (!resp.ok() || !keepAlive) break;
    }
    X509_free(peer);
    if (!conn->closing && !hijacked) SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  // The fd stays open until the thread is joined, so stop() never shuts down a reused fd.
  ::shutdown(conn->fd, SHUT_RDWR);
  conn->done = true;
}

}  // namespace cubelet::fakeapi

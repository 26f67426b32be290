#include "agent/server/stream_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/log.h"

namespace agent::server {
namespace {

// A response head (status line and headers) larger than this is refused.
constexpr size_t kMaxHeadBytes = 64 * 1024;
// A non-101 response body larger than this is cut off.
constexpr size_t kMaxBodyBytes = 1 << 20;

class StreamProxy;
// Every live proxy, for closeStreamProxies(). Loop thread only.
std::set<StreamProxy*>& liveSet() {
  static auto* live = new std::set<StreamProxy*>();
  return *live;
}

// strerror as Go prints syscall errors: "connection refused".
std::string goErrno(int err) {
  std::string s = strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// "sec-websocket-key" -> "Sec-Websocket-Key", as Go's CanonicalHeaderKey.
std::string canonicalHeader(absl::string_view name) {
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    c = upper ? absl::ascii_toupper(static_cast<unsigned char>(c))
              : absl::ascii_tolower(static_cast<unsigned char>(c));
    upper = c == '-';
  }
  return out;
}

struct BackendUrl {
  sockaddr_storage addr{};
  socklen_t addrLen = 0;
  std::string hostPort;  // for Host: and messages
  std::string target;    // path?query
};

absl::StatusOr<BackendUrl> parseBackendUrl(const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("streaming URL \"", url, "\": only http:// is supported"));
  }
  size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  BackendUrl out;
  out.target = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  out.hostPort = std::string(authority);
  absl::string_view host;
  absl::string_view port;
  if (absl::ConsumePrefix(&authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos || authority.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError(absl::StrCat("streaming URL \"", url, "\": bad host"));
    }
    host = authority.substr(0, close);
    port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    if (colon == absl::string_view::npos) {
      host = authority;
      port = "80";
      out.hostPort = absl::StrCat(host, ":80");
    } else {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  int portNum = 0;
  if (!absl::SimpleAtoi(port, &portNum) || portNum <= 0 || portNum > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("streaming URL \"", url, "\": bad port"));
  }
  std::string hostStr(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, hostStr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(portNum));
    out.addrLen = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, hostStr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(portNum));
    out.addrLen = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("streaming URL \"", url, "\": host must be an IP address"));
  }
  return out;
}

struct ResponseHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::optional<std::string> get(absl::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

absl::StatusOr<ResponseHead> parseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  ResponseHead out;
  if (lines.empty()) return absl::InvalidArgumentError("malformed HTTP response");
  std::vector<absl::string_view> statusParts = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (statusParts.size() < 2 || !absl::StartsWith(statusParts[0], "HTTP/1.") ||
      !absl::SimpleAtoi(statusParts[1], &out.status) || out.status < 100 || out.status > 999) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed HTTP response \"", absl::CEscape(lines[0]), "\""));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed MIME header line: ", absl::CEscape(lines[i])));
    }
    out.headers.emplace_back(absl::AsciiStrToLower(lines[i].substr(0, colon)),
                             std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return out;
}

// Decodes a complete chunked body from `in`. nullopt while incomplete; an error for
// malformed input.
absl::StatusOr<std::optional<std::string>> decodeChunked(absl::string_view in) {
  std::string out;
  while (true) {
    size_t eol = in.find("\r\n");
    if (eol == absl::string_view::npos) return std::optional<std::string>();
    absl::string_view sizeLine = in.substr(0, eol);
    sizeLine = sizeLine.substr(0, sizeLine.find(';'));
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(sizeLine), &size)) {
      return absl::InvalidArgumentError("malformed chunked encoding");
    }
    in.remove_prefix(eol + 2);
    if (size == 0) {
      // Trailers end with an empty line.
      if (in.find("\r\n") == absl::string_view::npos) return std::optional<std::string>();
      return std::optional<std::string>(std::move(out));
    }
    if (in.size() < size + 2) return std::optional<std::string>();
    out.append(in.data(), size);
    in.remove_prefix(size + 2);
  }
}

// Request headers that are not passed to the backend: hop-by-hop framing of the
// client's request, and the client's credentials (the backend is the runtime's
// local streaming server, which authorizes by its one-time token).
bool droppedRequestHeader(absl::string_view name) {
  return name == "host" || name == "content-length" || name == "transfer-encoding" ||
         name == "authorization" || name == "proxy-authorization" || name == "expect" ||
         name == "keep-alive" || name == "te" || name == "trailer";
}

// Response headers not copied into the 101 the client gets (the server adds its
// own framing and date).
bool droppedResponseHeader(absl::string_view name) {
  return name == "content-length" || name == "transfer-encoding" || name == "date";
}

class StreamProxy : public std::enable_shared_from_this<StreamProxy> {
 public:
  StreamProxy(core::EventLoop& loop, ExchangePtr exchange, const StreamProxyOptions& options)
      : loop_(loop), exchange_(std::move(exchange)), options_(options) {
    liveSet().insert(this);
  }
  ~StreamProxy() {
    closeAll();
    liveSet().erase(this);
  }

  // Tears everything down; the object goes once the current callback returns.
  void finish() {
    if (state_ == State::kDone) return;
    state_ = State::kDone;
    closeAll();
    if (self_) loop_.post([self = std::move(self_)] {});
  }

  void start(const std::string& url) {
    self_ = shared_from_this();
    std::weak_ptr<StreamProxy> weak = self_;
    exchange_->onClosed([weak] {
      if (auto self = weak.lock()) {
        VLOG(4) << "stream proxy: client went away before the upgrade";
        self->finish();
      }
    });
    auto parsed = parseBackendUrl(url);
    if (!parsed.ok()) {
      failResponse(std::string(parsed.status().message()));
      return;
    }
    backend_ = *std::move(parsed);
    out_ = buildRequest();
    backendFd_ = ::socket(backend_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (backendFd_ < 0) {
      failResponse(absl::StrCat("error dialing backend: socket: ", goErrno(errno)));
      return;
    }
    int rc = ::connect(backendFd_, reinterpret_cast<sockaddr*>(&backend_.addr), backend_.addrLen);
    if (rc != 0 && errno != EINPROGRESS) {
      failResponse(dialError(errno));
      return;
    }
    state_ = State::kConnecting;
    timer_ = loop_.createTimer([this] {
      failResponse(absl::StrCat("error dialing backend: timeout after ",
                                options_.handshakeTimeout.count(), "ms waiting for ",
                                backend_.hostPort));
    });
    timer_->enableTimer(options_.handshakeTimeout);
    backendEvent_ =
        loop_.createFileEvent(backendFd_, core::kWritable, [this](uint32_t ev) { onBackend(ev); });
  }

 private:
  enum class State { kInit, kConnecting, kReadingHead, kReadingBody, kUpgrading, kSplicing, kDone };

  std::string dialError(int err) const {
    return absl::StrCat("error dialing backend: dial tcp ", backend_.hostPort,
                        ": connect: ", goErrno(err));
  }

  std::string buildRequest() const {
    const HttpRequest& req = exchange_->request();
    std::string target = backend_.target;
    std::string out = absl::StrCat(req.method.empty() ? "GET" : req.method, " ", target,
                                   " HTTP/1.1\r\nHost: ", backend_.hostPort, "\r\n");
    for (const auto& [name, value] : req.headers) {
      if (droppedRequestHeader(name) || name == "x-forwarded-for") continue;
      if (name == "x-stream-protocol-version") {
        // The SPDY handshake matches each header line exactly against its protocols,
        // so the repeated header joined by the server is split again.
        for (absl::string_view v : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
          absl::StrAppend(&out, "X-Stream-Protocol-Version: ", absl::StripAsciiWhitespace(v),
                          "\r\n");
        }
        continue;
      }
      absl::StrAppend(&out, canonicalHeader(name), ": ", value, "\r\n");
    }
    // As the kubelet's proxy (utilnet.AppendForwardedForHeader): the client's IP.
    std::string clientIp = req.remoteAddress;
    size_t colon = clientIp.rfind(':');
    if (colon != std::string::npos) clientIp.resize(colon);
    if (clientIp.size() > 2 && clientIp.front() == '[' && clientIp.back() == ']') {
      clientIp = clientIp.substr(1, clientIp.size() - 2);
    }
    auto prior = req.headers.find("x-forwarded-for");
    std::string forwarded = prior == req.headers.end() || prior->second.empty()
                                ? clientIp
                                : absl::StrCat(prior->second, ", ", clientIp);
    if (!forwarded.empty()) absl::StrAppend(&out, "X-Forwarded-For: ", forwarded, "\r\n");
    out += "\r\n";
    return out;
  }

  // An error before any response: answered 500 as the kubelet's responder does.
  void failResponse(const std::string& message) {
    if (state_ == State::kDone) return;
    LOG_WARNING << "Error while proxying request: " << message;
    if (!exchange_->closed()) {
      HttpResponse r;
      r.status = 500;
      r.body = message + "\n";
      exchange_->respond(std::move(r));
    }
    finish();
  }

  void onBackend(uint32_t events) {
    auto keep = shared_from_this();
    switch (state_) {
      case State::kConnecting:
        return onConnected();
      case State::kReadingHead:
      case State::kReadingBody:
        if (!out_.empty()) {
          if (!flushRequest()) return;
          if (!out_.empty()) return;
          backendEvent_->setEnabled(core::kReadable);
        }
        if (events & (core::kReadable | core::kClosed)) readResponse();
        return;
      case State::kSplicing:
        return splice(false, events);
      default:
        return;
    }
  }

  void onConnected() {
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(backendFd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      failResponse(dialError(err));
      return;
    }
    state_ = State::kReadingHead;
    if (!flushRequest()) return;
    backendEvent_->setEnabled(out_.empty() ? core::kReadable : core::kWritable);
  }

  // Writes what it can of the request; false (after answering) on error.
  bool flushRequest() {
    while (!out_.empty()) {
      ssize_t n = ::send(backendFd_, out_.data(), out_.size(), MSG_NOSIGNAL);
      if (n > 0) {
        out_.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n < 0 && errno == EINTR) continue;
      failResponse(absl::StrCat("error sending request: write tcp ", backend_.hostPort, ": ",
                                goErrno(errno)));
      return false;
    }
    return true;
  }

  void readResponse() {
    char buf[16 * 1024];
    while (true) {
      ssize_t n = ::recv(backendFd_, buf, sizeof(buf), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        failResponse(absl::StrCat("error reading backend response: read tcp ", backend_.hostPort,
                                  ": ", goErrno(errno)));
        return;
      }
      if (n == 0) {
        backendEof_ = true;
        break;
      }
      in_.append(buf, static_cast<size_t>(n));
      if (state_ == State::kReadingHead && in_.size() > kMaxHeadBytes + kMaxBodyBytes) break;
      if (state_ == State::kReadingBody && in_.size() > kMaxBodyBytes + 16) break;
    }
    if (state_ == State::kReadingHead) {
      size_t end = in_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (in_.size() > kMaxHeadBytes) {
          failResponse("error reading backend response: header too large");
        } else if (backendEof_) {
          failResponse("error reading backend response: unexpected EOF");
        }
        return;
      }
      auto head = parseHead(absl::string_view(in_).substr(0, end));
      if (!head.ok()) {
        failResponse(absl::StrCat("error reading backend response: ", head.status().message()));
        return;
      }
      head_ = *std::move(head);
      in_.erase(0, end + 4);
      if (head_.status == 101) {
        startUpgrade();
        return;
      }
      state_ = State::kReadingBody;
    }
    if (state_ == State::kReadingBody) tryFinishBody();
  }

  void tryFinishBody() {
    std::optional<std::string> body;
    auto te = head_.get("transfer-encoding");
    auto cl = head_.get("content-length");
    if (head_.status < 200 || head_.status == 204 || head_.status == 304) {
      body = "";
    } else if (te && absl::AsciiStrToLower(*te).find("chunked") != std::string::npos) {
      auto decoded = decodeChunked(in_);
      if (!decoded.ok()) {
        failResponse(absl::StrCat("error reading backend response: ", decoded.status().message()));
        return;
      }
      body = *std::move(decoded);
    } else if (cl) {
      size_t len = 0;
      if (!absl::SimpleAtoi(*cl, &len)) {
        failResponse("error reading backend response: bad Content-Length");
        return;
      }
      len = std::min(len, kMaxBodyBytes);
      if (in_.size() >= len) body = in_.substr(0, len);
    } else if (backendEof_ || in_.size() >= kMaxBodyBytes) {
      body = in_.substr(0, std::min(in_.size(), kMaxBodyBytes));
    }
    if (!body) {
      if (backendEof_ || in_.size() > kMaxBodyBytes + 16) {
        body = in_.substr(0, std::min(in_.size(), kMaxBodyBytes));  // truncated
      } else {
        return;  // wait for more
      }
    }
    if (!exchange_->closed()) {
      HttpResponse r;
      r.status = head_.status;
      auto ct = head_.get("content-type");
      if (ct) r.contentType = *ct;
      if (head_.status == 429) {
        if (auto ra = head_.get("retry-after")) r.headers["Retry-After"] = *ra;
      }
      r.body = *std::move(body);
      exchange_->respond(std::move(r));
    }
    finish();
  }

  void startUpgrade() {
    state_ = State::kUpgrading;
    timer_.reset();
    // Bytes after the head already belong to the upgraded stream.
    b2c_ = std::move(in_);
    in_.clear();
    backendEvent_->setEnabled(0);
    std::map<std::string, std::string> headers;
    for (const auto& [name, value] : head_.headers) {
      if (droppedResponseHeader(name)) continue;
      std::string key = canonicalHeader(name);
      auto [it, inserted] = headers.emplace(key, value);
      if (!inserted) it->second += ", " + value;
    }
    std::weak_ptr<StreamProxy> weak = shared_from_this();
    exchange_->upgrade(headers, [weak](std::unique_ptr<UpgradedConnection> conn) {
      auto self = weak.lock();
      if (!self || self->state_ != State::kUpgrading) return;  // conn closes here
      self->onUpgraded(std::move(conn));
    });
  }

  void onUpgraded(std::unique_ptr<UpgradedConnection> conn) {
    client_ = std::move(conn);
    clientFd_ = client_->fd();
    // The exchange is done with; the connection is ours now.
    exchange_.reset();
    c2b_ = client_->takeInitialData();
    state_ = State::kSplicing;
    clientEvent_ = loop_.createFileEvent(clientFd_, 0, [this](uint32_t ev) { splice(true, ev); });
    VLOG(4) << "stream proxy: upgraded, splicing client fd " << clientFd_ << " and "
            << backend_.hostPort;
    pump();
  }

  // One readiness event on the client (`fromClient`) or backend socket.
  void splice(bool fromClient, uint32_t events) {
    if (state_ != State::kSplicing) return;
    auto keep = shared_from_this();
    if (events & core::kClosed) (fromClient ? clientHup_ : backendHup_) = true;
    pump();
  }

  // Moves every byte it can in both directions, then re-arms the interest sets.
  void pump() {
    if (!transfer(clientFd_, backendFd_, c2b_, clientEof_, backendShut_)) return finish();
    if (!transfer(backendFd_, clientFd_, b2c_, backendEof_, clientShut_)) return finish();
    bool upDone = clientEof_ && backendShut_;
    bool downDone = backendEof_ && clientShut_;
    if (upDone && downDone) {
      VLOG(4) << "stream proxy: both directions done";
      return finish();
    }
    if ((upDone || downDone) && !timer_) {
      // A half-open session gets a while for its other direction, not forever.
      timer_ = loop_.createTimer([this] {
        VLOG(4) << "stream proxy: other direction still open after the half-close timeout";
        finish();
      });
      timer_->enableTimer(options_.halfCloseTimeout);
    }
    arm();
  }

  // Reads `from` into `buf` (bounded) and writes `buf` to `to`; on EOF from `from`
  // with nothing left to write, shuts `to` down for writing. False on error.
  bool transfer(int from, int to, std::string& buf, bool& eof, bool& shut) {
    char tmp[16 * 1024];
    bool progress = true;
    while (progress) {
      progress = false;
      while (!eof && buf.size() < options_.bufferBytes) {
        size_t room = std::min(sizeof(tmp), options_.bufferBytes - buf.size());
        ssize_t n = ::recv(from, tmp, room, 0);
        if (n > 0) {
          buf.append(tmp, static_cast<size_t>(n));
          progress = true;
          continue;
        }
        if (n == 0) {
          eof = true;
          break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        VLOG(4) << "stream proxy: read: " << goErrno(errno);
        return false;
      }
      while (!buf.empty()) {
        ssize_t n = ::send(to, buf.data(), buf.size(), MSG_NOSIGNAL);
        if (n > 0) {
          buf.erase(0, static_cast<size_t>(n));
          progress = true;
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        VLOG(4) << "stream proxy: write: " << goErrno(errno);
        return false;
      }
    }
    if (eof && buf.empty() && !shut) {
      ::shutdown(to, SHUT_WR);
      shut = true;
    }
    return true;
  }

  void arm() {
    uint32_t client = 0;
    uint32_t backend = 0;
    if (!clientEof_ && c2b_.size() < options_.bufferBytes) client |= core::kReadable;
    if (!b2c_.empty()) client |= core::kWritable;
    if (!backendEof_ && b2c_.size() < options_.bufferBytes) backend |= core::kReadable;
    if (!c2b_.empty()) backend |= core::kWritable;
    // A hung-up socket reports readiness forever: listen to it only while reading it.
    if (clientHup_ && !(client & core::kReadable)) client = 0;
    if (backendHup_ && !(backend & core::kReadable)) backend = 0;
    clientEvent_->setEnabled(client);
    backendEvent_->setEnabled(backend);
  }

  void closeAll() {
    timer_.reset();
    // Sources go before their fds, so a reused fd number never meets a stale source.
    clientEvent_.reset();
    backendEvent_.reset();
    client_.reset();
    clientFd_ = -1;
    if (backendFd_ >= 0) ::close(backendFd_);
    backendFd_ = -1;
  }

  core::EventLoop& loop_;
  ExchangePtr exchange_;
  StreamProxyOptions options_;
  std::shared_ptr<StreamProxy> self_;
  State state_ = State::kInit;
  BackendUrl backend_;
  int backendFd_ = -1;
  core::FileEventPtr backendEvent_;
  core::TimerPtr timer_;
  std::string out_;  // request bytes not yet sent
  std::string in_;   // response bytes read, not yet parsed
  ResponseHead head_;

  std::unique_ptr<UpgradedConnection> client_;
  int clientFd_ = -1;
  core::FileEventPtr clientEvent_;
  std::string c2b_;  // client -> backend
  std::string b2c_;  // backend -> client
  bool clientEof_ = false;
  bool backendEof_ = false;
  bool clientShut_ = false;  // client's write side shut down
  bool backendShut_ = false;
  bool clientHup_ = false;
  bool backendHup_ = false;
};

}  // namespace

void proxyUpgrade(core::EventLoop& loop, ExchangePtr exchange, const std::string& url,
                  const StreamProxyOptions& options) {
  auto proxy = std::make_shared<StreamProxy>(loop, std::move(exchange), options);
  proxy->start(url);
}

bool isUpgradeRequest(const HttpRequest& request) {
  auto it = request.headers.find("connection");
  if (it == request.headers.end()) return false;
  for (absl::string_view token : absl::StrSplit(it->second, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token), "upgrade")) return true;
  }
  return false;
}

size_t liveStreamProxies() { return liveSet().size(); }

void closeStreamProxies() {
  std::vector<StreamProxy*> all(liveSet().begin(), liveSet().end());
  for (StreamProxy* p : all) p->finish();
}

}  // namespace agent::server

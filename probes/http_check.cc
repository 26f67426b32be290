#include "probes/http_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/log.h"
#include "probes/dial_check.h"
#include "probes/http_check_parser.h"
#include "probes/http_check_request.h"

namespace probes {

namespace {

// Go's http.Client wording when its Timeout passes before, and after, the headers.
constexpr char kTimeoutAwaitingHeaders[] =
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
constexpr char kTimeoutReadingBody[] =
    "context deadline exceeded (Client.Timeout or context cancellation while reading body)";
constexpr int kMaxRedirects = 10;

std::string errnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && std::isupper(static_cast<unsigned char>(s[0])))
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string sockaddrText(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    return joinHostPort(buf, ntohs(v4->sin_port));
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&sa);
  inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
  return joinHostPort(buf, ntohs(v6->sin6_port));
}

bool isRedirect(int code) {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

std::string opensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "handshake failure";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "error " + std::to_string(e);
}

class HttpCheck : public PendingCheck {
 public:
  HttpCheck(core::EventLoop& loop, const HttpGetSpec& spec, core::Duration timeout, CheckDone done)
      : loop_(loop), headers_(spec.headers), done_(std::move(done)) {
    url_ = probeUrl(spec.scheme, spec.host, spec.port, spec.path);
    originalHostname_ = url_.hostname;
    for (const auto& [name, value] : headers_) {
      if (iequals(name, "Host")) {
        hostHeader_ = value;
        break;
      }
    }
    deadline_ = loop_.createTimer([this] { onDeadline(); });
    deadline_->enableTimer(timeout);
    deferred_ = loop_.createTimer([this] { finish(std::exchange(deferredResult_, {})); });
    startHop();
  }
  ~HttpCheck() override { closeConnection(); }

 private:
  enum class Phase { kDial, kHandshake, kWrite, kRead };
  enum class Io { kDone, kWantRead, kWantWrite, kEof, kError };

  void startHop() {
    if (url_.scheme != "http" && url_.scheme != "https") {
      deferredResult_ = {Outcome::kFailure,
                         requestError("unsupported protocol scheme " + goQuote(url_.scheme)), 0};
      deferred_->enableTimer(core::Duration::zero());
      return;
    }
    phase_ = Phase::kDial;
    parser_ = std::make_unique<HttpResponseParser>();
    dialer_ = Dialer::start(loop_, url_.hostname, url_.port,
                            [this](DialResult r) { onDialed(std::move(r)); });
  }

  void onDialed(DialResult r) {
    if (r.fd < 0) {
      finish({Outcome::kFailure, requestError(r.error), 0});
      return;
    }
    fd_ = r.fd;
    sockaddr_storage local{}, peer{};
    socklen_t len = sizeof(local);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
    len = sizeof(peer);
    getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &len);
    connText_ = "tcp " + sockaddrText(local) + "->" + sockaddrText(peer);
    request_ = buildProbeRequest(url_, headers_, hostHeader_, referer_);
    written_ = 0;
    if (url_.scheme == "https" && !setUpTls()) return;
    phase_ = ssl_ != nullptr ? Phase::kHandshake : Phase::kWrite;
    io_ = loop_.createFileEvent(fd_, core::kWritable, [this](uint32_t) { drive(); });
  }

  bool setUpTls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ != nullptr) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // as the kubelet: InsecureSkipVerify
      SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
      SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
      ssl_ = SSL_new(ctx_);
    }
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      finish({Outcome::kFailure, requestError("tls: " + opensslError()), 0});
      return false;
    }
    SSL_set_connect_state(ssl_);
    if (!isIpLiteral(url_.hostname)) SSL_set_tlsext_host_name(ssl_, url_.hostname.c_str());
    return true;
  }

  // Advances the exchange as far as the socket allows, then waits for it again.
  void drive() {
    while (true) {
      Io io = Io::kDone;
      switch (phase_) {
        case Phase::kDial:
          return;
        case Phase::kHandshake:
          io = handshake();
          if (io == Io::kDone) phase_ = Phase::kWrite;
          break;
        case Phase::kWrite:
          io = write();
          if (io == Io::kDone) phase_ = Phase::kRead;
          break;
        case Phase::kRead:
          io = read();
          if (io == Io::kDone) {
            onResponse();
            return;
          }
          break;
      }
      if (io == Io::kError) return;  // finished
      if (io == Io::kWantRead || io == Io::kWantWrite) {
        io_->setEnabled(io == Io::kWantRead ? core::kReadable : core::kWritable);
        return;
      }
    }
  }

  // Maps an OpenSSL result; records the error and finishes on failure.
  Io sslResult(int rc, bool reading) {
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) return Io::kWantRead;
    if (err == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
    if (err == SSL_ERROR_ZERO_RETURN) return Io::kEof;
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
      int e = errno;
      ERR_clear_error();
      return ioFailed(reading ? "read " + connText_ + ": read: " + errnoText(e)
                              : "write " + connText_ + ": write: " + errnoText(e));
    }
    if (err == SSL_ERROR_SYSCALL) return Io::kEof;
    return ioFailed((phase_ == Phase::kHandshake ? "tls: " : "local error: tls: ") +
                    opensslError());
  }

  Io handshake() {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(ssl_);
    if (rc == 1) return Io::kDone;
    Io io = sslResult(rc, true);
    if (io == Io::kEof) return ioFailed("EOF");
    return io;
  }

  Io write() {
    while (written_ < request_.size()) {
      const char* p = request_.data() + written_;
      size_t n = request_.size() - written_;
      ssize_t rc;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        errno = 0;
        rc = SSL_write(ssl_, p, static_cast<int>(n));
        if (rc <= 0) {
          Io io = sslResult(static_cast<int>(rc), false);
          return io == Io::kEof ? ioFailed("EOF") : io;
        }
      } else {
        rc = send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::kWantWrite;
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return ioFailed("write " + connText_ + ": write: " + errnoText(errno));
      }
      written_ += static_cast<size_t>(rc);
    }
    return Io::kDone;
  }

  Io read() {
    char buf[16 * 1024];
    while (true) {
      ssize_t rc;
      Io io = Io::kDone;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        errno = 0;
        rc = SSL_read(ssl_, buf, sizeof(buf));
        if (rc <= 0) io = sslResult(static_cast<int>(rc), true);
      } else {
        rc = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
        if (rc == 0) io = Io::kEof;
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) io = Io::kWantRead;
        if (rc < 0 && io != Io::kWantRead)
          return ioFailed("read " + connText_ + ": read: " + errnoText(errno));
      }
      if (io == Io::kWantRead || io == Io::kWantWrite || io == Io::kError) return io;
      HttpResponseParser::State st =
          io == Io::kEof ? parser_->finish() : parser_->feed({buf, static_cast<size_t>(rc)});
      if (st == HttpResponseParser::State::kDone) return Io::kDone;
      if (st == HttpResponseParser::State::kError) return ioFailed(parser_->error());
    }
  }

  // An error on the connection: before the headers the request failed (a probe
  // failure, as client.Do's error is); while reading the body the kubelet's
  // prober errors (its result is thrown away).
  Io ioFailed(const std::string& error) {
    if (parser_ != nullptr && parser_->headersDone()) {
      finish({Outcome::kError, error, parser_->response().status});
    } else {
      finish({Outcome::kFailure, requestError(error), 0});
    }
    return Io::kError;
  }

  void onResponse() {
    HttpResponse& resp = parser_->response();
    std::string location = resp.header("Location");
    if (isRedirect(resp.status) && !location.empty()) {
      std::string error;
      std::optional<HttpUrl> next = resolveLocation(url_, location, error);
      if (!next) {
        finish({Outcome::kFailure, "Get " + goQuote(location) + ": " + error, 0});
        return;
      }
      // The kubelet's redirectChecker: another host ends the chain with this
      // response; the same host is followed up to 10 times.
      if (next->hostname == originalHostname_) {
        if (redirects_ >= kMaxRedirects) {
          finish({Outcome::kFailure, "Get " + goQuote(next->str()) + ": stopped after 10 redirects",
                  0});
          return;
        }
        ++redirects_;
        // Go's client: a custom Host survives only a relative Location, and the
        // Referer is not sent from https to http.
        bool absolute = location.find("://") != std::string::npos;
        if (absolute) hostHeader_.clear();
        referer_ = url_.scheme == "https" && next->scheme == "http" ? "" : url_.str();
        url_ = *next;
        closeConnection();
        startHop();
        return;
      }
    }
    int code = resp.status;
    CheckResult result{Outcome::kFailure,
                       "HTTP probe failed with statuscode: " + std::to_string(code), code};
    if (code >= 200 && code < 300) {
      result = {Outcome::kSuccess, std::move(resp.body), code};
    } else if (code >= 300 && code < 400) {
      result = {Outcome::kWarning, "Probe terminated redirects, Response body: " + resp.body, code};
    }
    finish(std::move(result));
  }

  void onDeadline() {
    if (parser_ != nullptr && parser_->headersDone()) {
      finish({Outcome::kError, kTimeoutReadingBody, parser_->response().status});
    } else {
      finish({Outcome::kFailure, requestError(kTimeoutAwaitingHeaders), 0});
    }
  }

  std::string requestError(const std::string& error) const {
    return "Get " + goQuote(url_.str()) + ": " + error;
  }

  void closeConnection() {
    dialer_.reset();
    io_.reset();
    if (ssl_ != nullptr) SSL_free(std::exchange(ssl_, nullptr));
    if (ctx_ != nullptr) SSL_CTX_free(std::exchange(ctx_, nullptr));
    if (fd_ >= 0) close(std::exchange(fd_, -1));
  }

  // `done` may destroy this: everything is released before it is called.
  void finish(CheckResult result) {
    closeConnection();
    deadline_.reset();
    deferred_.reset();
    VLOG(4) << "HTTP probe " << url_.str() << ": " << result.output;
    CheckDone done = std::move(done_);
    done(std::move(result));
  }

  core::EventLoop& loop_;
  std::vector<std::pair<std::string, std::string>> headers_;
  CheckDone done_;
  HttpUrl url_;
  std::string originalHostname_;
  std::string hostHeader_;
  std::string referer_;
  int redirects_ = 0;
  core::TimerPtr deadline_;
  core::TimerPtr deferred_;
  CheckResult deferredResult_;
  Phase phase_ = Phase::kDial;
  std::unique_ptr<Dialer> dialer_;
  int fd_ = -1;
  std::string connText_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  core::FileEventPtr io_;
  std::string request_;
  size_t written_ = 0;
  std::unique_ptr<HttpResponseParser> parser_;
};

}  // namespace

PendingCheckPtr httpGet(core::EventLoop& loop, const HttpGetSpec& spec, core::Duration timeout,
                        CheckDone done) {
  return std::make_unique<HttpCheck>(loop, spec, timeout, std::move(done));
}

}  // namespace probes

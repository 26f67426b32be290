#include "tests/fakeapi/kubelet_conn.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cubelet::fakeapi {

namespace {

std::string lowerFirst(std::string s) {
  if (!s.empty()) s[0] = absl::ascii_tolower(s[0]);
  return s;
}

}  // namespace

std::string sslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return what + ": " + buf;
}

std::string hostPort(const std::string& host, int port) {
  return absl::StrContains(host, ':') ? absl::StrCat("[", host, "]:", port)
                                      : absl::StrCat(host, ":", port);
}

bool isUpgradeRequest(const HttpRequest& req) {
  for (const auto& [name, value] : req.headerList) {
    if (!absl::EqualsIgnoreCase(name, "connection")) continue;
    for (absl::string_view token : absl::StrSplit(value, ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token), "upgrade")) return true;
    }
  }
  return false;
}

bool hopByHop(const std::string& name) {
  for (const char* h : {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}) {
    if (absl::EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

// One TLS connection to a kubelet.

// Reads and parses the response head; the bytes after it stay in b.buf().
absl::StatusOr<ResponseHead> readResponseHead(KubeletConn& b) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kKubeletHeadTimeoutMs);
  size_t pos;
  while ((pos = b.buf().find("\r\n\r\n")) == std::string::npos) {
    if (b.buf().size() > kKubeletMaxHeadBytes)
      return absl::InternalError("response head too large");
    int r = b.fill(200);
    if (r == 0) return absl::UnavailableError("EOF before the response head");
    if (r < 0 && std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError("timeout awaiting response headers");
    }
  }
  std::string head = b.buf().substr(0, pos);
  b.buf().erase(0, pos + 4);
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  ResponseHead h;
  h.statusLine = lines[0];
  std::vector<std::string> first = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (first.size() < 2 || !absl::StartsWith(first[0], "HTTP/1.") ||
      !absl::SimpleAtoi(first[1], &h.code)) {
    return absl::InternalError("malformed HTTP response: " + lines[0]);
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) return absl::InternalError("malformed header: " + lines[i]);
    h.headers.emplace_back(lines[i].substr(0, colon),
                           std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return h;
}

// Reads the body of `h`, handing each piece to `sink` as it arrives (false from sink
// stops). Polls `cancelled` while waiting. True when the body ended as framed.
bool readBody(KubeletConn& b, const ResponseHead& h, bool headRequest,
              const std::function<bool(const std::string&)>& sink,
              const std::function<bool()>& cancelled) {
  if (headRequest || h.code == 204 || h.code == 304 || h.code < 200) return true;
  std::string& buf = b.buf();
  // More bytes: false on EOF/error/cancel.
  auto more = [&]() {
    while (true) {
      int r = b.fill(200);
      if (r > 0) return true;
      if (r == 0 || cancelled()) return false;
    }
  };
  if (absl::StrContains(absl::AsciiStrToLower(h.header("transfer-encoding")), "chunked")) {
    while (true) {
      size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos) {
        if (!more()) return false;
      }
      size_t n = 0;
      if (!absl::SimpleHexAtoi(buf.substr(0, std::min(eol, buf.find(';'))), &n)) return false;
      buf.erase(0, eol + 2);
      if (n == 0) {
        // Trailers, up to the empty line.
        while (true) {
          while ((eol = buf.find("\r\n")) == std::string::npos) {
            if (!more()) return true;
          }
          buf.erase(0, eol + 2);
          if (eol == 0) return true;
        }
      }
      while (buf.size() < n + 2) {
        if (!more()) return false;
      }
      if (!sink(buf.substr(0, n))) return false;
      buf.erase(0, n + 2);
    }
  }
  const std::string cl = h.header("content-length");
  if (!cl.empty()) {
    size_t remaining = 0;
    if (!absl::SimpleAtoi(cl, &remaining)) return false;
    while (remaining > 0) {
      if (buf.empty() && !more()) return false;
      size_t take = std::min(remaining, buf.size());
      if (!sink(buf.substr(0, take))) return false;
      buf.erase(0, take);
      remaining -= take;
    }
    return true;
  }
  while (true) {  // until EOF
    if (!buf.empty()) {
      if (!sink(buf)) return false;
      buf.clear();
    }
    int r;
    while ((r = b.fill(200)) < 0) {
      if (cancelled()) return false;
    }
    if (r == 0) return true;
  }
}

// Copies bytes both ways between two TLS sessions on non-blocking sockets until
// either side closes or fails (upgradeaware's "one half exited" rule), first
// delivering `toB` to b and `toA` to a.
void pump(SSL* aSsl, int aFd, SSL* bSsl, int bFd, std::string toB, std::string toA) {
  struct Side {
    SSL* ssl;
    int fd;
    bool eof = false;
    short events = 0;  // what the last SSL call on it waits for
  };
  Side side[2] = {{aSsl, aFd}, {bSsl, bFd}};
  std::string pending[2] = {std::move(toB), std::move(toA)};  // [0]: a->b, [1]: b->a
  for (Side& s : side) {
    ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    SSL_set_mode(s.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  auto wants = [](SSL* ssl, int n) -> short {
    switch (SSL_get_error(ssl, n)) {
      case SSL_ERROR_WANT_READ:
        return POLLIN;
      case SSL_ERROR_WANT_WRITE:
        return POLLOUT;
      default:
        return -1;  // closed or failed
    }
  };
  char tmp[16384];
  while (true) {
    bool progress = false, failed = false;
    for (Side& s : side) s.events = 0;
    for (int dir = 0; dir < 2 && !failed; ++dir) {
      Side& src = side[dir];
      Side& dst = side[1 - dir];
      std::string& buf = pending[dir];
      if (!buf.empty()) {
        ERR_clear_error();
        int n =
            SSL_write(dst.ssl, buf.data(), static_cast<int>(std::min<size_t>(buf.size(), 16384)));
        if (n > 0) {
          buf.erase(0, n);
          progress = true;
        } else {
          short w = wants(dst.ssl, n);
          if (w < 0) {
            failed = true;
            break;
          }
          dst.events |= w;
        }
      }
      if (!src.eof && buf.size() < kKubeletPumpBuffer) {
        ERR_clear_error();
        int n = SSL_read(src.ssl, tmp, sizeof tmp);
        if (n > 0) {
          buf.append(tmp, n);
          progress = true;
        } else {
          short w = wants(src.ssl, n);
          if (w < 0) {
            src.eof = true;
            progress = true;
          } else {
            src.events |= w;
          }
        }
      }
    }
    if (failed) break;
    if ((side[0].eof && pending[0].empty()) || (side[1].eof && pending[1].empty())) break;
    if (progress) continue;
    pollfd fds[2] = {{side[0].fd, side[0].events, 0}, {side[1].fd, side[1].events, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) break;
  }
  for (Side& s : side) {
    ERR_clear_error();
    SSL_shutdown(s.ssl);  // best effort: non-blocking, one try
  }
  ERR_clear_error();
}

SSL_CTX* makeClientContext(const CertKeyPem& cert, const std::string& caPem, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new failed";
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!useCertKey(ctx, cert)) {
    *error = "kubelet client certificate/key";
    SSL_CTX_free(ctx);
    return nullptr;
  }
  if (caPem.empty()) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  BIO* bio = BIO_new_mem_buf(caPem.data(), static_cast<int>(caPem.size()));
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    ++added;
  }
  BIO_free(bio);
  ERR_clear_error();
  if (added == 0) {
    *error = "kubelet certificate authority: no PEM certificate";
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

absl::StatusOr<std::unique_ptr<KubeletConn>> KubeletConn::dial(SSL_CTX* ctx,
                                                               const std::string& host, int port) {
  const std::string hp = hostPort(host, port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("dial tcp: lookup ", host, ": ", lowerFirst(gai_strerror(rc))));
  }
  auto b = std::make_unique<KubeletConn>();
  std::string err = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      r = ::poll(&p, 1, kKubeletConnectTimeoutMs);
      if (r == 0) {
        errno = ETIMEDOUT;
        r = -1;
      } else if (r > 0) {
        int soErr = 0;
        socklen_t len = sizeof soErr;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soErr, &len);
        errno = soErr;
        r = soErr == 0 ? 0 : -1;
      }
    }
    if (r == 0) {
      b->fd_ = fd;
      break;
    }
    err = lowerFirst(std::strerror(errno));
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (b->fd_ < 0) return absl::UnavailableError("dial tcp " + hp + ": connect: " + err);
  // Blocking from here, with timeouts so a silent kubelet cannot hang a thread.
  ::fcntl(b->fd_, F_SETFL, ::fcntl(b->fd_, F_GETFL) & ~O_NONBLOCK);
  timeval tv{kKubeletHeadTimeoutMs / 1000, 0};
  ::setsockopt(b->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(b->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  b->ssl_ = SSL_new(ctx);
  SSL_set_fd(b->ssl_, b->fd_);
  SSL_set_mode(b->ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_get_verify_mode(ctx) != SSL_VERIFY_NONE) {
    X509_VERIFY_PARAM* param = SSL_get0_param(b->ssl_);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
      SSL_set1_host(b->ssl_, host.c_str());
    SSL_set_tlsext_host_name(b->ssl_, host.c_str());
  }
  if (SSL_connect(b->ssl_) != 1) {
    long verify = SSL_get_verify_result(b->ssl_);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return absl::UnavailableError(absl::StrCat("tls: failed to verify certificate of ", hp, ": ",
                                                 X509_verify_cert_error_string(verify)));
    }
    return absl::UnavailableError(sslError("tls handshake with " + hp));
  }
  return b;
}

bool KubeletConn::writeAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

int KubeletConn::fill(int timeoutMs) {
  if (SSL_pending(ssl_) == 0) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeoutMs);
    if (r == 0 || (r < 0 && errno == EINTR)) return -1;
    if (r < 0) return 0;
  }
  char tmp[16384];
  int n = SSL_read(ssl_, tmp, sizeof tmp);
  if (n <= 0) return 0;
  buf_.append(tmp, n);
  return 1;
}

}  // namespace cubelet::fakeapi

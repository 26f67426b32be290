#include "tests/support/websocket_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cubelet::testing {
namespace {

std::string base64(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string acceptFor(const std::string& key) {
  std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return base64(digest, sizeof(digest));
}

absl::Status errnoError(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

WebSocketClient::~WebSocketClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<WebSocketClient>> WebSocketClient::connect(
    const WebSocketOptions& options) {
  std::unique_ptr<WebSocketClient> c(new WebSocketClient());
  in6_addr v6{};
  bool ipv6 = inet_pton(AF_INET6, options.host.c_str(), &v6) == 1;
  c->fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return errnoError("socket");
  timeval tv{};
  tv.tv_sec = options.timeout.count() / 1000;
  tv.tv_usec = (options.timeout.count() % 1000) * 1000;
  setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int rc;
  if (ipv6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(options.port));
    sa.sin6_addr = v6;
    rc = ::connect(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(options.port));
    if (inet_pton(AF_INET, options.host.c_str(), &sa.sin_addr) != 1) {
      return absl::InvalidArgumentError("websocket client: host must be an IP: " + options.host);
    }
    rc = ::connect(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc != 0) return errnoError(absl::StrCat("connect ", options.host, ":", options.port));

  if (options.tls) {
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    if (c->ctx_ == nullptr) return absl::InternalError("SSL_CTX_new failed");
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_NONE, nullptr);
    c->ssl_ = SSL_new(c->ctx_);
    SSL_set_fd(c->ssl_, c->fd_);
    if (SSL_connect(c->ssl_) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof(err));
      return absl::UnavailableError(absl::StrCat("TLS handshake: ", err));
    }
  }

  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof(nonce));
  std::string key = base64(nonce, sizeof(nonce));
  std::string req = absl::StrCat(options.method, " ", options.target,
                                 " HTTP/1.1\r\nHost: ", options.host, ":", options.port,
                                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
                                 key, "\r\n");
  if (!options.protocols.empty()) {
    absl::StrAppend(&req, "Sec-WebSocket-Protocol: ", absl::StrJoin(options.protocols, ", "),
                    "\r\n");
  }
  for (const auto& [k, v] : options.headers) absl::StrAppend(&req, k, ": ", v, "\r\n");
  req += "\r\n";
  if (auto s = c->writeAll(req.data(), req.size()); !s.ok()) return s;

  // The response head.
  std::string in;
  size_t end;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    char buf[4096];
    auto n = c->readSome(buf, sizeof(buf));
    if (!n.ok()) return n.status();
    if (*n == 0) {
      return absl::UnavailableError(
          absl::StrCat("EOF before the response head; got \"", absl::CEscape(in), "\""));
    }
    in.append(buf, *n);
  }
  std::vector<std::string> lines = absl::StrSplit(in.substr(0, end), "\r\n");
  std::vector<std::string> statusParts = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (statusParts.size() < 2 || !absl::SimpleAtoi(statusParts[1], &c->status_)) {
    return absl::DataLossError("bad status line: " + lines[0]);
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    auto [it, inserted] = c->headers_.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  c->pending_ = in.substr(end + 4);
  if (c->status_ != 101) {
    // The refusal's body: Content-Length, chunked (decoded simply) or to EOF.
    auto cl = c->headers_.find("content-length");
    size_t want = 0;
    bool haveLen = cl != c->headers_.end() && absl::SimpleAtoi(cl->second, &want);
    auto te = c->headers_.find("transfer-encoding");
    bool chunked = te != c->headers_.end() && te->second == "chunked";
    std::string body = std::move(c->pending_);
    c->pending_.clear();
    while (true) {
      if (haveLen && body.size() >= want) break;
      if (chunked && body.find("\r\n0\r\n\r\n") != std::string::npos) break;
      if (chunked && body.rfind("0\r\n\r\n", 0) == 0) break;
      char buf[4096];
      auto n = c->readSome(buf, sizeof(buf));
      if (!n.ok() || *n == 0) break;
      body.append(buf, *n);
    }
    if (chunked) {
      std::string decoded;
      absl::string_view rest = body;
      while (true) {
        size_t eol = rest.find("\r\n");
        if (eol == absl::string_view::npos) break;
        size_t len = 0;
        if (!absl::SimpleHexAtoi(rest.substr(0, eol), &len) || len == 0) break;
        rest.remove_prefix(eol + 2);
        if (rest.size() < len) break;
        decoded.append(rest.data(), len);
        rest.remove_prefix(std::min(rest.size(), len + 2));
      }
      body = decoded;
    } else if (haveLen) {
      body.resize(std::min(body.size(), want));
    }
    c->body_ = std::move(body);
    return c;
  }
  auto accept = c->headers_.find("sec-websocket-accept");
  if (accept == c->headers_.end() || accept->second != acceptFor(key)) {
    return absl::DataLossError("101 without a valid Sec-WebSocket-Accept");
  }
  c->upgraded_ = true;
  return c;
}

std::string WebSocketClient::protocol() const {
  auto it = headers_.find("sec-websocket-protocol");
  return it == headers_.end() ? "" : it->second;
}

absl::Status WebSocketClient::writeAll(const char* data, size_t len) {
  while (len > 0) {
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, data, static_cast<int>(len));
      if (n <= 0) return absl::UnavailableError("TLS write failed");
    } else {
      n = ::send(fd_, data, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return errnoError("send");
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> WebSocketClient::readSome(char* data, size_t len) {
  if (!pending_.empty()) {
    size_t n = std::min(len, pending_.size());
    memcpy(data, pending_.data(), n);
    pending_.erase(0, n);
    return n;
  }
  while (true) {
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, data, static_cast<int>(len));
      if (n > 0) return static_cast<size_t>(n);
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET)) return 0;
      return absl::DeadlineExceededError("TLS read failed or timed out");
    }
    ssize_t n = ::recv(fd_, data, len, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError("websocket read timed out");
    }
    return errnoError("recv");
  }
}

absl::Status WebSocketClient::readExact(char* data, size_t len) {
  while (len > 0) {
    auto n = readSome(data, len);
    if (!n.ok()) return n.status();
    if (*n == 0) {
      eof_ = true;
      return absl::OutOfRangeError("websocket: EOF");
    }
    data += *n;
    len -= *n;
  }
  return absl::OkStatus();
}

absl::Status WebSocketClient::send(Opcode opcode, const std::string& payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  size_t len = payload.size();
  if (len < 126) {
    frame.push_back(static_cast<char>(0x80 | len));
  } else if (len <= 0xffff) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(len >> 8));
    frame.push_back(static_cast<char>(len & 0xff));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  }
  unsigned char mask[4];
  RAND_bytes(mask, sizeof(mask));
  frame.append(reinterpret_cast<char*>(mask), 4);
  for (size_t i = 0; i < len; ++i) {
    frame.push_back(static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4])));
  }
  return writeAll(frame.data(), frame.size());
}

absl::Status WebSocketClient::sendChannel(uint8_t channel, const std::string& data) {
  return sendBinary(std::string(1, static_cast<char>(channel)) + data);
}

absl::StatusOr<WebSocketClient::Message> WebSocketClient::receive() {
  Message msg;
  bool started = false;
  while (true) {
    unsigned char hdr[2];
    if (auto s = readExact(reinterpret_cast<char*>(hdr), 2); !s.ok()) return s;
    bool fin = hdr[0] & 0x80;
    uint8_t opcode = hdr[0] & 0x0f;
    bool masked = hdr[1] & 0x80;
    uint64_t len = hdr[1] & 0x7f;
    if (len == 126) {
      unsigned char ext[2];
      if (auto s = readExact(reinterpret_cast<char*>(ext), 2); !s.ok()) return s;
      len = (uint64_t{ext[0]} << 8) | ext[1];
    } else if (len == 127) {
      unsigned char ext[8];
      if (auto s = readExact(reinterpret_cast<char*>(ext), 8); !s.ok()) return s;
      len = 0;
      for (unsigned char b : ext) len = (len << 8) | b;
    }
    if (len > (64u << 20)) return absl::DataLossError("websocket: frame too large");
    unsigned char mask[4] = {0, 0, 0, 0};
    if (masked) {
      if (auto s = readExact(reinterpret_cast<char*>(mask), 4); !s.ok()) return s;
    }
    std::string payload(len, '\0');
    if (len > 0) {
      if (auto s = readExact(payload.data(), len); !s.ok()) return s;
    }
    if (masked) {
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= static_cast<char>(mask[i % 4]);
    }
    if (opcode == kPing) {
      if (auto s = send(kPong, payload); !s.ok()) return s;
      continue;
    }
    if (opcode == kPong) continue;
    if (opcode == kClose) {
      msg.opcode = kClose;
      msg.payload = std::move(payload);
      return msg;
    }
    if (opcode != 0) {
      msg.opcode = opcode;
      started = true;
    } else if (!started) {
      return absl::DataLossError("websocket: continuation without a start");
    }
    msg.payload += payload;
    if (fin) return msg;
  }
}

absl::Status WebSocketClient::close() { return send(kClose, std::string("\x03\xe8", 2)); }

void WebSocketClient::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

absl::StatusOr<WebSocketClient::Channels> WebSocketClient::readChannels() {
  Channels out;
  while (true) {
    auto msg = receive();
    if (!msg.ok()) {
      if (eof_) {
        out.closed = true;
        return out;
      }
      return msg.status();
    }
    if (msg->opcode == kClose) {
      out.closed = true;
      return out;
    }
    if (msg->payload.empty()) continue;
    int channel = static_cast<unsigned char>(msg->payload[0]);
    out.data[channel] += msg->payload.substr(1);
  }
}

}  // namespace cubelet::testing

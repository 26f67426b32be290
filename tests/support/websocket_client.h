// A minimal blocking WebSocket client (RFC 6455) for tests: the opening handshake
// with a random Sec-WebSocket-Key (and its Sec-WebSocket-Accept checked), masked
// client frames, binary/text/close/ping messages, over plain TCP or TLS
// (OpenSSL). Every wait is bounded by the options' timeout.
//
// The Kubernetes channel protocols (channel.k8s.io, v4.channel.k8s.io) put one
// channel byte before each binary message's payload: 0 stdin, 1 stdout, 2 stderr,
// 3 error (v4: a JSON metav1.Status at the end), 4 resize. readChannels() collects
// them until the server closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace cubelet::testing {

struct WebSocketOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string target = "/";  // path?query, escaped
  std::string method = "GET";
  std::vector<std::string> protocols;          // Sec-WebSocket-Protocol offers
  std::map<std::string, std::string> headers;  // extra request headers
  bool tls = false;                            // no certificate verification
  std::chrono::milliseconds timeout{10'000};
};

class WebSocketClient {
 public:
  enum Opcode : uint8_t { kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };
  struct Message {
    uint8_t opcode = 0;
    std::string payload;
  };

  // Connects and sends the handshake. Returns a client whenever an HTTP response
  // came back: upgraded() says whether it was a valid 101; otherwise status() and
  // body() are the refusal. Errors are connection/TLS/protocol failures.
  static absl::StatusOr<std::unique_ptr<WebSocketClient>> connect(const WebSocketOptions& options);
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  bool upgraded() const { return upgraded_; }
  int status() const { return status_; }
  // Response headers, names lower-cased; repeats joined with ", ".
  const std::map<std::string, std::string>& headers() const { return headers_; }
  const std::string& body() const { return body_; }
  std::string protocol() const;  // the negotiated subprotocol

  absl::Status send(Opcode opcode, const std::string& payload);
  absl::Status sendBinary(const std::string& payload) { return send(kBinary, payload); }
  // A binary message on a k8s channel: the channel byte, then `data`.
  absl::Status sendChannel(uint8_t channel, const std::string& data);
  // The next data/close message (pings are answered, pongs skipped). A close
  // message comes back with opcode kClose; after it, or after EOF, errors.
  absl::StatusOr<Message> receive();
  // Sends a close frame (code 1000) without waiting for the answer.
  absl::Status close();
  // shutdown(SHUT_WR) on the socket (plain TCP only).
  void shutdownWrite();

  struct Channels {
    std::map<int, std::string> data;  // channel -> bytes, in order
    bool closed = false;              // a close frame or EOF ended it
  };
  // Reads binary messages until the server closes (or the timeout), sorting the
  // payloads by their channel byte. Empty payloads are skipped.
  absl::StatusOr<Channels> readChannels();

 private:
  WebSocketClient() = default;
  absl::Status writeAll(const char* data, size_t len);
  // Reads up to `len` bytes (at least 1); 0 on EOF.
  absl::StatusOr<size_t> readSome(char* data, size_t len);
  absl::Status readExact(char* data, size_t len);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool upgraded_ = false;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  std::string body_;
  std::string pending_;  // bytes read past the handshake
  bool eof_ = false;
};

}  // namespace cubelet::testing

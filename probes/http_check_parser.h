// The HTTP check's response side: an incremental HTTP/1.1 response parser
// (status line, headers, a body by Content-Length, chunked or until close, kept
// to the first 10 KiB as the kubelet keeps it). Pure, for testing on its own.
// Errors are worded as Go's net/http words them, since probe output quotes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/go_quote.h"

namespace probes {

// The kubelet reads at most this much of a probe's response body (maxRespBodyLength).
inline constexpr size_t kMaxProbeBodyBytes = 10 * 1024;

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool truncated = false;  // the body went on past the limit
  // The first value of a header, compared case-insensitively; "" when absent.
  std::string header(std::string_view name) const;
};

class HttpResponseParser {
 public:
  enum class State { kHeaders, kBody, kDone, kError };
  explicit HttpResponseParser(size_t maxBody = kMaxProbeBodyBytes) : maxBody_(maxBody) {}

  // Consumes received bytes. Bytes after the response are ignored.
  State feed(std::string_view data);
  // The peer closed the connection (EOF).
  State finish();

  State state() const { return state_; }
  // True once the status line and headers are in: an error after that is an
  // error reading the body (the kubelet treats those differently).
  bool headersDone() const { return headersDone_; }
  // Go-like: "EOF", "unexpected EOF", `malformed HTTP response "..."`.
  const std::string& error() const { return error_; }
  HttpResponse& response() { return response_; }

 private:
  enum class BodyMode { kNone, kLength, kChunked, kUntilClose };
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer };

  State fail(std::string error);
  bool parseStatusLine(std::string_view line);
  bool parseHeaderLine(std::string_view line);
  void headersComplete();
  void parse();
  void parseChunked();
  void appendBody(std::string_view data);

  size_t maxBody_;
  State state_ = State::kHeaders;
  bool headersDone_ = false;
  bool sawAnyByte_ = false;
  bool sawStatusLine_ = false;
  size_t headerBytes_ = 0;
  std::string buf_;
  BodyMode mode_ = BodyMode::kNone;
  uint64_t remaining_ = 0;  // kLength: bytes left; kChunked: bytes left in the chunk
  ChunkState chunk_ = ChunkState::kSize;
  std::string error_;
  HttpResponse response_;
};

using core::goQuote;  // Go's %q, for messages in Go's words

}  // namespace probes

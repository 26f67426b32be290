#include "probes/http_check_parser.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace probes {

namespace {

// Go's http.Transport default for MaxResponseHeaderBytes.
constexpr size_t kMaxHeaderBytes = 10 << 20;
constexpr size_t kMaxChunkLine = 4096;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "HTTP/<digits>.<digits>"
bool validVersion(std::string_view v) {
  if (v.substr(0, 5) != "HTTP/") return false;
  v.remove_prefix(5);
  size_t dot = v.find('.');
  return dot != std::string_view::npos && allDigits(v.substr(0, dot)) &&
         allDigits(v.substr(dot + 1));
}

// Takes one line (without its "\n" or "\r\n") off the front of `buf`.
std::optional<std::string> takeLine(std::string& buf) {
  size_t nl = buf.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buf.substr(0, nl);
  buf.erase(0, nl + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) return v;
  }
  return "";
}

HttpResponseParser::State HttpResponseParser::fail(std::string error) {
  error_ = std::move(error);
  state_ = State::kError;
  return state_;
}

HttpResponseParser::State HttpResponseParser::feed(std::string_view data) {
  if (state_ == State::kDone || state_ == State::kError || data.empty()) return state_;
  sawAnyByte_ = true;
  buf_.append(data);
  parse();
  return state_;
}

HttpResponseParser::State HttpResponseParser::finish() {
  if (state_ == State::kHeaders) {
    // Go reads a last line cut off by EOF as a line, so garbage without a
    // newline is still reported as a malformed response.
    if (!sawStatusLine_ && !buf_.empty()) {
      std::string line = std::exchange(buf_, {});
      if (!parseStatusLine(line)) return state_;
    }
    return fail(sawAnyByte_ ? "unexpected EOF" : "EOF");
  }
  if (state_ == State::kBody) {
    if (mode_ == BodyMode::kUntilClose) {
      state_ = State::kDone;
    } else {
      fail("unexpected EOF");
    }
  }
  return state_;
}

bool HttpResponseParser::parseStatusLine(std::string_view line) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) {
    fail("net/http: HTTP/1.x transport connection broken: malformed HTTP response " +
         goQuote(line));
    return false;
  }
  std::string_view proto = line.substr(0, sp);
  std::string_view status = line.substr(sp + 1);
  while (!status.empty() && status.front() == ' ') status.remove_prefix(1);
  std::string_view code = status.substr(0, status.find(' '));
  if (code.size() != 3 || !allDigits(code)) {
    fail("net/http: HTTP/1.x transport connection broken: malformed HTTP status code " +
         goQuote(code));
    return false;
  }
  if (!validVersion(proto)) {
    fail("net/http: HTTP/1.x transport connection broken: malformed HTTP version " +
         goQuote(proto));
    return false;
  }
  response_.status = std::stoi(std::string(code));
  sawStatusLine_ = true;
  return true;
}

bool HttpResponseParser::parseHeaderLine(std::string_view line) {
  size_t colon = line.find(':');
  std::string_view name = colon == std::string_view::npos ? "" : line.substr(0, colon);
  if (name.empty() || name.find_first_of(" \t") != std::string_view::npos) {
    fail("net/http: HTTP/1.x transport connection broken: malformed MIME header line: " +
         std::string(line));
    return false;
  }
  response_.headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  return true;
}

void HttpResponseParser::headersComplete() {
  int code = response_.status;
  if (code >= 100 && code < 200 && code != 101) {
    // An informational response: the real one follows.
    sawStatusLine_ = false;
    response_ = HttpResponse{};
    return;
  }
  mode_ = BodyMode::kUntilClose;
  std::string te = lower(trim(response_.header("Transfer-Encoding")));
  std::string cl(trim(response_.header("Content-Length")));
  if ((code >= 100 && code < 200) || code == 204 || code == 304) {
    mode_ = BodyMode::kNone;
  } else if (!te.empty()) {
    if (te != "chunked") {
      fail("unsupported transfer encoding: " + goQuote(te));
      return;
    }
    mode_ = BodyMode::kChunked;
  } else if (!cl.empty()) {
    if (!allDigits(cl) || cl.size() > 18) {
      fail("bad Content-Length " + goQuote(cl));
      return;
    }
    remaining_ = std::stoull(cl);
    mode_ = remaining_ == 0 ? BodyMode::kNone : BodyMode::kLength;
  }
  headersDone_ = true;
  state_ = mode_ == BodyMode::kNone ? State::kDone : State::kBody;
}

void HttpResponseParser::appendBody(std::string_view data) {
  std::string& body = response_.body;
  if (body.size() + data.size() > maxBody_) {
    body.append(data.substr(0, maxBody_ - body.size()));
    response_.truncated = true;
    state_ = State::kDone;  // the kubelet stops reading here
    return;
  }
  body.append(data);
}

void HttpResponseParser::parse() {
  while (state_ == State::kHeaders) {
    std::optional<std::string> line = takeLine(buf_);
    if (!line) {
      if (headerBytes_ + buf_.size() > kMaxHeaderBytes) {
        fail("net/http: server response headers exceeded " + std::to_string(kMaxHeaderBytes) +
             " bytes; aborted");
      }
      return;
    }
    headerBytes_ += line->size() + 1;
    if (!sawStatusLine_) {
      if (!parseStatusLine(*line)) return;
    } else if (line->empty()) {
      headersComplete();
    } else if (!parseHeaderLine(*line)) {
      return;
    }
  }
  if (state_ != State::kBody) return;
  switch (mode_) {
    case BodyMode::kLength: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
      appendBody(std::string_view(buf_).substr(0, n));
      buf_.erase(0, n);
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kDone;
      break;
    }
    case BodyMode::kUntilClose:
      appendBody(buf_);
      buf_.clear();
      break;
    case BodyMode::kChunked:
      parseChunked();
      break;
    case BodyMode::kNone:
      state_ = State::kDone;
      break;
  }
}

void HttpResponseParser::parseChunked() {
  while (state_ == State::kBody) {
    if (chunk_ == ChunkState::kData) {
      if (buf_.empty()) return;
      size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
      appendBody(std::string_view(buf_).substr(0, n));
      buf_.erase(0, n);
      remaining_ -= n;
      if (remaining_ == 0) chunk_ = ChunkState::kDataEnd;
      continue;
    }
    if (chunk_ == ChunkState::kDataEnd) {
      if (buf_.empty() || buf_ == "\r") return;
      size_t n = buf_.compare(0, 2, "\r\n") == 0 ? 2 : (buf_[0] == '\n' ? 1 : 0);
      if (n == 0) {
        fail("malformed chunked encoding");
        return;
      }
      buf_.erase(0, n);
      chunk_ = ChunkState::kSize;
      continue;
    }
    std::optional<std::string> line = takeLine(buf_);
    if (!line) {
      if (buf_.size() > kMaxChunkLine) fail("malformed chunked encoding");
      return;
    }
    if (chunk_ == ChunkState::kTrailer) {
      if (line->empty()) state_ = State::kDone;
      continue;
    }
    std::string_view size = trim(std::string_view(*line).substr(0, line->find(';')));
    if (size.empty() || size.size() > 16 ||
        !std::all_of(size.begin(), size.end(), [](char c) { return std::isxdigit(c); })) {
      fail("invalid byte in chunk length");
      return;
    }
    remaining_ = std::stoull(std::string(size), nullptr, 16);
    chunk_ = remaining_ == 0 ? ChunkState::kTrailer : ChunkState::kData;
  }
}

}  // namespace probes

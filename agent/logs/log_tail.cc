#include "agent/logs/log_tail.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

#include "agent/logs/cri_log_format.h"
#include "core/status.h"

namespace agent::logs {

TailScanner::TailScanner(int fd, off_t size, int64_t lines, size_t blockBytes)
    : fd_(fd), pos_(size), lineEnd_(size), want_(lines), boundary_(size), blockBytes_(blockBytes) {
  if (want_ <= 0) {
    done_ = true;
    start_ = size;
  }
}

void TailScanner::onRecord(off_t /*begin*/, off_t end, const std::string& head) {
  // Only '\n'-terminated records that end a line are boundaries; a region between
  // two boundaries that holds any byte is one line.
  if (!recordEndsLine(head)) return;
  off_t boundary = end + 1;
  if (boundary < boundary_) {
    if (++counted_ == want_) {
      done_ = true;
      start_ = boundary;
      return;
    }
  }
  boundary_ = boundary;
}

absl::StatusOr<bool> TailScanner::step() {
  if (done_) return true;
  off_t blockStart = std::max<off_t>(0, pos_ - static_cast<off_t>(blockBytes_));
  std::string buf(static_cast<size_t>(pos_ - blockStart), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd_, buf.data() + got, buf.size() - got, blockStart + got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::errnoStatus(errno, "read log file backwards");
    }
    if (n == 0) break;  // truncated meanwhile: treat the rest as absent
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  auto prepend = [this](std::string_view chunk) {
    std::string h(chunk.substr(0, std::min(chunk.size(), kHeadBytes)));
    if (h.size() < kHeadBytes) h.append(head_, 0, kHeadBytes - h.size());
    head_ = std::move(h);
  };
  size_t segEnd = buf.size();
  while (segEnd > 0) {
    const void* nl = ::memrchr(buf.data(), '\n', segEnd);
    if (nl == nullptr) {
      prepend(std::string_view(buf.data(), segEnd));
      break;
    }
    size_t idx = static_cast<const char*>(nl) - buf.data();
    prepend(std::string_view(buf.data() + idx + 1, segEnd - idx - 1));
    off_t nlPos = blockStart + static_cast<off_t>(idx);
    if (haveLine_) {
      onRecord(nlPos + 1, lineEnd_, head_);
      if (done_) return true;
    }
    // The record this '\n' terminates starts being assembled.
    haveLine_ = true;
    lineEnd_ = nlPos;
    head_.clear();
    segEnd = idx;
  }
  pos_ = blockStart;
  if (pos_ == 0) {
    if (haveLine_) onRecord(0, lineEnd_, head_);
    if (done_) return true;
    // Fewer lines than asked for: all of them.
    done_ = true;
    start_ = 0;
  }
  return done_;
}

}  // namespace agent::logs

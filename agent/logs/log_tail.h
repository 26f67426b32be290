// Finds where the last N lines of a CRI log file start by reading it backwards in
// blocks, so `tailLines=10` on a 10 MiB file reads a few KiB, not the file. A line
// is what the reader prints as one line: partial (P) records up to and including
// the full (F) record that ends them; a run of partial records at the very end (a
// line still being written) counts as a line too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace agent::logs {

class TailScanner {
 public:
  // `fd` is read with pread and not owned; `size` is where the scan starts (the
  // end of the file as the caller saw it).
  TailScanner(int fd, off_t size, int64_t lines, size_t blockBytes = 64 * 1024);

  // Reads one block. True when the start offset is known (see start()).
  absl::StatusOr<bool> step();
  bool done() const { return done_; }
  // The offset the last `lines` lines start at (0 when the file has fewer).
  off_t start() const { return start_; }

 private:
  // A record line [begin, end) (end excludes the '\n') was found; `head` holds up
  // to its first kHeadBytes bytes.
  void onRecord(off_t begin, off_t end, const std::string& head);

  static constexpr size_t kHeadBytes = 128;
  int fd_;
  off_t pos_;         // bytes before pos_ not yet read
  off_t lineEnd_;     // end (exclusive, '\n' excluded) of the line being assembled
  std::string head_;  // first bytes seen so far of that line (the earliest ones)
  bool haveLine_ = false;
  int64_t want_;
  int64_t counted_ = 0;
  off_t boundary_;  // start of the last counted region
  size_t blockBytes_;
  bool done_ = false;
  off_t start_ = 0;
};

}  // namespace agent::logs

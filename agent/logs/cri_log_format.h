// The CRI container log format, as containerd writes it to
// /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log:
//
//   <RFC3339Nano time> <stdout|stderr> <tag> <content>\n
//
// where the tag's first ':'-separated part is "P" (partial: the line continues in
// the stream's next record) or "F" (full: the record ends the line). And the
// per-line rendering the kubelet's /containerLogs applies to it (since, timestamps,
// limitBytes), shared by the reader and the follower.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agent::logs {

enum class LogStream { kStdout, kStderr };

struct CriLogRecord {
  absl::Time time;
  // The UTC offset the time was written with ("Z" is 0); kept so that
  // `timestamps=true` prints the time as it was written, as the kubelet does.
  int utcOffsetSeconds = 0;
  LogStream stream = LogStream::kStdout;
  bool partial = false;
  // The record's content, without the line's trailing '\n'. Points into the input.
  std::string_view content;
};

// Parses one record (a file line without its '\n'). Errors say what is wrong, as
// the kubelet's parseCRILog ("timestamp is not found", "unexpected stream type ...").
absl::StatusOr<CriLogRecord> parseCriLogLine(std::string_view line);

// Whether a record line ends a log line (its tag is not "P"). Cheap: for scanning
// a file backwards. Malformed lines count as ending a line.
bool recordEndsLine(std::string_view line);

// Go's RFC3339Nano-lenient layout: "2006-01-02T15:04:05[.999999999](Z|±hh:mm)".
// Returns the time and the offset in seconds.
std::optional<std::pair<absl::Time, int>> parseRfc3339Nano(std::string_view s);

// The kubelet's output timestamp (RFC3339NanoFixed: always nine fraction digits),
// "2006-01-02T15:04:05.000000000Z07:00", in the given UTC offset.
std::string formatRfc3339NanoFixed(absl::Time t, int utcOffsetSeconds = 0);

// Turns record lines into /containerLogs output. Partial records are joined: a
// line's pieces are written as they come, with one timestamp prefix (the first
// piece's time) and the since-filter decided by its first piece; each stream
// has its own line in progress. Malformed records are skipped (the kubelet logs
// and skips them). limitBytes cuts the output exactly at the limit.
class LogRenderer {
 public:
  LogRenderer(std::optional<absl::Time> since, bool timestamps, std::optional<int64_t> limitBytes);

  // Appends the output for one record line (without its '\n') to `out`. Returns
  // false once the byte limit is reached: nothing more will be written.
  bool add(std::string_view line, std::string& out);
  bool limitReached() const { return remaining_ == 0; }
  // Lines skipped because they did not parse.
  int64_t malformed() const { return malformed_; }

 private:
  struct StreamState {
    bool inLine = false;    // a partial record started a line not yet ended
    bool included = false;  // that line passes the since filter
  };
  void emit(std::string_view data, std::string& out);

  std::optional<absl::Time> since_;
  bool timestamps_;
  int64_t remaining_;  // INT64_MAX without a limit
  int64_t malformed_ = 0;
  StreamState streams_[2];
};

}  // namespace agent::logs

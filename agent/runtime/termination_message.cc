#include "agent/runtime/termination_message.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

namespace agent::runtime {
namespace {

// Go's wording for errno values (lower case: "no such file or directory").
std::string goErrno(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads [offset, offset + n) of the file; false with errno set on failure.
bool readAt(int fd, off_t offset, size_t n, std::string* out) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out->data() + got, n - got, offset + static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out->resize(got);
  return true;
}

// The kubelet's parseCRILog: the text after the tag, with a partial line's
// newline trimmed. False for a line that is not in the CRI format.
bool parseCriLine(std::string_view line, std::string_view* content) {
  size_t ts = line.find(' ');
  // An RFC 3339 timestamp starts with the year.
  if (ts == std::string_view::npos || ts == 0 || !std::isdigit(static_cast<unsigned char>(line[0])))
    return false;
  std::string_view rest = line.substr(ts + 1);
  size_t st = rest.find(' ');
  if (st == std::string_view::npos) return false;
  std::string_view stream = rest.substr(0, st);
  if (stream != "stdout" && stream != "stderr") return false;
  rest = rest.substr(st + 1);
  size_t tg = rest.find(' ');
  if (tg == std::string_view::npos) return false;
  std::string_view tag = rest.substr(0, tg);
  tag = tag.substr(0, tag.find(':'));  // "F:more" keeps forward compatibility
  bool partial = tag == "P";
  rest = rest.substr(tg + 1);
  if (partial && !rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
  *content = rest;
  return true;
}

}  // namespace

std::string tailCriLog(std::string_view text, int maxLines, size_t maxBytes) {
  // Where the last `maxLines` complete lines start (an unterminated last line
  // is not counted, but it is read).
  size_t start = 0;
  size_t end = text.size();
  if (end > 0 && text[end - 1] != '\n') {
    size_t nl = text.rfind('\n');
    end = nl == std::string_view::npos ? 0 : nl + 1;
  }
  int lines = 0;
  for (size_t i = end; i > 0; --i) {
    if (text[i - 1] != '\n' || i == end) continue;
    if (++lines == maxLines) {
      start = i;
      break;
    }
  }
  if (maxLines <= 0) start = end;
  std::string out;
  size_t pos = start;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view content;
    if (parseCriLine(text.substr(pos, next - pos), &content)) out.append(content);
    pos = next;
  }
  if (out.size() > maxBytes) out.erase(0, out.size() - maxBytes);
  return out;
}

std::string readLastStringFromContainerLogs(const std::string& path) {
  auto failed = [&](const std::string& why) {
    return "Error on reading termination message from logs: " + why;
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return failed("failed to open log file \"" + path + "\": open " + path + ": " + goErrno(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return failed("stat " + path + ": " + goErrno(errno));
  // Read backwards until the chunk holds one newline more than the lines wanted
  // (the one that ends the line before them), or the whole file.
  constexpr size_t kChunk = 64 * 1024;
  std::string text;
  off_t offset = st.st_size;
  while (offset > 0) {
    size_t n = static_cast<size_t>(std::min<off_t>(offset, kChunk));
    offset -= static_cast<off_t>(n);
    std::string chunk;
    if (!readAt(fd.get(), offset, n, &chunk)) return failed("read " + path + ": " + goErrno(errno));
    text.insert(0, chunk);
    if (std::count(text.begin(), text.end(), '\n') > kMaxTerminationMessageLogLines + 1) break;
  }
  return tailCriLog(text, kMaxTerminationMessageLogLines, kMaxTerminationMessageLogLength);
}

std::string terminatedContainerMessage(const ::runtime::v1::ContainerStatus& status,
                                       const std::string& terminationMessagePath,
                                       const std::string& terminationMessagePolicy) {
  // A container that could not even start has no logs worth reading.
  bool fallbackToLogs = terminationMessagePolicy == kTerminationMessageFallbackToLogsOnError &&
                        status.exit_code() != 0 && status.reason() != "ContainerCannotRun";
  std::string message;
  bool checkLogs = fallbackToLogs;
  if (!terminationMessagePath.empty()) {
    for (const auto& m : status.mounts()) {
      if (m.container_path() != terminationMessagePath) continue;
      const std::string& path = m.host_path();
      Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st {};
      if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
        int err = errno;
        if (err != ENOENT) {
          message =
              "Error on reading termination log " + path + ": open " + path + ": " + goErrno(err);
          checkLogs = false;
        }
        break;
      }
      // The tail: what a container writes last is what explains its end.
      size_t n = static_cast<size_t>(std::min<off_t>(st.st_size, kMaxTerminationMessageLength));
      if (!readAt(fd.get(), st.st_size - static_cast<off_t>(n), n, &message)) {
        message =
            "Error on reading termination log " + path + ": read " + path + ": " + goErrno(errno);
        checkLogs = false;
        break;
      }
      checkLogs = fallbackToLogs && message.empty();
      break;
    }
  }
  if (checkLogs) message = readLastStringFromContainerLogs(status.log_path());
  std::string out = status.message();
  if (!message.empty()) {
    if (!out.empty()) out += ": ";
    out += message;
  }
  return out;
}

}  // namespace agent::runtime

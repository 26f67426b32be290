#include "core/log.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace core {
namespace {
std::atomic<int> g_verbosity{0};

const char* baseName(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}
}  // namespace

void setVerbosity(int v) { g_verbosity.store(v, std::memory_order_relaxed); }
int verbosity() { return g_verbosity.load(std::memory_order_relaxed); }

LogLine::LogLine(Severity sev, const char* file, int line) : sev_(sev) {
  static constexpr char kLetters[] = {'I', 'W', 'E', 'F'};
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char head[64];
  std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%06ld %7ld ",
                kLetters[static_cast<int>(sev)], tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, static_cast<long>(micros), static_cast<long>(::syscall(SYS_gettid)));
  out_ << head << baseName(file) << ':' << line << "] ";
}

LogLine::~LogLine() {
  out_ << '\n';
  std::string s = out_.str();
  // One write per line so lines from different threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
  if (sev_ == Severity::kFatal) std::abort();
}

}  // namespace core

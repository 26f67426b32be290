// klog-compatible logging: "I1122 18:33:34.123456   12345 file.cc:42] message" on
// stderr, with the kubelet's --v verbosity levels. Thread-safe: each line is one write.
#pragma once

#include <sstream>
#include <string>

namespace core {

enum class Severity { kInfo, kWarning, kError, kFatal };

void setVerbosity(int v);
int verbosity();

class LogLine {
 public:
  LogLine(Severity sev, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostream& stream() { return out_; }

 private:
  Severity sev_;
  std::ostringstream out_;
};

}  // namespace core

#define LOG_INFO ::core::LogLine(::core::Severity::kInfo, __FILE__, __LINE__).stream()
#define LOG_WARNING ::core::LogLine(::core::Severity::kWarning, __FILE__, __LINE__).stream()
#define LOG_ERROR ::core::LogLine(::core::Severity::kError, __FILE__, __LINE__).stream()
// Verbose logging, printed when --v >= n; the stream is not evaluated otherwise.
#define VLOG(n)                    \
  if (::core::verbosity() < (n)) { \
  } else                           \
    ::core::LogLine(::core::Severity::kInfo, __FILE__, __LINE__).stream()

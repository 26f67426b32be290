#include "cgroups/proc_stats.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/atomic_file.h"
#include "core/status.h"

namespace cgroups {
namespace {

absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status malformed(const std::string& file, absl::string_view line, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("parse ", file, ": ", why, " in line \"", line, "\""));
}

absl::StatusOr<int64_t> readInt(const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  absl::string_view s = absl::StripAsciiWhitespace(text);
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return malformed(file, s, "want a number");
  return v;
}

}  // namespace

absl::StatusOr<MemInfo> parseMemInfo(std::string_view text, const std::string& file) {
  MemInfo out;
  bool total = false;
  for (absl::string_view line : absl::StrSplit(av(text), '\n', absl::SkipWhitespace())) {
    // "MemTotal:       24683620 kB"; a few lines (HugePages_Total) have no unit.
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ':');
    std::vector<absl::string_view> rest = absl::StrSplit(kv.second, ' ', absl::SkipWhitespace());
    if (rest.empty()) return malformed(file, line, "no value");
    uint64_t v = 0;
    if (!absl::SimpleAtoi(rest[0], &v)) return malformed(file, line, "bad number");
    if (rest.size() > 1) {
      if (rest[1] != "kB") return malformed(file, line, "unknown unit");
      v *= 1024;
    }
    absl::string_view k = kv.first;
    if (k == "MemTotal") {
      out.memTotal = v;
      total = true;
    } else if (k == "MemFree") {
      out.memFree = v;
    } else if (k == "MemAvailable") {
      out.memAvailable = v;
    } else if (k == "Buffers") {
      out.buffers = v;
    } else if (k == "Cached") {
      out.cached = v;
    } else if (k == "Inactive(file)") {
      out.inactiveFile = v;
    } else if (k == "Active(file)") {
      out.activeFile = v;
    }
  }
  if (!total) return absl::InvalidArgumentError(absl::StrCat("parse ", file, ": no MemTotal"));
  return out;
}

absl::StatusOr<MemInfo> readMemInfo(const std::string& procRoot) {
  std::string file = procRoot + "/meminfo";
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  return parseMemInfo(text, file);
}

NodeMemory nodeMemory(const MemInfo& m) {
  NodeMemory out;
  out.capacityBytes = m.memTotal;
  out.usageBytes = m.memTotal > m.memFree ? m.memTotal - m.memFree : 0;
  out.workingSetBytes = out.usageBytes > m.inactiveFile ? out.usageBytes - m.inactiveFile : 0;
  out.availableBytes =
      out.capacityBytes > out.workingSetBytes ? out.capacityBytes - out.workingSetBytes : 0;
  return out;
}

absl::StatusOr<uint64_t> parseProcStatCpuNanos(std::string_view text, const std::string& file,
                                               long clkTck) {
  if (clkTck <= 0) return absl::InvalidArgumentError("clock ticks per second must be positive");
  for (absl::string_view line : absl::StrSplit(av(text), '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (f.empty() || f[0] != "cpu") continue;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    if (f.size() < 9) return malformed(file, line, "want at least 8 counters");
    uint64_t v[9] = {};
    for (size_t i = 1; i < 9; ++i) {
      if (!absl::SimpleAtoi(f[i], &v[i])) return malformed(file, line, "bad counter");
    }
    uint64_t ticks = v[1] + v[2] + v[3] + v[6] + v[7] + v[8];
    // Split to keep ticks * 1e9 from overflowing for long uptimes.
    uint64_t hz = static_cast<uint64_t>(clkTck);
    return (ticks / hz) * 1000000000ull + (ticks % hz) * 1000000000ull / hz;
  }
  return absl::InvalidArgumentError(absl::StrCat("parse ", file, ": no \"cpu\" line"));
}

absl::StatusOr<uint64_t> readCpuUsageNanos(const std::string& procRoot) {
  std::string file = procRoot + "/stat";
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  return parseProcStatCpuNanos(text, file, ::sysconf(_SC_CLK_TCK));
}

absl::StatusOr<int64_t> parseProcStatBootTime(std::string_view text, const std::string& file) {
  for (absl::string_view line : absl::StrSplit(av(text), '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (f.size() != 2 || f[0] != "btime") continue;
    int64_t v = 0;
    if (!absl::SimpleAtoi(f[1], &v)) return malformed(file, line, "bad number");
    return v;
  }
  return absl::InvalidArgumentError(absl::StrCat("parse ", file, ": no \"btime\" line"));
}

absl::StatusOr<int64_t> readBootTime(const std::string& procRoot) {
  std::string file = procRoot + "/stat";
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  return parseProcStatBootTime(text, file);
}

absl::StatusOr<int64_t> parseLoadavgProcesses(std::string_view text, const std::string& file) {
  // "1.14 0.40 0.14 2/100 23584"
  absl::string_view line = absl::StripAsciiWhitespace(av(text));
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
  if (f.size() < 4) return malformed(file, line, "want at least 4 fields");
  std::pair<absl::string_view, absl::string_view> rt = absl::StrSplit(f[3], '/');
  int64_t n = 0;
  if (!absl::SimpleAtoi(rt.second, &n)) return malformed(file, line, "bad \"running/total\"");
  return n;
}

absl::StatusOr<ProcessLimits> readProcessLimits(const std::string& procRoot) {
  ProcessLimits out;
  ASSIGN_OR_RETURN(out.maxPid, readInt(procRoot + "/sys/kernel/pid_max"));
  // threads-max lowers the limit when it is smaller; a kernel without it is fine.
  absl::StatusOr<int64_t> threadsMax = readInt(procRoot + "/sys/kernel/threads-max");
  if (threadsMax.ok() && *threadsMax < out.maxPid) out.maxPid = *threadsMax;
  if (!threadsMax.ok() && !absl::IsNotFound(threadsMax.status())) return threadsMax.status();
  std::string loadavg = procRoot + "/loadavg";
  ASSIGN_OR_RETURN(std::string text, core::readFile(loadavg));
  ASSIGN_OR_RETURN(out.numProcesses, parseLoadavgProcesses(text, loadavg));
  return out;
}

}  // namespace cgroups

#include "agent/metrics/process_collector.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

namespace agent::metrics {
namespace {

// (Abseil's string helpers take absl::string_view, which is not std::string_view
// in this build: plain std parsing here.)
std::vector<std::string_view> splitFields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

std::optional<uint64_t> parseUint(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// procfs parses "unlimited" as the largest uint64.
std::optional<double> parseLimit(std::string_view s) {
  if (s == "unlimited") return 18446744073709551615.0;
  auto v = parseUint(s);
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

// A /proc/<pid>/limits row's soft value: columns are separated by runs of two or
// more spaces ("Max open files            1024                 1048576   files").
std::optional<double> softLimit(const std::string& limits, std::string_view rowName) {
  for (std::string_view line : lines(limits)) {
    if (line.substr(0, rowName.size()) != rowName) continue;
    std::vector<std::string_view> cols = splitFields(line.substr(rowName.size()));
    if (cols.empty()) return std::nullopt;
    return parseLimit(cols[0]);
  }
  return std::nullopt;
}

}  // namespace

ProcessStats readProcessStats(const std::string& procSelf, const std::string& procStat) {
  ProcessStats st;
  const long ticks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  const long pageSize = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;

  if (auto stat = readFile(procSelf + "/stat")) {
    // The command name may hold spaces and parentheses: fields start after the
    // last ')'. fields[0] is field 3 (state) of proc(5).
    size_t close = stat->rfind(')');
    if (close != std::string::npos) {
      std::vector<std::string_view> fields = splitFields(std::string_view(*stat).substr(close + 1));
      auto field = [&](size_t n) -> std::optional<uint64_t> {
        if (n < 3 || n - 3 >= fields.size()) return std::nullopt;
        return parseUint(fields[n - 3]);
      };
      auto utime = field(14), stime = field(15), start = field(22), vsize = field(23),
           rss = field(24);
      if (utime && stime) st.cpuSeconds = static_cast<double>(*utime + *stime) / ticks;
      if (vsize) st.virtualMemoryBytes = static_cast<double>(*vsize);
      if (rss) st.residentMemoryBytes = static_cast<double>(*rss) * static_cast<double>(pageSize);
      if (start) {
        if (auto sys = readFile(procStat)) {
          for (std::string_view line : lines(*sys)) {
            std::vector<std::string_view> f = splitFields(line);
            if (f.size() != 2 || f[0] != "btime") continue;
            if (auto btime = parseUint(f[1])) {
              st.startTimeSeconds =
                  static_cast<double>(*start) / ticks + static_cast<double>(*btime);
            }
            break;
          }
        }
      }
    }
  }

  if (DIR* d = opendir((procSelf + "/fd").c_str())) {
    // As procfs, the directory's own descriptor is counted too.
    double n = 0;
    while (struct dirent* e = readdir(d)) {
      std::string_view name(e->d_name);
      if (name != "." && name != "..") ++n;
    }
    closedir(d);
    st.openFds = n;
  }

  if (auto limits = readFile(procSelf + "/limits")) {
    st.maxFds = softLimit(*limits, "Max open files");
    st.virtualMemoryMaxBytes = softLimit(*limits, "Max address space");
  }
  return st;
}

void appendProcessFamilies(const ProcessStats& st, std::vector<FamilySnapshot>& out) {
  auto add = [&](const char* name, const char* help, MetricType type, std::optional<double> v) {
    if (!v) return;
    FamilySnapshot f{name, help, type, {}};
    f.samples.emplace_back();
    f.samples.back().value = *v;
    out.push_back(std::move(f));
  };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::kCounter, st.cpuSeconds);
  add("process_open_fds", "Number of open file descriptors.", MetricType::kGauge, st.openFds);
  add("process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge, st.maxFds);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
      st.virtualMemoryBytes);
  add("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.",
      MetricType::kGauge, st.virtualMemoryMaxBytes);
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
      st.residentMemoryBytes);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      MetricType::kGauge, st.startTimeSeconds);
}

void ProcessCollector::collect(std::vector<FamilySnapshot>& out) const {
  appendProcessFamilies(readProcessStats(procSelf_, procStat_), out);
}

}  // namespace agent::metrics

// The Prometheus Go client's process collector for cubelet itself, read from
// /proc/self as prometheus/procfs reads it: process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_virtual_memory_bytes,
// process_virtual_memory_max_bytes, process_resident_memory_bytes and
// process_start_time_seconds, with the Go client's help texts (registered raw:
// no stability prefix). A figure that cannot be read is left out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/metrics/registry.h"

namespace agent::metrics {

struct ProcessStats {
  std::optional<double> cpuSeconds;  // utime + stime
  std::optional<double> openFds;
  std::optional<double> maxFds;  // soft RLIMIT_NOFILE
  std::optional<double> virtualMemoryBytes;
  // Soft RLIMIT_AS; "unlimited" is 2^64-1, as procfs reports it.
  std::optional<double> virtualMemoryMaxBytes;
  std::optional<double> residentMemoryBytes;
  std::optional<double> startTimeSeconds;  // since the epoch
};

// `procSelf` is the process's /proc directory, `procStat` the system's /proc/stat
// (for btime). Never fails: unreadable figures stay nullopt.
ProcessStats readProcessStats(const std::string& procSelf = "/proc/self",
                              const std::string& procStat = "/proc/stat");

// The families for `stats`.
void appendProcessFamilies(const ProcessStats& stats, std::vector<FamilySnapshot>& out);

// A Collector reading /proc/self at every collection.
class ProcessCollector : public Collector {
 public:
  explicit ProcessCollector(std::string procSelf = "/proc/self",
                            std::string procStat = "/proc/stat")
      : procSelf_(std::move(procSelf)), procStat_(std::move(procStat)) {}
  void collect(std::vector<FamilySnapshot>& out) const override;

 private:
  std::string procSelf_;
  std::string procStat_;
};

}  // namespace agent::metrics

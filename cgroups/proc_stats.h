// Node-level statistics from /proc, for hosts where the root cgroup has no
// memory.current/cpu.stat to read (cgroup v1, or a controller-less cgroup2):
// /proc/meminfo, the aggregate "cpu" line of /proc/stat, pid_max and the process
// count. The proc root is a parameter so tests can point it at fixture files.
// Everything here blocks on file reads: call it from the worker pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cgroups {

// /proc/meminfo values, in bytes (the file says kB = KiB).
struct MemInfo {
  uint64_t memTotal = 0;
  uint64_t memFree = 0;
  uint64_t memAvailable = 0;
  uint64_t buffers = 0;
  uint64_t cached = 0;
  uint64_t inactiveFile = 0;
  uint64_t activeFile = 0;
};

// The node's memory as cadvisor computes it for the root container and as the
// kubelet turns it into the memory.available eviction signal:
//   usage      = MemTotal - MemFree
//   workingSet = usage - Inactive(file), floored at 0
//   available  = capacity - workingSet (capacity = MemTotal), floored at 0
struct NodeMemory {
  uint64_t capacityBytes = 0;
  uint64_t usageBytes = 0;
  uint64_t workingSetBytes = 0;
  uint64_t availableBytes = 0;
};

absl::StatusOr<MemInfo> parseMemInfo(std::string_view text, const std::string& file);
absl::StatusOr<MemInfo> readMemInfo(const std::string& procRoot = "/proc");
NodeMemory nodeMemory(const MemInfo& m);

// Total CPU time of the node in nanoseconds: the "cpu" line of /proc/stat,
// user + nice + system + irq + softirq + steal (idle and iowait excluded; guest
// time is already inside user/nice), converted from clock ticks with `clkTck`
// (sysconf(_SC_CLK_TCK) by default).
absl::StatusOr<uint64_t> parseProcStatCpuNanos(std::string_view text, const std::string& file,
                                               long clkTck);
absl::StatusOr<uint64_t> readCpuUsageNanos(const std::string& procRoot = "/proc");

// The boot time in seconds since the epoch ("btime" of /proc/stat): the node's stats
// startTime, as cadvisor's root container creation time.
absl::StatusOr<int64_t> parseProcStatBootTime(std::string_view text, const std::string& file);
absl::StatusOr<int64_t> readBootTime(const std::string& procRoot = "/proc");

// For the pid.available signal, as the kubelet's pidlimit.Stats (rlimit maxpid and
// curproc): the system-wide task limit is the smaller of kernel.pid_max and
// kernel.threads-max; the task count is the total after the "/" in /proc/loadavg's
// 4th field ("2/100" -> 100: every process and thread), which unlike sysinfo(2) is
// not truncated above 65535.
struct ProcessLimits {
  int64_t maxPid = 0;
  int64_t numProcesses = 0;
};
absl::StatusOr<int64_t> parseLoadavgProcesses(std::string_view text, const std::string& file);
absl::StatusOr<ProcessLimits> readProcessLimits(const std::string& procRoot = "/proc");

}  // namespace cgroups

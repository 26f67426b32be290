// Typed readers for the statistics files of one cgroup v2 directory (cpu.stat,
// memory.current, memory.stat, memory.events, io.stat, pids.*, and the PSI files),
// in the kernel's own units, plus the derived figures the kubelet and cadvisor use
// (working set = memory.current - inactive_file). They feed the stats provider
// (per pod and per container when the runtime reports nothing) and eviction.
//
// Errors name the file. A file that does not exist — its controller is not enabled
// in the parent's cgroup.subtree_control, or the kernel lacks PSI — is NotFound, so
// callers can tell "no data here" from a broken read and fall back.
// Everything here blocks on file reads: call it from the worker pool.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cgroups {

// cpu.stat. The usage lines exist in every cgroup; the throttling lines only when
// the cpu controller is enabled for it.
struct CpuStat {
  uint64_t usageUsec = 0;
  uint64_t userUsec = 0;
  uint64_t systemUsec = 0;
  std::optional<uint64_t> nrPeriods;
  std::optional<uint64_t> nrThrottled;
  std::optional<uint64_t> throttledUsec;
};

// memory.stat: the fields the kubelet/cadvisor use, typed (0 when the kernel does
// not report one), and every line as read for the rest.
struct MemoryStat {
  uint64_t anon = 0;
  uint64_t file = 0;
  uint64_t kernelStack = 0;
  uint64_t slab = 0;
  uint64_t sock = 0;
  uint64_t shmem = 0;
  uint64_t fileMapped = 0;
  uint64_t fileDirty = 0;
  uint64_t fileWriteback = 0;
  uint64_t inactiveAnon = 0;
  uint64_t activeAnon = 0;
  uint64_t inactiveFile = 0;
  uint64_t activeFile = 0;
  uint64_t unevictable = 0;
  uint64_t pgfault = 0;
  uint64_t pgmajfault = 0;
  std::map<std::string, uint64_t> all;
};

// memory.events (counts since the cgroup was created).
struct MemoryEvents {
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t max = 0;
  uint64_t oom = 0;
  uint64_t oomKill = 0;
  uint64_t oomGroupKill = 0;
};

// One line of io.stat: "8:0 rbytes=... wbytes=... rios=... wios=... dbytes=... dios=...".
struct IoDeviceStat {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t rbytes = 0;
  uint64_t wbytes = 0;
  uint64_t rios = 0;
  uint64_t wios = 0;
  uint64_t dbytes = 0;
  uint64_t dios = 0;
};

// One PSI line: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" (total in usec).
struct PsiLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total = 0;
};
// A *.pressure file. "full" is absent from cpu.pressure on kernels before 5.13.
struct PressureStats {
  PsiLine some;
  std::optional<PsiLine> full;
};

// Parsers of the file contents (`file` only names the file in errors).
absl::StatusOr<CpuStat> parseCpuStat(std::string_view text, const std::string& file);
absl::StatusOr<MemoryStat> parseMemoryStat(std::string_view text, const std::string& file);
absl::StatusOr<MemoryEvents> parseMemoryEvents(std::string_view text, const std::string& file);
absl::StatusOr<std::vector<IoDeviceStat>> parseIoStat(std::string_view text,
                                                      const std::string& file);
absl::StatusOr<PressureStats> parsePressure(std::string_view text, const std::string& file);
// A single-number file (memory.current, pids.current).
absl::StatusOr<uint64_t> parseSingleValue(std::string_view text, const std::string& file);
// A limit file (pids.max, memory.max): a number, or "max" = -1.
absl::StatusOr<int64_t> parseLimitValue(std::string_view text, const std::string& file);

// Readers of `dir`/<file>.
absl::StatusOr<CpuStat> readCpuStat(const std::string& dir);
absl::StatusOr<uint64_t> readMemoryCurrent(const std::string& dir);
absl::StatusOr<MemoryStat> readMemoryStat(const std::string& dir);
absl::StatusOr<MemoryEvents> readMemoryEvents(const std::string& dir);
absl::StatusOr<std::vector<IoDeviceStat>> readIoStat(const std::string& dir);
absl::StatusOr<uint64_t> readPidsCurrent(const std::string& dir);
absl::StatusOr<int64_t> readPidsMax(const std::string& dir);  // -1 = "max"
// `resource` is "cpu", "memory" or "io".
absl::StatusOr<PressureStats> readPressure(const std::string& dir, const std::string& resource);

// The kubelet's working set: usage - inactive_file, floored at 0 (cadvisor's
// setMemoryStats on cgroup v2).
uint64_t workingSetBytes(uint64_t memoryCurrent, const MemoryStat& stat);

// cgroup v1: the cpuacct hierarchy's cpuacct.usage (ns) and the memory hierarchy's
// memory.usage_in_bytes; memory.stat there is read with readMemoryStat (its
// total_* lines count the cgroup's descendants too).
absl::StatusOr<uint64_t> readCpuacctUsage(const std::string& dir);
absl::StatusOr<uint64_t> readMemoryUsageInBytes(const std::string& dir);
// cadvisor's v1 working set: usage - total_inactive_file, floored at 0.
uint64_t v1WorkingSetBytes(uint64_t usageInBytes, const MemoryStat& stat);

// Everything readable for one cgroup; a member is empty when its file is absent.
struct CgroupStats {
  std::optional<CpuStat> cpu;
  std::optional<uint64_t> memoryCurrent;
  std::optional<MemoryStat> memoryStat;
  std::optional<MemoryEvents> memoryEvents;
  std::vector<IoDeviceStat> io;  // empty without io.stat
  bool hasIoStat = false;
  std::optional<uint64_t> pidsCurrent;
  std::optional<int64_t> pidsMax;
  std::optional<PressureStats> cpuPressure;
  std::optional<PressureStats> memoryPressure;
  std::optional<PressureStats> ioPressure;
  // From memoryCurrent and memoryStat when both are present.
  std::optional<uint64_t> workingSetBytes;
};

// NotFound naming `dir` when the cgroup itself does not exist; any other failure
// (a file present but unreadable or malformed) is returned as is.
absl::StatusOr<CgroupStats> readCgroupStats(const std::string& dir);

}  // namespace cgroups

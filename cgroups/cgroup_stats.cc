#include "cgroups/cgroup_stats.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"

namespace cgroups {
namespace {

absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status malformed(const std::string& file, absl::string_view line, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("parse ", file, ": ", why, " in line \"", line, "\""));
}

// Calls `f(key, value)` for every "key value" line of a flat-keyed file (cpu.stat,
// memory.stat, memory.events).
absl::Status forEachKeyValue(std::string_view text, const std::string& file,
                             const std::function<void(absl::string_view, uint64_t)>& f) {
  for (absl::string_view line : absl::StrSplit(av(text), '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 2) return malformed(file, line, "want \"key value\"");
    uint64_t v = 0;
    if (!absl::SimpleAtoi(parts[1], &v)) return malformed(file, line, "bad number");
    f(parts[0], v);
  }
  return absl::OkStatus();
}

// Reads a whole interface file. ENOENT (controller not enabled) and EOPNOTSUPP (PSI
// files of a kernel booted with psi=0) are both NotFound: there is no data.
absl::StatusOr<std::string> readInterfaceFile(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return core::errnoStatus(errno, absl::StrCat("read ", file));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      if (err == EOPNOTSUPP) {
        return absl::NotFoundError(absl::StrCat("read ", file, ": ", std::strerror(err)));
      }
      return core::errnoStatus(err, absl::StrCat("read ", file));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::StatusOr<std::string> readIn(const std::string& dir, const char* name) {
  return readInterfaceFile(absl::StrCat(dir, "/", name));
}

absl::StatusOr<PsiLine> parsePsiLine(const std::vector<absl::string_view>& parts,
                                     absl::string_view line, const std::string& file) {
  PsiLine out;
  bool seen[4] = {false, false, false, false};
  for (size_t i = 1; i < parts.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(parts[i], '=');
    bool ok = true;  // a field added by a later kernel is skipped
    if (kv.first == "avg10") {
      ok = absl::SimpleAtod(kv.second, &out.avg10);
      seen[0] = true;
    } else if (kv.first == "avg60") {
      ok = absl::SimpleAtod(kv.second, &out.avg60);
      seen[1] = true;
    } else if (kv.first == "avg300") {
      ok = absl::SimpleAtod(kv.second, &out.avg300);
      seen[2] = true;
    } else if (kv.first == "total") {
      ok = absl::SimpleAtoi(kv.second, &out.total);
      seen[3] = true;
    }
    if (!ok) return malformed(file, line, absl::StrCat("bad value for ", kv.first));
  }
  for (bool s : seen) {
    if (!s) return malformed(file, line, "want avg10, avg60, avg300 and total");
  }
  return out;
}

// A reader's result as an optional member: absent file = nullopt, error = error.
template <typename T>
absl::Status optionalInto(absl::StatusOr<T> r, std::optional<T>* out) {
  if (r.ok()) {
    *out = std::move(*r);
    return absl::OkStatus();
  }
  if (absl::IsNotFound(r.status())) return absl::OkStatus();
  return r.status();
}

}  // namespace

absl::StatusOr<CpuStat> parseCpuStat(std::string_view text, const std::string& file) {
  CpuStat out;
  bool usage = false;
  RETURN_IF_ERROR(forEachKeyValue(text, file, [&](absl::string_view k, uint64_t v) {
    if (k == "usage_usec") {
      out.usageUsec = v;
      usage = true;
    } else if (k == "user_usec") {
      out.userUsec = v;
    } else if (k == "system_usec") {
      out.systemUsec = v;
    } else if (k == "nr_periods") {
      out.nrPeriods = v;
    } else if (k == "nr_throttled") {
      out.nrThrottled = v;
    } else if (k == "throttled_usec") {
      out.throttledUsec = v;
    }
  }));
  if (!usage) return absl::InvalidArgumentError(absl::StrCat("parse ", file, ": no usage_usec"));
  return out;
}

absl::StatusOr<MemoryStat> parseMemoryStat(std::string_view text, const std::string& file) {
  MemoryStat out;
  RETURN_IF_ERROR(forEachKeyValue(
      text, file, [&](absl::string_view k, uint64_t v) { out.all[std::string(k)] = v; }));
  auto get = [&](const char* k) {
    auto it = out.all.find(k);
    return it == out.all.end() ? 0 : it->second;
  };
  out.anon = get("anon");
  out.file = get("file");
  out.kernelStack = get("kernel_stack");
  out.slab = get("slab");
  out.sock = get("sock");
  out.shmem = get("shmem");
  out.fileMapped = get("file_mapped");
  out.fileDirty = get("file_dirty");
  out.fileWriteback = get("file_writeback");
  out.inactiveAnon = get("inactive_anon");
  out.activeAnon = get("active_anon");
  out.inactiveFile = get("inactive_file");
  out.activeFile = get("active_file");
  out.unevictable = get("unevictable");
  out.pgfault = get("pgfault");
  out.pgmajfault = get("pgmajfault");
  return out;
}

absl::StatusOr<MemoryEvents> parseMemoryEvents(std::string_view text, const std::string& file) {
  MemoryEvents out;
  RETURN_IF_ERROR(forEachKeyValue(text, file, [&](absl::string_view k, uint64_t v) {
    if (k == "low") out.low = v;
    if (k == "high") out.high = v;
    if (k == "max") out.max = v;
    if (k == "oom") out.oom = v;
    if (k == "oom_kill") out.oomKill = v;
    if (k == "oom_group_kill") out.oomGroupKill = v;
  }));
  return out;
}

absl::StatusOr<std::vector<IoDeviceStat>> parseIoStat(std::string_view text,
                                                      const std::string& file) {
  std::vector<IoDeviceStat> out;
  for (absl::string_view line : absl::StrSplit(av(text), '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.empty()) continue;
    IoDeviceStat d;
    std::pair<absl::string_view, absl::string_view> dev = absl::StrSplit(parts[0], ':');
    if (!absl::SimpleAtoi(dev.first, &d.major) || !absl::SimpleAtoi(dev.second, &d.minor)) {
      return malformed(file, line, "bad device \"major:minor\"");
    }
    for (size_t i = 1; i < parts.size(); ++i) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(parts[i], '=');
      uint64_t v = 0;
      if (!absl::SimpleAtoi(kv.second, &v)) {
        return malformed(file, line, absl::StrCat("bad value for ", kv.first));
      }
      if (kv.first == "rbytes") d.rbytes = v;
      if (kv.first == "wbytes") d.wbytes = v;
      if (kv.first == "rios") d.rios = v;
      if (kv.first == "wios") d.wios = v;
      if (kv.first == "dbytes") d.dbytes = v;
      if (kv.first == "dios") d.dios = v;
    }
    out.push_back(d);
  }
  return out;
}

absl::StatusOr<PressureStats> parsePressure(std::string_view text, const std::string& file) {
  PressureStats out;
  bool some = false;
  for (absl::string_view line : absl::StrSplit(av(text), '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.empty()) continue;
    if (parts[0] == "some") {
      ASSIGN_OR_RETURN(out.some, parsePsiLine(parts, line, file));
      some = true;
    } else if (parts[0] == "full") {
      ASSIGN_OR_RETURN(out.full, parsePsiLine(parts, line, file));
    } else {
      return malformed(file, line, "want \"some\" or \"full\"");
    }
  }
  if (!some) return absl::InvalidArgumentError(absl::StrCat("parse ", file, ": no \"some\" line"));
  return out;
}

absl::StatusOr<uint64_t> parseSingleValue(std::string_view text, const std::string& file) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(av(text)), &v)) {
    return malformed(file, absl::StripAsciiWhitespace(av(text)), "want a number");
  }
  return v;
}

absl::StatusOr<int64_t> parseLimitValue(std::string_view text, const std::string& file) {
  absl::string_view s = absl::StripAsciiWhitespace(av(text));
  if (s == "max") return -1;
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || v < 0) return malformed(file, s, "want a number or \"max\"");
  return v;
}

absl::StatusOr<CpuStat> readCpuStat(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "cpu.stat"));
  return parseCpuStat(text, dir + "/cpu.stat");
}

absl::StatusOr<uint64_t> readMemoryCurrent(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "memory.current"));
  return parseSingleValue(text, dir + "/memory.current");
}

absl::StatusOr<MemoryStat> readMemoryStat(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "memory.stat"));
  return parseMemoryStat(text, dir + "/memory.stat");
}

absl::StatusOr<MemoryEvents> readMemoryEvents(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "memory.events"));
  return parseMemoryEvents(text, dir + "/memory.events");
}

absl::StatusOr<std::vector<IoDeviceStat>> readIoStat(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "io.stat"));
  return parseIoStat(text, dir + "/io.stat");
}

absl::StatusOr<uint64_t> readPidsCurrent(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "pids.current"));
  return parseSingleValue(text, dir + "/pids.current");
}

absl::StatusOr<int64_t> readPidsMax(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "pids.max"));
  return parseLimitValue(text, dir + "/pids.max");
}

absl::StatusOr<PressureStats> readPressure(const std::string& dir, const std::string& resource) {
  std::string file = absl::StrCat(dir, "/", resource, ".pressure");
  ASSIGN_OR_RETURN(std::string text, readInterfaceFile(file));
  return parsePressure(text, file);
}

uint64_t workingSetBytes(uint64_t memoryCurrent, const MemoryStat& stat) {
  return memoryCurrent > stat.inactiveFile ? memoryCurrent - stat.inactiveFile : 0;
}

absl::StatusOr<uint64_t> readCpuacctUsage(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "cpuacct.usage"));
  return parseSingleValue(text, dir + "/cpuacct.usage");
}

absl::StatusOr<uint64_t> readMemoryUsageInBytes(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, readIn(dir, "memory.usage_in_bytes"));
  return parseSingleValue(text, dir + "/memory.usage_in_bytes");
}

uint64_t v1WorkingSetBytes(uint64_t usageInBytes, const MemoryStat& stat) {
  auto it = stat.all.find("total_inactive_file");
  uint64_t inactive = it == stat.all.end() ? 0 : it->second;
  return usageInBytes > inactive ? usageInBytes - inactive : 0;
}

absl::StatusOr<CgroupStats> readCgroupStats(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return core::errnoStatus(errno, absl::StrCat("stat ", dir));
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": not a cgroup directory"));
  }
  CgroupStats out;
  RETURN_IF_ERROR(optionalInto(readCpuStat(dir), &out.cpu));
  RETURN_IF_ERROR(optionalInto(readMemoryCurrent(dir), &out.memoryCurrent));
  RETURN_IF_ERROR(optionalInto(readMemoryStat(dir), &out.memoryStat));
  RETURN_IF_ERROR(optionalInto(readMemoryEvents(dir), &out.memoryEvents));
  std::optional<std::vector<IoDeviceStat>> io;
  RETURN_IF_ERROR(optionalInto(readIoStat(dir), &io));
  if (io) {
    out.io = std::move(*io);
    out.hasIoStat = true;
  }
  RETURN_IF_ERROR(optionalInto(readPidsCurrent(dir), &out.pidsCurrent));
  RETURN_IF_ERROR(optionalInto(readPidsMax(dir), &out.pidsMax));
  RETURN_IF_ERROR(optionalInto(readPressure(dir, "cpu"), &out.cpuPressure));
  RETURN_IF_ERROR(optionalInto(readPressure(dir, "memory"), &out.memoryPressure));
  RETURN_IF_ERROR(optionalInto(readPressure(dir, "io"), &out.ioPressure));
  if (out.memoryCurrent && out.memoryStat) {
    out.workingSetBytes = workingSetBytes(*out.memoryCurrent, *out.memoryStat);
  }
  return out;
}

}  // namespace cgroups

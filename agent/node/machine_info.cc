#include "agent/node/machine_info.h"

#include "core/platform.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::node {
namespace {

std::string joinRoot(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r + path;
}

// The trimmed content of the first readable, non-empty file among `paths`.
std::string firstFile(const std::string& root, std::initializer_list<const char*> paths,
                      bool trimNul = false) {
  for (const char* p : paths) {
    auto content = core::readFile(joinRoot(root, p));
    if (!content.ok()) continue;
    std::string s = *content;
    if (trimNul) s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
    s = std::string(absl::StripAsciiWhitespace(s));
    if (!s.empty()) return s;
  }
  return "";
}

// PRETTY_NAME from os-release, quotes removed; "Linux" when there is none (as cAdvisor).
std::string osImage(const std::string& root) {
  for (const char* p : {"/etc/os-release", "/usr/lib/os-release"}) {
    auto content = core::readFile(joinRoot(root, p));
    if (!content.ok()) continue;
    for (absl::string_view line : absl::StrSplit(*content, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!absl::ConsumePrefix(&line, "PRETTY_NAME=")) continue;
      std::string v(line);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
        v = v.substr(1, v.size() - 2);
      }
      return v;
    }
    return "Linux";
  }
  return "Linux";
}

absl::StatusOr<int64_t> memTotal(const std::string& root) {
  std::string path = joinRoot(root, "/proc/meminfo");
  ASSIGN_OR_RETURN(std::string content, core::readFile(path));
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    if (!absl::ConsumePrefix(&line, "MemTotal:")) continue;
    line = absl::StripAsciiWhitespace(line);
    bool kb = absl::ConsumeSuffix(&line, "kB");
    line = absl::StripAsciiWhitespace(line);
    int64_t v = 0;
    if (!absl::SimpleAtoi(line, &v) || v <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": MemTotal: bad value \"", std::string(line), "\""));
    }
    return kb ? v * 1024 : v;
  }
  return absl::NotFoundError(absl::StrCat(path, ": no MemTotal line"));
}

absl::StatusOr<int32_t> onlineCpus(const std::string& root) {
  std::string path = joinRoot(root, "/sys/devices/system/cpu/online");
  auto content = core::readFile(path);
  if (content.ok()) {
    std::string list(absl::StripAsciiWhitespace(*content));
    auto n = countCpuList(list);
    if (!n || *n <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": bad CPU list \"", list, "\""));
    }
    return *n;
  }
  // No sysfs (some containers): count the processors /proc/cpuinfo lists.
  std::string cpuinfo = joinRoot(root, "/proc/cpuinfo");
  auto info = core::readFile(cpuinfo);
  if (!info.ok()) {
    return absl::NotFoundError(
        absl::StrCat("online CPUs: neither ", path, " nor ", cpuinfo, " is readable"));
  }
  int32_t n = 0;
  for (absl::string_view line : absl::StrSplit(*info, '\n')) {
    if (absl::StartsWith(line, "processor")) ++n;
  }
  if (n == 0) return absl::NotFoundError(absl::StrCat(cpuinfo, ": no processor entries"));
  return n;
}

std::vector<HugePageInfo> hugePages(const std::string& root) {
  std::vector<HugePageInfo> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(joinRoot(root, "/sys/kernel/mm/hugepages"), ec);
  if (ec) return out;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    absl::string_view v(name);
    int64_t kb = 0;
    if (!absl::ConsumePrefix(&v, "hugepages-") || !absl::ConsumeSuffix(&v, "kB") ||
        !absl::SimpleAtoi(v, &kb) || kb <= 0) {
      continue;
    }
    int64_t pages = 0;
    auto nr = core::readFile((entry.path() / "nr_hugepages").string());
    if (nr.ok() && !absl::SimpleAtoi(absl::StripAsciiWhitespace(*nr), &pages)) pages = 0;
    out.push_back({kb * 1024, pages});
  }
  std::sort(out.begin(), out.end(), [](const HugePageInfo& a, const HugePageInfo& b) {
    return a.pageSizeBytes < b.pageSizeBytes;
  });
  return out;
}

absl::StatusOr<int64_t> statfsCapacity(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return core::errnoStatus(errno, "statfs " + path);
  return static_cast<int64_t>(st.f_blocks) * static_cast<int64_t>(st.f_frsize);
}

std::string unameField(bool release) {
  struct utsname u {};
  if (::uname(&u) != 0) return "";
  return release ? u.release : u.nodename;
}

}  // namespace

std::optional<int32_t> countCpuList(const std::string& list) {
  if (list.empty()) return std::nullopt;
  int32_t n = 0;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    int32_t lo = 0, hi = 0;
    if (ends.size() == 1 && absl::SimpleAtoi(ends[0], &lo)) {
      hi = lo;
    } else if (ends.size() != 2 || !absl::SimpleAtoi(ends[0], &lo) ||
               !absl::SimpleAtoi(ends[1], &hi)) {
      return std::nullopt;
    }
    if (lo < 0 || hi < lo) return std::nullopt;
    n += hi - lo + 1;
  }
  return n;
}

absl::StatusOr<MachineInfo> readMachineInfo(const MachineInfoOptions& opts) {
  const std::string& root = opts.root;
  MachineInfo m;
  m.machineID = firstFile(root, {"/etc/machine-id", "/var/lib/dbus/machine-id"});
  // cAdvisor's order: DMI, then the POWER device tree, then s390x's /etc/machine-id.
  m.systemUUID = firstFile(root, {"/sys/class/dmi/id/product_uuid"});
  if (m.systemUUID.empty()) {
    m.systemUUID =
        firstFile(root, {"/proc/device-tree/system-id", "/proc/device-tree/vm,uuid"}, true);
  }
#if defined(__s390x__)
  if (m.systemUUID.empty()) m.systemUUID = firstFile(root, {"/etc/machine-id"});
#endif
  if (m.systemUUID.empty()) {
    LOG_WARNING << "machine info: no system UUID ("
                << joinRoot(root, "/sys/class/dmi/id/product_uuid")
                << " unreadable); nodeInfo.systemUUID stays empty";
  }
  m.bootID = firstFile(root, {"/proc/sys/kernel/random/boot_id"});
  m.kernelVersion = firstFile(root, {"/proc/sys/kernel/osrelease"});
  if (m.kernelVersion.empty() && (root.empty() || root == "/")) m.kernelVersion = unameField(true);
  m.hostname = firstFile(root, {"/proc/sys/kernel/hostname"});
  if (m.hostname.empty() && (root.empty() || root == "/")) m.hostname = unameField(false);
  m.osImage = osImage(root);
  m.architecture = core::goArch();
  auto mem = memTotal(root);
  if (!mem.ok()) return core::annotate(mem.status(), "machine info: memory capacity");
  m.memoryCapacityBytes = *mem;
  auto cpus = onlineCpus(root);
  if (!cpus.ok()) return core::annotate(cpus.status(), "machine info: CPU count");
  m.numCores = *cpus;
  m.hugePages = hugePages(root);
  auto capacityOf = opts.filesystemCapacity ? opts.filesystemCapacity : statfsCapacity;
  auto fs = capacityOf(opts.rootDir);
  if (fs.ok()) {
    m.ephemeralStorageBytes = *fs;
  } else {
    LOG_WARNING << "machine info: ephemeral-storage capacity of " << opts.rootDir << ": "
                << fs.status().message();
  }
  return m;
}

}  // namespace agent::node

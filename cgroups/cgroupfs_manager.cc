#include "cgroups/cgroupfs_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace cgroups {
namespace {

bool isDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool fileExists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// "-1" is the kernel's "max"; other negatives are a caller's bug the kernel would
// reject less clearly.
absl::StatusOr<std::string> limitValue(const std::string& file, int64_t v) {
  if (v == -1) return std::string("max");
  if (v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("write ", file, ": invalid value ", v, " (a limit is >= 0, or -1 for max)"));
  }
  return std::to_string(v);
}

// The controller each interface file belongs to.
struct Setting {
  const char* file;
  const char* controller;
  std::string value;
};

std::string cgroupDir(const std::string& root, const CgroupName& name) {
  std::string rel = toCgroupfs(name);
  return rel == "/" ? root : root + rel;
}

}  // namespace

CgroupfsDirOps kernelDirOps() {
  return CgroupfsDirOps{
      .mkdir = [](const std::string& p) { return ::mkdir(p.c_str(), 0755) == 0 ? 0 : errno; },
      .rmdir = [](const std::string& p) { return ::rmdir(p.c_str()) == 0 ? 0 : errno; },
  };
}

const std::set<std::string>& kubeletControllers() {
  static const auto* const kSet =
      new std::set<std::string>{"cpu", "cpuset", "memory", "hugetlb", "pids"};
  return *kSet;
}

absl::Status writeCgroupFile(const std::string& file, const std::string& value) {
  // O_TRUNC as runc's WriteFile: meaningless to the kernel, but a fake tree's plain
  // files then hold exactly what was written last.
  int fd = ::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return core::errnoStatus(errno, absl::StrCat("write ", file));
  // One write(2): the kernel parses each write as one value.
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return core::errnoStatus(err, absl::StrCat("write ", file));
  if (static_cast<size_t>(n) != value.size()) {
    return absl::InternalError(
        absl::StrCat("write ", file, ": short write (", n, " of ", value.size(), " bytes)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::set<std::string>> readControllerList(const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  std::set<std::string> out;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    if (word[0] == '+') word.erase(0, 1);
    if (!word.empty()) out.insert(word);
  }
  return out;
}

CgroupfsManager::CgroupfsManager(std::string root, CgroupfsDirOps ops)
    : root_(std::move(root)), ops_(std::move(ops)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string CgroupfsManager::path(const CgroupName& name) const { return cgroupDir(root_, name); }

absl::StatusOr<std::set<std::string>> CgroupfsManager::neededControllers() const {
  ASSIGN_OR_RETURN(std::set<std::string> offered,
                   readControllerList(root_ + "/cgroup.controllers"));
  std::set<std::string> out;
  for (const std::string& c : kubeletControllers()) {
    if (offered.count(c)) out.insert(c);
  }
  return out;
}

bool CgroupfsManager::exists(const CgroupName& name) const {
  std::string dir = path(name);
  if (!isDir(dir)) return false;
  auto needed = neededControllers();
  auto enabled = readControllerList(dir + "/cgroup.controllers");
  if (!needed.ok() || !enabled.ok()) {
    VLOG(4) << "cgroup " << dir << " exists but its controllers cannot be read: "
            << (needed.ok() ? enabled.status() : needed.status());
    return false;
  }
  for (const std::string& c : *needed) {
    if (!enabled->count(c)) {
      VLOG(4) << "cgroup " << dir << " is missing the " << c << " controller";
      return false;
    }
  }
  return true;
}

absl::Status CgroupfsManager::enableControllers(const std::string& dir,
                                                const std::set<std::string>& needed) {
  ASSIGN_OR_RETURN(std::set<std::string> available,
                   readControllerList(dir + "/cgroup.controllers"));
  ASSIGN_OR_RETURN(std::set<std::string> enabled,
                   readControllerList(dir + "/cgroup.subtree_control"));
  std::vector<std::string> want;
  bool missing = false;
  for (const std::string& c : needed) {
    if (!available.count(c)) continue;
    want.push_back("+" + c);
    if (!enabled.count(c)) missing = true;
  }
  if (!missing) return absl::OkStatus();
  // Everything in one write (enabling an enabled controller is a no-op), so the
  // file reads back the whole set; if the kernel refuses the batch (EBUSY when the
  // cgroup holds processes, for one) try each, as runc does, and leave the precise
  // error to the write that needs the controller.
  std::string file = dir + "/cgroup.subtree_control";
  absl::Status all = writeCgroupFile(file, absl::StrJoin(want, " "));
  if (all.ok()) return all;
  LOG_WARNING << all << "; enabling the controllers one by one";
  for (const std::string& c : want) {
    absl::Status one = writeCgroupFile(file, c);
    if (!one.ok()) LOG_WARNING << one;
  }
  return absl::OkStatus();
}

absl::Status CgroupfsManager::createSync(const CgroupName& name, const ResourceConfig& rc) {
  ASSIGN_OR_RETURN(std::set<std::string> needed, neededControllers());
  CgroupName rel = fromCgroupfs(toCgroupfs(name));
  std::string dir = root_;
  for (const std::string& component : rel.components) {
    // The parent first: a child's controllers are what its parent enables.
    RETURN_IF_ERROR(enableControllers(dir, needed));
    dir += "/" + component;
    if (isDir(dir)) continue;
    int err = ops_.mkdir(dir);
    if (err == EEXIST && isDir(dir)) continue;  // made meanwhile by someone else
    if (err != 0) return core::errnoStatus(err, absl::StrCat("mkdir ", dir));
    VLOG(2) << "created cgroup " << dir;
  }
  return updateSync(name, rc);
}

absl::Status CgroupfsManager::updateSync(const CgroupName& name, const ResourceConfig& rc) {
  std::string dir = path(name);
  std::vector<Setting> settings;
  if (rc.cpuWeight) settings.push_back({"cpu.weight", "cpu", std::to_string(*rc.cpuWeight)});
  if (rc.cpuQuotaUs || rc.cpuPeriodUs) {
    std::string quota;
    if (rc.cpuQuotaUs) {
      ASSIGN_OR_RETURN(quota, limitValue(dir + "/cpu.max", *rc.cpuQuotaUs));
    } else {
      // A new period alone keeps the quota: cpu.max takes both, so read it back.
      ASSIGN_OR_RETURN(std::string current, core::readFile(dir + "/cpu.max"));
      std::istringstream(current) >> quota;
      if (quota.empty()) return absl::InternalError(absl::StrCat("read ", dir, "/cpu.max: empty"));
    }
    // "<quota> <period>", or the quota alone, which keeps the period (as runc).
    std::string value = rc.cpuPeriodUs ? absl::StrCat(quota, " ", *rc.cpuPeriodUs) : quota;
    settings.push_back({"cpu.max", "cpu", value});
  }
  struct Limit {
    const std::optional<int64_t>& v;
    const char* file;
    const char* controller;
  };
  for (const Limit& l :
       {Limit{rc.memoryMax, "memory.max", "memory"}, Limit{rc.memoryMin, "memory.min", "memory"},
        Limit{rc.memoryHigh, "memory.high", "memory"}, Limit{rc.pidsMax, "pids.max", "pids"}}) {
    if (!l.v) continue;
    ASSIGN_OR_RETURN(std::string value, limitValue(dir + "/" + l.file, *l.v));
    settings.push_back({l.file, l.controller, value});
  }
  if (settings.empty()) return absl::OkStatus();

  ASSIGN_OR_RETURN(std::set<std::string> enabled, readControllerList(dir + "/cgroup.controllers"));
  for (const Setting& s : settings) {
    std::string file = dir + "/" + s.file;
    if (!enabled.count(s.controller)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "write ", file, ": the ", s.controller, " controller is not enabled for this cgroup (",
          dir, "/cgroup.controllers lists \"", absl::StrJoin(enabled, " "), "\")"));
    }
    RETURN_IF_ERROR(writeCgroupFile(file, s.value));
    VLOG(3) << "wrote " << file << " = " << s.value;
  }
  return absl::OkStatus();
}

absl::Status CgroupfsManager::removeTree(const std::string& dir) {
  std::vector<std::string> children;
  {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return core::errnoStatus(errno, absl::StrCat("open ", dir));
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && isDir(dir + "/" + n)))
        children.push_back(n);
    }
    ::closedir(d);
  }
  for (const std::string& c : children) RETURN_IF_ERROR(removeTree(dir + "/" + c));
  int err = ops_.rmdir(dir);
  if (err == ENOENT) return absl::OkStatus();
  if (err == EBUSY) {
    return core::annotate(core::errnoStatus(err, absl::StrCat("rmdir ", dir)),
                          "the cgroup still holds processes");
  }
  if (err != 0) return core::errnoStatus(err, absl::StrCat("rmdir ", dir));
  VLOG(2) << "removed cgroup " << dir;
  return absl::OkStatus();
}

absl::Status CgroupfsManager::destroySync(const CgroupName& name) {
  std::string dir = path(name);
  if (dir == root_)
    return absl::InvalidArgumentError(
        absl::StrCat("destroy ", dir, ": refusing to remove the cgroup root"));
  if (!isDir(dir)) return absl::OkStatus();
  // Refuse up front so a populated cgroup keeps its empty children too.
  if (fileExists(dir + "/cgroup.events")) {
    ASSIGN_OR_RETURN(bool busy, populated(dir));
    if (busy) {
      auto pids = cgroupProcs(dir);
      return absl::FailedPreconditionError(absl::StrCat(
          "destroy ", dir, ": the cgroup still holds processes (", dir,
          "/cgroup.events: populated 1",
          pids.ok() && !pids->empty() ? absl::StrCat("; pids ", absl::StrJoin(*pids, " ")) : "",
          ")"));
    }
  }
  return removeTree(dir);
}

void CgroupfsManager::create(const CgroupName& name, const ResourceConfig& rc, Done done) {
  done(createSync(name, rc));
}

void CgroupfsManager::update(const CgroupName& name, const ResourceConfig& rc, Done done) {
  done(updateSync(name, rc));
}

void CgroupfsManager::destroy(const CgroupName& name, Done done) { done(destroySync(name)); }

absl::StatusOr<std::vector<int>> cgroupProcs(const std::string& cgroupPath) {
  std::string file = cgroupPath + "/cgroup.procs";
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  std::vector<int> pids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    long v = std::strtol(word.c_str(), &end, 10);
    if (*end != '\0' || v <= 0)
      return absl::InternalError(absl::StrCat("read ", file, ": bad pid \"", word, "\""));
    pids.push_back(static_cast<int>(v));
  }
  return pids;
}

absl::Status moveProcess(const std::string& cgroupPath, int pid) {
  return writeCgroupFile(cgroupPath + "/cgroup.procs", std::to_string(pid));
}

absl::StatusOr<bool> populated(const std::string& cgroupPath) {
  std::string file = cgroupPath + "/cgroup.events";
  ASSIGN_OR_RETURN(std::string text, core::readFile(file));
  std::istringstream in(text);
  std::string key, value;
  while (in >> key >> value) {
    if (key == "populated") return value == "1";
  }
  return absl::InternalError(absl::StrCat("read ", file, ": no \"populated\" line"));
}

absl::Status killAll(const std::string& cgroupPath) {
  if (fileExists(cgroupPath + "/cgroup.kill"))
    return writeCgroupFile(cgroupPath + "/cgroup.kill", "1");
  // Older kernels: signal each process; a fork racing with this can escape, which
  // cgroup.kill exists to prevent.
  ASSIGN_OR_RETURN(std::vector<int> pids, cgroupProcs(cgroupPath));
  for (int pid : pids) {
    if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
      return core::errnoStatus(errno, absl::StrCat("kill ", pid, " in ", cgroupPath));
    }
  }
  DIR* d = ::opendir(cgroupPath.c_str());
  if (d == nullptr) return core::errnoStatus(errno, absl::StrCat("open ", cgroupPath));
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && e->d_type == DT_DIR) children.push_back(cgroupPath + "/" + n);
  }
  ::closedir(d);
  for (const std::string& c : children) RETURN_IF_ERROR(killAll(c));
  return absl::OkStatus();
}

}  // namespace cgroups

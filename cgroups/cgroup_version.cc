#include "cgroups/cgroup_version.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace cgroups {
namespace {

// errno when statfs fails, else whether `path` is a cgroup2 filesystem.
int isCgroup2(const std::string& path, bool* yes) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) return errno;
  *yes = st.f_type == CGROUP2_SUPER_MAGIC;
  return 0;
}

std::vector<std::string> readControllers(const std::string& mount) {
  std::vector<std::string> out;
  auto text = core::readFile(mount + "/cgroup.controllers");
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

// mountinfo escapes blanks, tabs, newlines and backslashes in paths as \ooo.
std::string unescapeMountPath(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '3' &&
        in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
      out += static_cast<char>((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0'));
      i += 3;
    } else {
      out += in[i];
    }
  }
  return out;
}

// Mount options of a v1 cgroup mount that are not controllers.
bool isControllerOption(std::string_view opt) {
  static constexpr std::string_view kNotControllers[] = {
      "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"};
  for (std::string_view o : kNotControllers) {
    if (opt == o) return false;
  }
  return !opt.empty() && opt.rfind("release_agent=", 0) != 0;
}

// The names of the directories in `dir` (not "." or ".."); errno when it cannot be read.
int subdirectories(const std::string& dir, std::vector<std::string>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool isDir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      isDir = ::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (isDir) out->push_back(std::move(name));
  }
  ::closedir(d);
  return 0;
}

}  // namespace

std::vector<CgroupMount> parseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> out;
  std::set<std::string> seen;  // major:minor of the hierarchies listed
  absl::string_view text(mountinfo.data(), mountinfo.size());
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash < 6 || dash + 1 >= f.size()) continue;
    absl::string_view type = f[dash + 1];
    if (type != "cgroup" && type != "cgroup2") continue;
    if (!seen.insert(std::string(f[2])).second) continue;
    CgroupMount m;
    m.mountPoint = unescapeMountPath(std::string_view(f[4].data(), f[4].size()));
    m.v2 = type == "cgroup2";
    if (!m.v2 && dash + 3 < f.size()) {
      for (absl::string_view opt : absl::StrSplit(f[dash + 3], ',')) {
        if (isControllerOption(std::string_view(opt.data(), opt.size())))
          m.controllers.insert(std::string(opt));
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<CgroupMount>> readCgroupMounts(const std::string& mountinfoPath) {
  ASSIGN_OR_RETURN(std::string text, core::readFile(mountinfoPath));
  return parseCgroupMounts(text);
}

std::string v1MountOf(const std::vector<CgroupMount>& mounts, const std::string& controller) {
  for (const CgroupMount& m : mounts) {
    if (!m.v2 && m.controllers.count(controller)) return m.mountPoint;
  }
  return "";
}

absl::Status removeCgroupDir(const std::string& dir) {
  // The fast path: an empty cgroup goes with one rmdir.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EBUSY && errno != ENOTEMPTY && errno != EEXIST)
    return core::errnoStatus(errno, "rmdir " + dir);
  std::vector<std::string> children;
  if (int err = subdirectories(dir, &children); err != 0) {
    if (err == ENOENT) return absl::OkStatus();
    return core::errnoStatus(err, "read cgroup directory " + dir);
  }
  for (const std::string& c : children) RETURN_IF_ERROR(removeCgroupDir(dir + "/" + c));
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  return core::errnoStatus(errno, "rmdir " + dir);
}

absl::StatusOr<CgroupHost> detectCgroupMode(const std::string& root) {
  CgroupHost host;
  host.root = root;
  bool v2 = false;
  if (int err = isCgroup2(root, &v2); err != 0)
    return core::errnoStatus(err, absl::StrCat("statfs ", root));
  if (v2) {
    host.mode = CgroupMode::kUnifiedV2;
    host.cgroup2Mount = root;
  } else {
    // As runc: a missing (or unreadable) <root>/unified just means no hybrid mount.
    std::string unified = root + "/unified";
    bool hybrid = false;
    if (isCgroup2(unified, &hybrid) == 0 && hybrid) {
      host.mode = CgroupMode::kHybrid;
      host.cgroup2Mount = unified;
    } else {
      host.mode = CgroupMode::kLegacyV1;
    }
  }
  if (!host.cgroup2Mount.empty()) host.v2Controllers = readControllers(host.cgroup2Mount);
  return host;
}

std::string cgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kUnifiedV2:
      return "unified";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kLegacyV1:
      return "legacy";
  }
  return "unknown";
}

std::string describeCgroupMode(const CgroupHost& host) {
  std::string controllers = absl::StrCat("[", absl::StrJoin(host.v2Controllers, " "), "]");
  switch (host.mode) {
    case CgroupMode::kUnifiedV2:
      return absl::StrCat("cgroup v2 (unified hierarchy at ", host.root, " with controllers ",
                          controllers, ")");
    case CgroupMode::kHybrid:
      return absl::StrCat("cgroup v1 (hybrid: v1 controllers under ", host.root, ", cgroup2 at ",
                          host.cgroup2Mount, " with controllers ", controllers, ")");
    case CgroupMode::kLegacyV1:
      return absl::StrCat("cgroup v1 (legacy: v1 controllers under ", host.root,
                          ", no cgroup2 hierarchy)");
  }
  return "cgroup mode unknown";
}

std::string v1FeaturesOffMessage() {
  return "cgroup v1 host: cubelet creates and limits no cgroups itself. Pods still get the "
         "kubepods/<qos>/pod<uid> parents as cgroup_parent, which the runtime creates, and "
         "container cpu/memory limits still apply through the runtime. Off on this host: "
         "pod-level cgroup limits (pod cpu.max/cpu.weight/memory.max/pids.max), QoS parent "
         "cgroup updates (burstable/besteffort weights), node allocatable enforcement on "
         "kubepods, memory QoS (memory.min/memory.high) and PSI pressure statistics. Use a "
         "cgroup v2 host for these";
}

std::string LegacyCgroupManager::runtimeParent(const CgroupName& name) const {
  return driver_ == "systemd" ? toSystemd(name) : toCgroupfs(name);
}

std::vector<std::string> LegacyCgroupManager::candidateDirs(const CgroupName& name) const {
  std::vector<std::string> out;
  auto mounts = readCgroupMounts(mountinfoPath_);
  if (!mounts.ok()) {
    LOG_WARNING << "cgroup v1 hierarchies: " << mounts.status().message();
    return out;
  }
  // runc joins an absolute cgroupsPath (cgroupfs) or the expanded slice path
  // (systemd: what systemd creates for the slice) to each hierarchy's mount point.
  std::string rel = name.components.empty() ? "" : runtimeParent(name);
  for (const CgroupMount& m : *mounts) out.push_back(m.mountPoint + rel);
  return out;
}

std::vector<std::string> LegacyCgroupManager::dirs(const CgroupName& name) const {
  std::vector<std::string> out;
  for (std::string& d : candidateDirs(name)) {
    struct stat st;
    if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(std::move(d));
  }
  return out;
}

bool LegacyCgroupManager::exists(const CgroupName& name) const { return !dirs(name).empty(); }

std::set<std::string> LegacyCgroupManager::childNames(const CgroupName& name) const {
  std::set<std::string> out;
  for (const std::string& d : dirs(name)) {
    std::vector<std::string> children;
    subdirectories(d, &children);
    out.insert(children.begin(), children.end());
  }
  return out;
}

void LegacyCgroupManager::destroy(const CgroupName& name, Done done) {
  absl::Status first;
  for (const std::string& d : candidateDirs(name)) {
    absl::Status s = removeCgroupDir(d);
    if (!s.ok() && first.ok()) first = s;
  }
  done(first);
}

}  // namespace cgroups

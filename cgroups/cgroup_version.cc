#include "cgroups/cgroup_version.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <cerrno>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/atomic_file.h"
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

}  // namespace

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

}  // namespace cgroups

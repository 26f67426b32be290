// Which cgroup hierarchy the host has, decided as runc's IsCgroup2UnifiedMode and
// IsCgroup2HybridMode (which the kubelet uses): the filesystem type of
// /sys/fs/cgroup, and of /sys/fs/cgroup/unified. Plus the manager for cgroup v1
// hosts: cubelet does not write v1 controllers; it only names the pod parents that
// the runtime creates itself (runc makes the cgroup_parent it is handed), and removes
// the directories runc leaves behind once a pod is gone.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cgroups/cgroup_manager.h"

namespace cgroups {

enum class CgroupMode {
  kUnifiedV2,  // /sys/fs/cgroup is cgroup2: the only hierarchy
  kHybrid,     // v1 controllers under a tmpfs, plus a cgroup2 at <root>/unified
  kLegacyV1,   // v1 controllers only
};

struct CgroupHost {
  CgroupMode mode = CgroupMode::kLegacyV1;
  std::string root;                        // what was examined, "/sys/fs/cgroup"
  std::string cgroup2Mount;                // the cgroup2 mount; "" on a legacy host
  std::vector<std::string> v2Controllers;  // its cgroup.controllers (best effort)
};

// statfs(root).f_type == CGROUP2_SUPER_MAGIC → unified; else statfs(root/unified)
// is cgroup2 → hybrid; else legacy. An error only when `root` itself cannot be
// examined.
absl::StatusOr<CgroupHost> detectCgroupMode(const std::string& root = "/sys/fs/cgroup");

// "unified", "hybrid", "legacy".
std::string cgroupModeName(CgroupMode mode);
// One line for the startup log, e.g. "cgroup v1 (hybrid: v1 controllers under
// /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified with controllers [hugetlb])".
std::string describeCgroupMode(const CgroupHost& host);
// What cubelet does not do on a cgroup v1 (legacy or hybrid) host, for the log.
std::string v1FeaturesOffMessage();

// One mounted cgroup hierarchy, from a mount table.
struct CgroupMount {
  std::string mountPoint;             // "/sys/fs/cgroup/cpu,cpuacct"
  bool v2 = false;                    // a cgroup2 mount (hybrid's "unified")
  std::set<std::string> controllers;  // v1: from the mount options ("cpu", "cpuacct",
                                      // "name=systemd"); empty for cgroup2
};

// The cgroup and cgroup2 mounts of a mount table in /proc/<pid>/mountinfo form, one
// per hierarchy (a hierarchy mounted twice is listed at its first mount point).
std::vector<CgroupMount> parseCgroupMounts(std::string_view mountinfo);
absl::StatusOr<std::vector<CgroupMount>> readCgroupMounts(
    const std::string& mountinfoPath = "/proc/self/mountinfo");
// The mount point of the v1 hierarchy that has `controller`, "" when none does.
std::string v1MountOf(const std::vector<CgroupMount>& mounts, const std::string& controller);

// Removes the cgroup directory `dir` as libcontainer's RemovePath does: child cgroups
// first (depth-first), then `dir`; only rmdir, never a kill, so a cgroup that still
// holds processes stays (EBUSY). A `dir` that does not exist is fine. The error names
// the first directory that could not be removed ("rmdir /sys/fs/cgroup/...: EBUSY").
absl::Status removeCgroupDir(const std::string& dir);

// The manager for cgroup v1 hosts: creates and limits nothing (those calls succeed at
// once) and hands the runtime the same parents the v2 driver would, in the form of
// `driver` ("cgroupfs": "/kubepods/burstable/pod<uid>"; "systemd":
// "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice").
// runc makes those directories in every hierarchy (the v1 controllers, name=systemd
// and a hybrid host's cgroup2; under the systemd driver through systemd, as the
// slice's nesting) and leaves them when the pod's last container goes, so exists()
// and destroy() look at every cgroup mount of `mountinfoPath`, as libcontainer's
// Destroy removes its paths in every subsystem.
class LegacyCgroupManager : public CgroupManager {
 public:
  explicit LegacyCgroupManager(std::string driver,
                               std::string mountinfoPath = "/proc/self/mountinfo")
      : driver_(std::move(driver)), mountinfoPath_(std::move(mountinfoPath)) {}

  std::string driver() const override { return driver_; }
  bool managesCgroups() const override { return false; }
  std::string runtimeParent(const CgroupName& name) const override;
  // No single directory holds a v1 cgroup: dirs() lists them.
  std::string path(const CgroupName&) const override { return ""; }
  // Whether the cgroup's directory is in any hierarchy.
  bool exists(const CgroupName& name) const override;
  void create(const CgroupName&, const ResourceConfig&, Done done) override {
    done(absl::OkStatus());
  }
  void update(const CgroupName&, const ResourceConfig&, Done done) override {
    done(absl::OkStatus());
  }
  // removeCgroupDir in every hierarchy; each hierarchy is tried, the first failure is
  // reported. Completes before it returns.
  void destroy(const CgroupName& name, Done done) override;

  // The cgroup's directory in each hierarchy that has it.
  std::vector<std::string> dirs(const CgroupName& name) const;
  // The names of its child cgroups in any hierarchy.
  std::set<std::string> childNames(const CgroupName& name) const;

 private:
  // Every hierarchy's directory for `name` (in the driver's naming), present or not.
  std::vector<std::string> candidateDirs(const CgroupName& name) const;

  std::string driver_;
  std::string mountinfoPath_;
};

}  // namespace cgroups

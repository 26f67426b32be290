// Which cgroup hierarchy the host has, decided as runc's IsCgroup2UnifiedMode and
// IsCgroup2HybridMode (which the kubelet uses): the filesystem type of
// /sys/fs/cgroup, and of /sys/fs/cgroup/unified. Plus the manager for cgroup v1
// hosts: cubelet does not write v1 controllers; it only names the pod parents that
// the runtime creates itself (runc makes the cgroup_parent it is handed).
#pragma once

#include <string>
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

// The manager for cgroup v1 hosts: creates, limits and removes nothing (every call
// succeeds at once) and hands the runtime the same parents the v2 driver would, in
// the form of `driver` ("cgroupfs": "/kubepods/burstable/pod<uid>"; "systemd":
// "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice").
class LegacyCgroupManager : public CgroupManager {
 public:
  explicit LegacyCgroupManager(std::string driver) : driver_(std::move(driver)) {}

  std::string driver() const override { return driver_; }
  bool managesCgroups() const override { return false; }
  std::string runtimeParent(const CgroupName& name) const override;
  std::string path(const CgroupName&) const override { return ""; }
  // Nothing is created, so nothing exists as far as this manager knows.
  bool exists(const CgroupName&) const override { return false; }
  void create(const CgroupName&, const ResourceConfig&, Done done) override {
    done(absl::OkStatus());
  }
  void update(const CgroupName&, const ResourceConfig&, Done done) override {
    done(absl::OkStatus());
  }
  void destroy(const CgroupName&, Done done) override { done(absl::OkStatus()); }

 private:
  std::string driver_;
};

}  // namespace cgroups

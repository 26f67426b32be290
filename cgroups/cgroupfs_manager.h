// The cgroupfs driver on cgroup v2: creates the kubelet's cgroups as directories of
// the cgroup2 mount and writes their interface files directly (cpu.weight, cpu.max,
// memory.max/min/high, pids.max), enabling the kubelet's controllers in each
// ancestor's cgroup.subtree_control as runc's fs2 CreateCgroupPath does. Every call
// is a few small synchronous file operations on a kernel filesystem, so `Done` runs
// before the call returns. Also the per-cgroup helpers the agent and the tests use:
// the processes in a cgroup, moving one in, `populated`, killing everything.
//
// Missing controllers: creating a cgroup never fails because a controller is not
// available (the directory is made and whatever is available enabled); applying a
// value whose controller is not listed in the cgroup's own cgroup.controllers fails
// with FailedPrecondition naming the file and the controller, as the kubelet fails
// when a controller it needs is missing.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cgroups/cgroup_manager.h"

namespace cgroups {

// The two directory operations that the kernel turns into a cgroup being made or
// removed. Each returns 0 or an errno. Tests on a fake tree in a temp dir replace
// them to lay out (and remove) the interface files as the kernel would.
struct CgroupfsDirOps {
  std::function<int(const std::string& path)> mkdir;
  std::function<int(const std::string& path)> rmdir;
};
// mkdir(2) with mode 0755 and rmdir(2).
CgroupfsDirOps kernelDirOps();

// The controllers the kubelet uses on cgroup v2 (getSupportedUnifiedControllers);
// what it enables is this set intersected with the root's cgroup.controllers.
const std::set<std::string>& kubeletControllers();

class CgroupfsManager : public CgroupManager {
 public:
  // `root` is the cgroup2 mount ("/sys/fs/cgroup" on a unified host).
  explicit CgroupfsManager(std::string root = "/sys/fs/cgroup",
                           CgroupfsDirOps ops = kernelDirOps());

  std::string driver() const override { return "cgroupfs"; }
  bool managesCgroups() const override { return true; }
  std::string runtimeParent(const CgroupName& name) const override { return toCgroupfs(name); }
  std::string path(const CgroupName& name) const override;
  // The directory exists and every controller the kubelet needs (those the root
  // offers) is enabled in it, as the kubelet's Exists/Validate.
  bool exists(const CgroupName& name) const override;

  void create(const CgroupName& name, const ResourceConfig& rc, Done done) override;
  void update(const CgroupName& name, const ResourceConfig& rc, Done done) override;
  void destroy(const CgroupName& name, Done done) override;

  // The same operations, returning their status.
  absl::Status createSync(const CgroupName& name, const ResourceConfig& rc);
  absl::Status updateSync(const CgroupName& name, const ResourceConfig& rc);
  // A missing cgroup is fine. A populated one is refused before anything is removed.
  absl::Status destroySync(const CgroupName& name);

  const std::string& root() const { return root_; }

 private:
  // The controllers this manager enables: kubeletControllers() ∩ root's offer.
  absl::StatusOr<std::set<std::string>> neededControllers() const;
  absl::Status enableControllers(const std::string& dir, const std::set<std::string>& needed);
  absl::Status removeTree(const std::string& dir);

  std::string root_;
  CgroupfsDirOps ops_;
};

// Writes `value` to an existing cgroup interface file (never creates one). Errors
// read "write <file>: <strerror>".
absl::Status writeCgroupFile(const std::string& file, const std::string& value);
// The space-separated names in a cgroup.controllers or cgroup.subtree_control file
// (a leading "+" is dropped).
absl::StatusOr<std::set<std::string>> readControllerList(const std::string& file);

// The PIDs in <cgroup>/cgroup.procs.
absl::StatusOr<std::vector<int>> cgroupProcs(const std::string& cgroupPath);
// Moves `pid` into the cgroup (writes <cgroup>/cgroup.procs).
absl::Status moveProcess(const std::string& cgroupPath, int pid);
// Whether the cgroup or a descendant holds a process ("populated" in cgroup.events).
absl::StatusOr<bool> populated(const std::string& cgroupPath);
// SIGKILLs every process in the cgroup and its descendants: through cgroup.kill
// (Linux 5.14+) when present, else one by one from each cgroup.procs.
absl::Status killAll(const std::string& cgroupPath);

}  // namespace cgroups

// The driver-neutral cgroup manager, as the kubelet's CgroupManager: a cgroup is named
// by its place in the kubelet's hierarchy ({"kubepods", "burstable", "pod<uid>"}) and
// each driver turns that name into its own form — a cgroupfs path
// ("/kubepods/burstable/pod<uid>") or a systemd slice
// ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice").
// Implementations: cgroupfs_manager.h (writes the cgroup2 files), systemd_manager.h
// (transient slices over sd-bus), and the v1 manager (cgroup_version.h) that creates
// nothing and only names parents for the runtime.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cgroups {

// A cgroup's components below the cgroup root; empty = the root itself. Components
// are the kubelet's ("kubepods", "burstable", "besteffort", "pod<uid>"); a
// --cgroup-root adds its own components in front.
struct CgroupName {
  std::vector<std::string> components;
  bool operator==(const CgroupName&) const = default;
};

// "/a/b/c" (cgroupfs form; "/" for the root). The inverse parses such a path.
std::string toCgroupfs(const CgroupName& name);
CgroupName fromCgroupfs(const std::string& path);
// "/a.slice/a-b.slice/a-b-c.slice" (systemd form; "/" for the root), with each
// component's "-" replaced by "_" as the kubelet's escapeSystemdCgroupName does.
std::string toSystemd(const CgroupName& name);
// The last element of toSystemd(): "a-b-c.slice" ("-.slice" for the root).
std::string systemdSliceName(const CgroupName& name);
// name + one more component.
CgroupName child(const CgroupName& name, std::string component);

// What one cgroup is limited to, in cgroup v2 units. An unset field is left as it is.
struct ResourceConfig {
  std::optional<uint64_t> cpuWeight;    // cpu.weight, 1..10000
  std::optional<int64_t> cpuQuotaUs;    // cpu.max quota; -1 = "max"
  std::optional<uint64_t> cpuPeriodUs;  // cpu.max period (written with the quota)
  std::optional<int64_t> memoryMax;     // memory.max bytes; -1 = "max"
  std::optional<int64_t> memoryMin;     // memory.min bytes (memory QoS)
  std::optional<int64_t> memoryHigh;    // memory.high bytes; -1 = "max" (memory QoS)
  std::optional<int64_t> pidsMax;       // pids.max; -1 = "max"
  bool operator==(const ResourceConfig&) const = default;
};

// Every call completes through `done`, on the event loop thread: either before the
// call returns (cgroupfs) or later (systemd, when its job finishes). Errors name the
// cgroup and the file or unit at fault ("write /sys/fs/cgroup/kubepods/cpu.max: EINVAL").
class CgroupManager {
 public:
  using Done = std::function<void(absl::Status)>;
  virtual ~CgroupManager() = default;

  // "cgroupfs" or "systemd": what the runtime must be configured with too.
  virtual std::string driver() const = 0;
  // Whether this manager creates and limits cgroups itself (false on cgroup v1 hosts,
  // where the runtime creates the parents it is handed).
  virtual bool managesCgroups() const = 0;
  // What the runtime gets as a sandbox's cgroup_parent for this cgroup.
  virtual std::string runtimeParent(const CgroupName& name) const = 0;
  // The cgroup's directory (for stats and tests); "" when not on cgroup v2.
  virtual std::string path(const CgroupName& name) const = 0;
  virtual bool exists(const CgroupName& name) const = 0;

  // Creates the cgroup (and missing ancestors, with the needed controllers enabled in
  // each parent's cgroup.subtree_control), then applies `rc`. Creating an existing
  // cgroup only applies `rc`.
  virtual void create(const CgroupName& name, const ResourceConfig& rc, Done done) = 0;
  virtual void update(const CgroupName& name, const ResourceConfig& rc, Done done) = 0;
  // Removes the cgroup (it must hold no processes; child cgroups are removed first).
  virtual void destroy(const CgroupName& name, Done done) = 0;
};

using CgroupManagerPtr = std::unique_ptr<CgroupManager>;

}  // namespace cgroups

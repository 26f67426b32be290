// Builds the Summary (summary.h) the way the kubelet's CRI stats provider does:
// the node from /proc and statvfs, the image filesystem from CRI ImageFsInfo, and
// each pod from its CRI sandbox, its running containers' CRI ContainerStats, its
// emptyDir volumes and its log directory.
//
//   node.cpu         /proc/stat; usageNanoCores from the delta to the previous collect()
//   node.memory      /proc/meminfo: available = MemTotal - (MemTotal - MemFree - Inactive(file))
//   node.fs          statvfs(rootDir)
//   runtime.imageFs  ImageFsInfo used bytes/inodes + statvfs(its mountpoint) capacity
//   node.rlimit      min(pid_max, threads-max) and the task count (/proc/loadavg)
//   pod              grouped by sandbox (identity from the io.kubernetes.pod.* labels,
//                    else the sandbox metadata); the newest ready sandbox per pod uid
//   container        running containers only: CRI cpu/memory; writable layer -> rootfs;
//                    <podLogsDir>/<ns>_<name>_<uid>/<container> -> logs. When the
//                    runtime leaves cpu or memory out, they come from the container's
//                    cgroup (container_cgroup.h: found through ContainerStatus verbose
//                    info, v1 cpuacct/memory files or cgroup2 ones)
//   pod cpu/memory   the sum over its containers
//   volume           every <rootDir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>:
//                    a tmpfs mount (medium Memory) by its statvfs, otherwise by a walk
//   ephemeral-storage  containers' rootfs + the pod log directory + disk emptyDirs
//                    (memory-backed emptyDirs are not local ephemeral storage, as
//                    the kubelet's IsLocalEphemeralVolume), capacity of nodefs
//
// Threading: collect() blocks (CRI calls, directory walks) and must run on the
// worker pool, never on the event loop. It is thread-safe: concurrent calls are
// serialized on an internal mutex, which also guards the previous CPU samples.
// Suggested wiring: a loop timer every 10 s runs collect() with core::runOnPool and
// keeps the latest Summary on the loop for /stats/summary and the eviction manager.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/stats/summary.h"
#include "cgroups/cgroup_version.h"
#include "core/event_loop.h"
#include "cri/runtime_service.h"

namespace agent::stats {

struct StatsProviderOptions {
  std::string nodeName;
  std::string rootDir = "/var/lib/kubelet";  // nodefs, and <rootDir>/pods/<uid>/volumes
  std::string podLogsDir = "/var/log/pods";
  std::string procRoot = "/proc";
  // The mount table the cgroup hierarchies are found in (for the cgroup fallback).
  std::string mountinfoPath = "/proc/self/mountinfo";
};

class StatsProvider {
 public:
  // The services and the clock must outlive the provider.
  StatsProvider(cri::RuntimeService& runtime, cri::ImageService& images, const core::Clock& clock,
                StatsProviderOptions options);

  // A full summary. Node figures that cannot be read are left out (logged), as the
  // kubelet omits what cadvisor lacks; a failing CRI list call fails the collection.
  absl::StatusOr<Summary> collect();

  // Whether, at the last collect(), the image filesystem was on another device than
  // the root dir (the kubelet's HasDedicatedImageFs). Safe from any thread.
  bool dedicatedImageFs() const { return dedicatedImageFs_.load(); }

 private:
  struct CpuSample {
    uint64_t usageNanos = 0;
    int64_t timeNanos = 0;  // monotonic for the node, CRI timestamp for containers
  };
  NodeStats collectNode(core::WallTime now);
  std::optional<FsStats> collectImageFs(core::WallTime now);
  // The rate since `prev` (updated to `cur`); nullopt on the first sample or when the
  // counter went backwards (a restarted container).
  static std::optional<uint64_t> nanoCores(std::optional<CpuSample>& prev, CpuSample cur);
  // The container's cgroup (cached per container: it never moves); nullopt, logged
  // once per container, when the runtime does not say.
  std::optional<std::string> containerCgroup(const std::string& id);
  // Fills what the runtime left out of `cpu` (when needCpu) and `mem` (needMemory)
  // from the container's cgroup.
  void fillFromCgroup(const std::string& id, bool needCpu, bool needMemory, core::WallTime now,
                      CpuStats& cpu, MemoryStats& mem, std::map<std::string, CpuSample>& seenCpu);

  cri::RuntimeService& runtime_;
  cri::ImageService& images_;
  const core::Clock& clock_;
  StatsProviderOptions options_;

  std::atomic<bool> dedicatedImageFs_{false};
  std::mutex mu_;
  std::optional<CpuSample> nodeCpu_;
  std::map<std::string, CpuSample> containerCpu_;  // by container id
  // By container id: its cgroup, or nullopt when the runtime did not tell.
  std::map<std::string, std::optional<std::string>> cgroups_;
  std::optional<std::vector<cgroups::CgroupMount>> mounts_;  // read once
};

}  // namespace agent::stats

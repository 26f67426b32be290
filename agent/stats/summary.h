// The node and pod resource summary, typed as the kubelet's stats/v1alpha1 Summary
// (staging/src/k8s.io/kubelet/pkg/apis/stats/v1alpha1/types.go): what /stats/summary
// serves (summary_json.h), what /metrics/resource is derived from, and what the
// eviction manager observes. A std::nullopt member is a Go nil pointer: "not
// reported", which consumers treat differently from zero. A zero WallTime is Go's
// zero metav1.Time (serialized as null).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event_loop.h"

namespace agent::stats {

struct CpuStats {
  core::WallTime time{};
  // Total usage of all cores averaged over the sample window, in nanocores.
  std::optional<uint64_t> usageNanoCores;
  // Cumulative usage since the object was created.
  std::optional<uint64_t> usageCoreNanoSeconds;
};

struct MemoryStats {
  core::WallTime time{};
  std::optional<uint64_t> availableBytes;  // limit - workingSet; absent without a limit
  std::optional<uint64_t> usageBytes;
  std::optional<uint64_t> workingSetBytes;
  std::optional<uint64_t> rssBytes;
  std::optional<uint64_t> pageFaults;
  std::optional<uint64_t> majorPageFaults;
};

struct FsStats {
  core::WallTime time{};
  std::optional<uint64_t> availableBytes;
  std::optional<uint64_t> capacityBytes;
  // Bytes used for the specific task (a container's writable layer, a volume), not
  // necessarily capacity - available.
  std::optional<uint64_t> usedBytes;
  std::optional<uint64_t> inodesFree;
  std::optional<uint64_t> inodes;
  std::optional<uint64_t> inodesUsed;
};

struct RuntimeStats {
  std::optional<FsStats> imageFs;
};

struct RlimitStats {
  core::WallTime time{};
  std::optional<int64_t> maxPid;                 // "maxpid"
  std::optional<int64_t> numOfRunningProcesses;  // "curproc"
};

struct ContainerStats {
  std::string name;
  core::WallTime startTime{};
  std::optional<CpuStats> cpu;
  std::optional<MemoryStats> memory;
  std::optional<FsStats> rootfs;  // usedBytes: the writable layer
  std::optional<FsStats> logs;    // usedBytes: the container's log files
};

struct NodeStats {
  std::string nodeName;
  std::vector<ContainerStats> systemContainers;  // "kubelet", "runtime", "misc", "pods"
  core::WallTime startTime{};
  std::optional<CpuStats> cpu;
  std::optional<MemoryStats> memory;
  std::optional<FsStats> fs;  // the filesystem of the root dir (nodefs)
  std::optional<RuntimeStats> runtime;
  std::optional<RlimitStats> rlimit;
};

struct PodReference {
  std::string name;
  std::string namespace_;
  std::string uid;
};

struct PvcReference {
  std::string name;
  std::string namespace_;
};

struct VolumeStats {
  FsStats fs;  // inlined in JSON
  std::string name;
  std::optional<PvcReference> pvcRef;
};

struct ProcessStats {
  std::optional<uint64_t> processCount;
};

struct PodStats {
  PodReference podRef;
  core::WallTime startTime{};
  std::vector<ContainerStats> containers;
  std::optional<CpuStats> cpu;
  std::optional<MemoryStats> memory;
  std::vector<VolumeStats> volume;
  // Containers' rootfs and logs plus the pod's local ephemeral volumes.
  std::optional<FsStats> ephemeralStorage;
  std::optional<ProcessStats> processStats;
};

struct Summary {
  NodeStats node;
  std::vector<PodStats> pods;
};

}  // namespace agent::stats

// What the eviction manager observes each cycle, filled by the stats layer (the agent
// converts its summary into this): the signals' available and capacity values, and
// per pod the usage the ranking and the messages look at (the kubelet's
// makeSignalObservations and the summary's PodStats). Plain data, free of the stats
// module's types; std::nullopt means "not reported", which the kubelet's rules treat
// differently from zero.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/eviction/thresholds.h"
#include "core/event_loop.h"

namespace agent::eviction {

struct SignalObservation {
  // memory.available: node memory available (capacity - working set); capacity is
  // available + working set. allocatableMemory.available: the same for the pods cgroup.
  // nodefs/imagefs: bytes or inodes free and total. pid.available: max pid - running.
  int64_t available = 0;
  int64_t capacity = 0;
  // When the stats were taken; unset means "always fresh" (thresholdsUpdatedStats).
  std::optional<core::WallTime> time;
};

struct FsUsage {
  int64_t usedBytes = 0;
  int64_t inodesUsed = 0;
};

struct ContainerUsage {
  std::string name;
  std::optional<int64_t> memoryWorkingSet;
  std::optional<FsUsage> rootfs;  // the writable layer
  std::optional<FsUsage> logs;    // /var/log/pods/.../<container>
};

struct PodUsage {
  std::string uid;
  std::string name;
  std::string namespace_;
  std::optional<int64_t> memoryWorkingSet;  // the pod cgroup's working set
  // rootfs + logs of every container + local volumes (the summary's ephemeral-storage).
  std::optional<int64_t> ephemeralStorageUsed;
  std::optional<uint64_t> processCount;
  // Per volume name (emptyDir, configMap, hostPath, ...): its usage, as the summary's
  // VolumeStats.
  std::map<std::string, FsUsage> volumes;
  std::vector<ContainerUsage> containers;
};

struct Observations {
  std::map<Signal, SignalObservation> signals;
  std::map<std::string, PodUsage> pods;  // by pod uid
  // The image filesystem is on another device than the root dir (HasDedicatedImageFs):
  // decides which usage counts for nodefs and imagefs pressure, and what GC reclaims.
  bool dedicatedImageFs = false;
};

}  // namespace agent::eviction

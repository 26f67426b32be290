#include "agent/stats/eviction_observations.h"

namespace agent::stats {
namespace {

int64_t i64(uint64_t v) { return static_cast<int64_t>(v); }

std::optional<eviction::FsUsage> fsUsage(const std::optional<FsStats>& fs) {
  if (!fs) return std::nullopt;
  return eviction::FsUsage{i64(fs->usedBytes.value_or(0)), i64(fs->inodesUsed.value_or(0))};
}

void fsSignals(const FsStats& fs, eviction::Signal bytes, eviction::Signal inodes,
               eviction::Observations& out) {
  if (fs.availableBytes && fs.capacityBytes) {
    out.signals[bytes] = {i64(*fs.availableBytes), i64(*fs.capacityBytes), fs.time};
  }
  if (fs.inodesFree && fs.inodes) {
    out.signals[inodes] = {i64(*fs.inodesFree), i64(*fs.inodes), fs.time};
  }
}

}  // namespace

eviction::Observations toObservations(const Summary& s, bool dedicatedImageFs) {
  eviction::Observations out;
  out.dedicatedImageFs = dedicatedImageFs;
  const NodeStats& n = s.node;
  if (n.memory && n.memory->availableBytes && n.memory->workingSetBytes) {
    uint64_t available = *n.memory->availableBytes;
    out.signals[eviction::Signal::kMemoryAvailable] = {
        i64(available), i64(available + *n.memory->workingSetBytes), n.memory->time};
  }
  if (n.fs) {
    fsSignals(*n.fs, eviction::Signal::kNodeFsAvailable, eviction::Signal::kNodeFsInodesFree, out);
  }
  if (n.runtime && n.runtime->imageFs) {
    fsSignals(*n.runtime->imageFs, eviction::Signal::kImageFsAvailable,
              eviction::Signal::kImageFsInodesFree, out);
  }
  if (n.rlimit && n.rlimit->maxPid && n.rlimit->numOfRunningProcesses) {
    out.signals[eviction::Signal::kPidAvailable] = {
        *n.rlimit->maxPid - *n.rlimit->numOfRunningProcesses, *n.rlimit->maxPid, n.rlimit->time};
  }
  for (const PodStats& p : s.pods) {
    eviction::PodUsage u;
    u.uid = p.podRef.uid;
    u.name = p.podRef.name;
    u.namespace_ = p.podRef.namespace_;
    if (p.memory && p.memory->workingSetBytes) u.memoryWorkingSet = i64(*p.memory->workingSetBytes);
    if (p.ephemeralStorage && p.ephemeralStorage->usedBytes) {
      u.ephemeralStorageUsed = i64(*p.ephemeralStorage->usedBytes);
    }
    if (p.processStats) u.processCount = p.processStats->processCount;
    for (const VolumeStats& v : p.volume) u.volumes[v.name] = *fsUsage(v.fs);
    for (const ContainerStats& c : p.containers) {
      eviction::ContainerUsage cu;
      cu.name = c.name;
      if (c.memory && c.memory->workingSetBytes) {
        cu.memoryWorkingSet = i64(*c.memory->workingSetBytes);
      }
      cu.rootfs = fsUsage(c.rootfs);
      cu.logs = fsUsage(c.logs);
      u.containers.push_back(std::move(cu));
    }
    out.pods[u.uid] = std::move(u);
  }
  return out;
}

}  // namespace agent::stats

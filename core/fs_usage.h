// Filesystem usage: the statvfs figures of a whole filesystem (node fs, image fs,
// a tmpfs emptyDir) and the bytes and inodes a directory tree occupies (a disk
// emptyDir, a pod's log directory), as the kubelet's stats and eviction need them.
// Both block on the filesystem (a walk can take long): call them from the worker
// pool, never on the event loop. Errors name the path.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace core {

// A filesystem as statvfs(3) sees it, in bytes and inodes. usedBytes is
// capacity - free (blocks not free, reserved ones included), as cadvisor's Usage;
// availableBytes is what an unprivileged writer can still use (f_bavail).
struct FsStats {
  uint64_t capacityBytes = 0;
  uint64_t availableBytes = 0;
  uint64_t usedBytes = 0;
  uint64_t inodes = 0;
  uint64_t inodesFree = 0;
  uint64_t inodesUsed = 0;
};
absl::StatusOr<FsStats> filesystemStats(const std::string& path);

// What a directory tree occupies: allocated bytes (st_blocks * 512, so sparse files
// count what they really use) and distinct inodes, the root included. A file with
// several hard links in the tree counts once. Symlinks count as themselves and are
// never followed; mount points below the root (other filesystems, bind mounts) are
// neither entered nor counted, like `du -x`. Entries that vanish during the walk are
// skipped (pods keep writing). The walk is iterative and holds one directory fd at a
// time, so deep or wide trees cost memory for pending paths only.
struct DirUsage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};
absl::StatusOr<DirUsage> directoryUsage(const std::string& path);

// True when `path` is the root of a mount (statx STATX_ATTR_MOUNT_ROOT, with a
// device comparison against the parent as fallback on old kernels).
absl::StatusOr<bool> isMountRoot(const std::string& path);

// The usage of a volume directory: when `path` is itself a mount (an emptyDir with
// medium Memory is a tmpfs mounted there, and its pages are not in any directory
// walk's st_blocks the same way) its filesystem's used bytes and inodes; otherwise
// directoryUsage(path). `mounted` tells the caller which was used.
struct VolumeUsage {
  DirUsage usage;
  bool mounted = false;
  FsStats fs;  // when mounted: the mount's own figures (capacity = sizeLimit for tmpfs)
};
absl::StatusOr<VolumeUsage> volumeUsage(const std::string& path);

}  // namespace core

// Mount utilities for the volume manager: reading /proc/self/mountinfo, tmpfs and
// bind mounts, and unmounting a pod's volumes. These are thin wrappers over
// mount(2)/umount2(2) whose errors name the paths involved; every caller runs on
// the worker pool (mounting can block on a slow filesystem).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volumes {

// One line of mountinfo(5). Octal escapes (\040 for a space, ...) are decoded.
struct MountEntry {
  std::string mountPoint;
  std::string fsType;
  std::string source;
  std::string options;  // the per-mount options (field 6: "rw,nosuid,relatime")
};

absl::StatusOr<std::vector<MountEntry>> readMountInfo(
    const std::string& file = "/proc/self/mountinfo");

// Whether `path` (symlinks resolved) is itself a mount point, bind mounts of a
// directory of the same filesystem included. A missing path is NotFound.
absl::StatusOr<bool> isMountPoint(const std::string& path);

// Mounts a tmpfs at `target` (created, with parents, when missing) with mode=`mode`
// and, when given, size=`sizeBytes` (the kernel rounds it up to whole pages).
absl::Status mountTmpfs(const std::string& target, std::optional<uint64_t> sizeBytes, mode_t mode);

// Bind-mounts `source` at `target` without the mounts below `source` (MS_BIND without
// MS_REC, as `mount -o bind` does for the kubelet's local volumes), then remounts
// it read-only when `readOnly`. `target` must exist and be of the same kind
// (directory or not) as `source`.
absl::Status bindMount(const std::string& source, const std::string& target, bool readOnly);

// Unmounts the topmost mount at `target` (never following a symlink at `target`).
// Not mounted or missing is OK; a busy mount is detached lazily (MNT_DETACH).
absl::Status unmount(const std::string& target);

// Unmounts every mount at or below `dir` (symlinks in `dir` resolved), topmost
// first, and returns how many it unmounted. Mounts outside `dir` are never touched
// ("/a/bc" is not below "/a/b"). A missing `dir` has nothing mounted: 0.
absl::StatusOr<int> unmountAllUnder(const std::string& dir);

}  // namespace volumes

// Whole-file reads and crash-safe writes, plus mkdir -p and a recursive remove that
// never follows symlinks and never deletes into a mounted filesystem (a pod's
// volumes are mounts under its directory; deleting through one would destroy the
// volume's data). Every error names the path it concerns.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace core {

// Writes `data` to a temporary file in the same directory (O_CLOEXEC), fsyncs it,
// renames it over `path` and fsyncs the directory: readers see the old content or
// the new, never a mix, and the new content survives a crash once this returns.
// `mode` is applied exactly (no umask).
absl::Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);

absl::StatusOr<std::string> readFile(const std::string& path);

// Creates `path` and any missing parents (`mode` is filtered by the umask, as with
// mkdir(2)). An existing directory is fine; an existing non-directory is an error.
absl::Status mkdirAll(const std::string& path, mode_t mode = 0755);

// Removes `path` and everything under it; a missing path is fine. Symlinks are
// removed, never followed. If `path` or anything under it is a mount point, it
// fails with FailedPrecondition naming the mount point and deletes nothing (when
// the mount is known up front from /proc/self/mountinfo) or stops at the mount
// (when one appears while deleting).
absl::Status removeAll(const std::string& path);

}  // namespace core

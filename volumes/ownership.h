// fsGroup ownership of a volume (pod securityContext.fsGroup and fsGroupChangePolicy):
// the kubelet's SetVolumeOwnership, so that the pod's supplemental group can read (and
// unless read-only, write) everything in the volume and files created later inherit
// the group through setgid directories.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "volumes/volume_plan.h"

namespace volumes {

// The kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go): walks `dir` (not following
// symlinks, not crossing into other filesystems), chowns each entry to group `fsGroup`
// (lchown, uid unchanged) and ORs in the mode bits: rw for group (r only when readOnly),
// and for directories x for owner/group plus setgid. With kOnRootMismatch, nothing is done
// when the root dir already has the gid and the bits.
//
// Exactly: files get mode | 0660 (0440 when readOnly), directories mode | 02770 (02550).
// Symlinks are skipped (chmod would reach their targets). As upstream, a failed chown or
// chmod of one entry is logged and the walk goes on; failing to read a directory is an
// error naming it.
absl::Status setVolumeOwnership(const std::string& dir, int64_t fsGroup, bool readOnly,
                                FsGroupPolicy policy);

}  // namespace volumes

// The kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go): projects the files of
// a configMap, secret, downwardAPI or projected volume into the volume directory so
// that an update replaces them all at once. The files live in a hidden timestamped
// directory, `..data` is a symlink to it and is swapped by rename, and each top-level
// path element is a user-visible symlink `key -> ..data/key`. Readers that open
// `..data` once and read through that directory see one version whole; reading two
// files through the user-visible links may see two versions (each file whole).
//
// Not thread-safe for one `dir`: the caller serialises writes to a volume, as the
// kubelet does.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volumes/payload.h"

namespace volumes {

// Validates one payload path as the kubelet's AtomicWriter does (validatePath): not
// absolute, no ".." element, not starting with "..", length limits; the error names the path.
absl::Status validatePayloadPath(std::string_view path);

// Writes `payload` into `dir` with the kubelet's AtomicWriter layout:
// a timestamped hidden directory `..<YYYY_MM_DD_HH_MM_SS.random>` holding the files with
// their modes (and owner fsUser when set), a `..data` symlink to it, swapped atomically
// (new symlink `..data_tmp`, rename over `..data`), and user-visible symlinks for each
// top-level path element (`key -> ..data/key`). Paths no longer in the payload lose their
// user-visible symlink; the old timestamped dir is removed after the swap. `dir` must
// exist (it is the volume dir, maybe a tmpfs). `setPerms`, when given, runs on the new
// timestamped directory before the swap (fsGroup ownership). Returns true when anything
// changed, false when the payload equals what is there (nothing is written then).
//
// As upstream, "equals" compares the set of paths and their content, not modes: an
// fsGroup change ORs group bits into the modes, which must not force a rewrite on every
// sync. Leftovers of a crashed write (`..data_tmp`, orphan timestamped directories) are
// removed on every call; that alone does not count as a change.
absl::StatusOr<bool> writePayload(
    const std::string& dir, const Payload& payload,
    const std::function<absl::Status(const std::string& tsDir)>& setPerms = nullptr);

}  // namespace volumes

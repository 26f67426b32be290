// subPath volume mounts made safe the way the kubelet makes them
// (pkg/volume/util/subpath/subpath_linux.go): a container's view of a subdirectory
// of a volume is a bind mount of a file descriptor opened component by component
// without following symlinks, so a symlink planted in the volume (by this or an
// earlier container) can never hand the container a path outside the volume.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volumes {

struct SubpathRequest {
  std::string volumePath;  // host path of the volume (pods/<uid>/volumes/... or a hostPath)
  std::string subPath;     // relative, already validated to have no ".." and not absolute
  std::string podDir;      // <root-dir>/pods/<uid>
  std::string volumeName;
  std::string containerName;
  int mountIndex = 0;  // index of the volumeMount in the container
  bool readOnly = false;
};

// Creates the subpath as a directory when missing (with the volume directory's
// permission bits, as the kubelet's makeMounts does, refusing any symlink that
// would lead outside the volume), opens it safely and bind-mounts the open fd at
// <podDir>/volume-subpaths/<volumeName>/<containerName>/<mountIndex> (a directory,
// or an empty file when the subpath is not a directory), read-only when asked.
// Returns that path, the host path to hand to the runtime. When it is already
// mounted from the same file it is reused. Errors start with the kubelet's event
// text ("failed to prepare subPath for volumeMount "<volume>" of container "<c>"")
// followed by the detail, e.g. `subpath "/v/link" not within volume path "/v"`.
absl::StatusOr<std::string> prepareSubpath(const SubpathRequest& req);

// Unmounts everything under <podDir>/volume-subpaths and removes that tree (the
// kubelet's CleanSubPaths, for every volume and container). Missing is OK. Only
// empty directories and files are removed, so a mount that could not be
// unmounted is never deleted through.
absl::Status cleanSubpaths(const std::string& podDir);

}  // namespace volumes

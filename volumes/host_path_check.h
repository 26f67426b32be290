// The kubelet's hostPath `type` check (pkg/volume/hostpath/host_path.go, checkType):
// before a hostPath volume is handed to a container, the path must be of the
// declared kind, and the *OrCreate kinds create it when missing.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace volumes {

// `type` is the API's HostPathType: "" (no check), "DirectoryOrCreate" (mkdir -p,
// the created directory 0755), "Directory", "FileOrCreate" (an empty 0644 file; the
// parent must exist), "File" (anything existing that is not a directory, as
// upstream), "Socket", "CharDevice", "BlockDevice". Symlinks are followed. Errors
// carry upstream's text, e.g. "hostPath type check failed: /x is not a directory";
// an unknown type is "<type> is an invalid volume type".
absl::Status checkHostPathType(const std::string& path, const std::string& type);

}  // namespace volumes

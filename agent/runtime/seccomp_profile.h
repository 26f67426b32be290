// Localhost seccomp profiles (securityContext.seccompProfile of type Localhost): the
// file is checked before the container is created, so that a missing or broken
// profile is a CreateContainerConfigError naming the file and the field at fault,
// rather than the runtime's terse CreateContainerError. The profile is parsed as the
// runtime does (the OCI/Docker JSON format) and built with libseccomp, rule by rule,
// without being loaded into the kernel.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace agent::runtime {

// Checks a profile's JSON. Errors name the field at fault, e.g.
// `syscalls[2].action: unknown action "SCMP_ACT_FOO"`. As runc, system calls
// libseccomp does not know on this machine are accepted (a newer profile on an older
// kernel), but a name that cannot be a system call's is not.
absl::Status checkSeccompProfileJson(std::string_view json);

// Reads `path` and checks it; errors start with the path ("... not found" when it is
// missing).
absl::Status checkSeccompProfileFile(const std::string& path);

}  // namespace agent::runtime

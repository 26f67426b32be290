// The names in a directory opened as a file descriptor, for the code that walks
// volumes by fd (never by path, so a symlink swapped in meanwhile is not followed).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace volumes {

// Every entry but "." and "..", read through a duplicate of `dirfd` (which stays
// open and usable). `where` names the directory in errors.
absl::StatusOr<std::vector<std::string>> listNames(int dirfd, const std::string& where);

}  // namespace volumes

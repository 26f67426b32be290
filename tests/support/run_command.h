// Runs an external program to completion and captures what it prints: the way
// the integration tests drive scripts/containerd.sh, ctr and other tools.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cubelet::testing {

struct CommandResult {
  int exitCode = 0;    // the exit status; 128 + the signal number when killed
  std::string output;  // stdout, then stderr
};

// Runs argv[0] (looked up in PATH when it has no slash) with stdin from
// /dev/null. Errors only when the program cannot be started; a non-zero exit
// is reported in the result.
absl::StatusOr<CommandResult> runCommand(const std::vector<std::string>& argv);

// Like runCommand, but a non-zero exit is an error whose message holds the
// command line and its output.
absl::StatusOr<std::string> runCommandOk(const std::vector<std::string>& argv);

}  // namespace cubelet::testing

// Runs a command to completion and captures its output: for tests and tools, not
// for the agent's hot paths (it blocks the calling thread). Spawns with
// posix_spawn (never fork in a threaded process), with a clean signal mask and
// default dispositions, in a process group of its own so a timeout kills the
// command and everything it started.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

namespace core {

struct SubprocessResult {
  int exitCode = -1;      // set when the command exited; -1 when killed by a signal
  int termSignal = 0;     // the signal that killed it, or 0
  bool timedOut = false;  // killed (SIGKILL) because the timeout passed
  std::string out;        // everything written to stdout
  std::string err;        // everything written to stderr

  bool success() const { return exitCode == 0 && termSignal == 0; }
};

// `argv[0]` without a '/' is looked up in PATH. stdin is /dev/null. A command that
// cannot be started (not found, not executable) is an error; one that runs and
// fails, or times out, is a result. Output written after the command itself
// exits, by children it left behind, is not captured.
absl::StatusOr<SubprocessResult> runCommand(const std::vector<std::string>& argv, Duration timeout);

}  // namespace core

#include "tests/support/run_command.h"

#include <chrono>

#include "absl/strings/str_join.h"
#include "core/subprocess.h"

namespace cubelet::testing {

// Tests wait for tools (containerd.sh, ctr) that may legitimately take a while;
// the timeout only guards against a hung test.
constexpr auto kCommandTimeout = std::chrono::minutes(3);

absl::StatusOr<CommandResult> runCommand(const std::vector<std::string>& argv) {
  auto r = core::runCommand(argv, kCommandTimeout);
  if (!r.ok()) return r.status();
  CommandResult out;
  out.exitCode = r->termSignal ? 128 + r->termSignal : r->exitCode;
  out.output = r->out + r->err;
  return out;
}

absl::StatusOr<std::string> runCommandOk(const std::vector<std::string>& argv) {
  auto r = runCommand(argv);
  if (!r.ok()) return r.status();
  if (r->exitCode != 0) {
    return absl::InternalError("`" + absl::StrJoin(argv, " ") + "` exited with status " +
                               std::to_string(r->exitCode) + ":\n" + r->output);
  }
  return r->output;
}

}  // namespace cubelet::testing

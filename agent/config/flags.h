// The command line: pflag syntax (as the kubelet parses it) and the flags cubelet
// implements, each bound to an AgentConfig field. Flags the kubelet has but cubelet does
// not implement are accepted with a warning; unknown flags are errors.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"

namespace agent::config {

// One flag as given: normalized name (no dashes, '_' read as '-') and its value.
struct FlagOccurrence {
  std::string name;
  std::string value;
};

struct CommandLine {
  // The implemented flags, in command-line order.
  std::vector<FlagOccurrence> flags;
  // One per kubelet flag cubelet ignores.
  std::vector<std::string> warnings;
  bool help = false;
  bool version = false;
};

// Parses the arguments after argv[0]:
//   --name=value, --name value, --bool-flag, --bool-flag=false, -v=2, -v 2, -v2, -h, --
// Positional arguments are errors (the kubelet takes none).
absl::StatusOr<CommandLine> parseCommandLine(std::span<const std::string_view> args);

// The value of the last --config on the command line, or "".
std::string configFileFlag(const CommandLine& cl);

// Applies the implemented flags over `cfg` (already holding defaults and the config
// file), with pflag semantics for repeated flags: lists are replaced by the first
// occurrence and appended to by later ones; --feature-gates merges over the file's gates.
absl::Status applyFlags(const CommandLine& cl, AgentConfig& cfg);

// Help text listing the implemented flags.
std::string flagsUsage();

}  // namespace agent::config

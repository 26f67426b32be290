// The names the upstream kubelet accepts: every command-line flag (current, deprecated
// and removed-but-still-seen, e.g. the dockershim-era ones) and every top-level field of
// KubeletConfiguration v1beta1. cubelet accepts these with a warning when it does not
// implement them, and rejects anything else.
#pragma once

#include <optional>
#include <string_view>

namespace agent::config {

struct KubeletFlagInfo {
  std::string_view name;  // without dashes, words separated by '-'
  bool boolean;           // takes no separate value: `--name` means `--name=true`
};

// nullopt when the kubelet has no flag of that (normalized) name.
std::optional<KubeletFlagInfo> findKubeletFlag(std::string_view name);

// True for the top-level KubeletConfiguration field names (including apiVersion/kind).
bool isKubeletConfigField(std::string_view name);

}  // namespace agent::config

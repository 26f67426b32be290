// The CNI configuration cubelet manages for the node: a bridge network with
// host-local IPAM over the pod CIDR and portmap for host ports, written into the
// runtime's CNI config dir unless a network add-on installed its own.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace network {

inline constexpr char kCniConfigFile[] = "10-cubelet.conflist";
inline constexpr char kDefaultPodCidr[] = "10.88.0.0/16";

struct CniConfigInput {
  std::vector<std::string> podCidrs;  // empty: kDefaultPodCidr
  std::string bridge = "cubelet0";
  bool ipMasq = true;
};

std::string bridgeConflist(const CniConfigInput& in);

enum class CniConfigResult { kWritten, kUnchanged, kOwnedByAddon };

// Writes the conflist into `confDir` atomically when it differs; leaves the dir
// alone when another (add-on) config is present.
absl::Status ensureCniConfig(const std::string& confDir, const CniConfigInput& in,
                             CniConfigResult* result);

// Plugins the conflist needs, so start-up can check the plugin dir.
std::vector<std::string> requiredCniPlugins();

}  // namespace network

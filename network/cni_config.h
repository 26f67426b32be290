// The CNI configuration cubelet manages for the node, as the kubelet's kubenet did:
// a bridge network with host-local IPAM over the pod CIDR(s), portmap for host
// ports and loopback, written into the runtime's CNI config dir unless a network
// add-on installed its own. Also the checks around it: pod CIDR validation against
// the host's own networks, and the plugins the conflist needs.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace network {

inline constexpr char kCniConfigFile[] = "10-cubelet.conflist";
inline constexpr char kCniNetworkName[] = "cubelet";
inline constexpr char kDefaultBridge[] = "cubelet0";
inline constexpr char kDefaultPodCidr[] = "10.88.0.0/16";

struct CniConfigInput {
  std::vector<std::string> podCidrs;  // at most one per family; empty: kDefaultPodCidr
  std::string bridge = kDefaultBridge;
  bool ipMasq = true;
  bool hairpinMode = true;
  std::string ipamDataDir;  // host-local's dataDir; "" = the plugin's default
};

std::string bridgeConflist(const CniConfigInput& in);

enum class CniConfigResult { kWritten, kUnchanged, kOwnedByAddon };

// Writes the conflist into `confDir` atomically when it differs; leaves the dir
// alone when another (add-on) config is present.
absl::Status ensureCniConfig(const std::string& confDir, const CniConfigInput& in,
                             CniConfigResult* result);

// True when a CNI config other than ours is in `confDir`.
bool addonCniConfigPresent(const std::string& confDir);

// Removes our conflist (if there), so the runtime reports the network not ready
// instead of running pods on a stale or half-valid configuration.
absl::Status removeCniConfig(const std::string& confDir);

// Plugins the conflist needs ("bridge", "host-local", "portmap", "loopback").
std::vector<std::string> requiredCniPlugins();
// Those of requiredCniPlugins() missing from `binDir` (absent or not executable).
std::vector<std::string> missingCniPlugins(const std::string& binDir);

// A network the host already has: an interface address with its prefix.
struct HostNetwork {
  std::string interface;
  std::string cidr;  // "192.168.1.5/24"
};
// The host's interface networks (getifaddrs), IPv4 and IPv6; loopback interfaces
// and IPv6 link-local (fe80::/10) addresses excluded.
std::vector<HostNetwork> hostNetworks();

// Checks the pod CIDRs (spec.podCIDRs, or --pod-cidr split at ',') as the field
// `field` names: each a valid CIDR (host bits allowed, as ParseCIDRSloppy reads it),
// at most one IPv4 and one IPv6, not overlapping (either containing the other) any
// host network except those on `bridge` (ours). The error names the field and value:
// `spec.podCIDRs[1] "10.0.0.0/8": overlaps 10.1.2.3/24 on eth0`; a field starting
// with '-' (a flag) is not indexed: `--pod-cidr "abc": not a valid CIDR`.
absl::Status validatePodCidrs(const std::vector<std::string>& cidrs,
                              const std::vector<HostNetwork>& host, const std::string& bridge,
                              const std::string& field);

}  // namespace network

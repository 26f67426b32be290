// Pod DNS: what the pod's resolv.conf holds, computed the way the kubelet does
// (pkg/kubelet/network/dns) from the pod's dnsPolicy/dnsConfig, the cluster DNS
// settings and the host's resolv.conf, with the kubelet's limits. Pure: the caller
// reads the host file, hands the result to CRI and turns warnings into pod events.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace network {

// The kubelet's limits (validation.MaxDNSNameservers, MaxDNSSearchPaths,
// MaxDNSSearchListChars) and the longest search domain a resolver takes.
inline constexpr size_t kMaxDnsNameservers = 3;
inline constexpr size_t kMaxDnsSearchPaths = 32;
inline constexpr size_t kMaxDnsSearchListChars = 2048;
inline constexpr size_t kMaxDnsSearchDomainLength = 253;

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

// As the kubelet parses the host's file: `nameserver` lines accumulate; `search`
// and `options` (the last line of each wins; search domains lose a trailing dot,
// a lone "." is kept); lines starting with '#' and all other keywords (`domain`)
// are ignored.
ResolvConf parseResolvConf(std::string_view content);

struct PodDnsInput {
  std::string dnsPolicy = "ClusterFirst";  // ClusterFirst, ClusterFirstWithHostNet, Default, None
  bool hostNetwork = false;
  std::string podNamespace;
  std::string podFullName;  // "<name>_<namespace>(<uid>)", for event messages
  std::vector<std::string> clusterDNS;
  std::string clusterDomain;
  ResolvConf host;
  bool hasDnsConfig = false;  // pod.spec.dnsConfig present
  std::vector<std::string> configNameservers;
  std::vector<std::string> configSearches;
  std::vector<std::pair<std::string, std::optional<std::string>>> configOptions;  // name, value
};

// A warning event for the pod: reason "MissingClusterDNS" or "DNSConfigForming",
// message as the kubelet words it.
struct DnsWarning {
  std::string reason;
  std::string message;
};

struct PodDns {
  ResolvConf conf;
  std::vector<DnsWarning> warnings;
};

PodDns computePodDns(const PodDnsInput& in);

// resolv.conf text for `conf` as containerd 1.6 writes it for the sandbox: "search
// a b", one "nameserver x" line each, "options o p". "" for an empty config (then
// containerd copies the host's /etc/resolv.conf).
std::string formatResolvConf(const ResolvConf& conf);

}  // namespace network

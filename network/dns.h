// Pod DNS: what the pod's resolv.conf holds, computed the way the kubelet does
// from the pod's dnsPolicy/dnsConfig, the cluster DNS settings and the host's
// resolv.conf. Pure: the caller reads the host file and hands the result to CRI.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace network {

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

ResolvConf parseResolvConf(std::string_view content);

struct PodDnsInput {
  std::string dnsPolicy = "ClusterFirst";  // ClusterFirst, ClusterFirstWithHostNet, Default, None
  bool hostNetwork = false;
  std::string podNamespace;
  std::vector<std::string> clusterDNS;
  std::string clusterDomain;
  ResolvConf host;
  // dnsConfig from the pod spec (merged as the kubelet merges it).
  std::vector<std::string> configNameservers;
  std::vector<std::string> configSearches;
  std::vector<std::pair<std::string, std::string>> configOptions;  // name, value ("" = none)
};

struct PodDns {
  ResolvConf conf;
  std::vector<std::string> warnings;  // e.g. ClusterFirst without clusterDNS
};

PodDns computePodDns(const PodDnsInput& in);

}  // namespace network

// Node-level settings the runtime layer needs to turn pod specs into CRI configs.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "network/dns.h"

namespace agent::runtime {

struct RuntimeOptions {
  std::string nodeName;
  std::string rootDir = "/var/lib/kubelet";
  std::string podLogsDir = "/var/log/pods";
  std::string containerLogsLinkDir = "/var/log/containers";
  std::vector<std::string> clusterDNS;
  std::string clusterDomain;
  network::ResolvConf hostResolvConf;
  // The node's hosts file: what host-network pods' managed /etc/hosts starts from.
  std::string hostsFile = "/etc/hosts";
  // The node's IPs (status.hostIPs): host-network pods' IPs, for their /etc/hosts
  // mount and downward API; empty = the API sources' host IPs.
  std::vector<std::string> nodeIPs;
  std::string cgroupParent;  // the sandbox's parent cgroup ("" = the runtime's default)
};

}  // namespace agent::runtime

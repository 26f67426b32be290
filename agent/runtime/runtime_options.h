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
  std::string cgroupParent;  // the sandbox's parent cgroup ("" = the runtime's default)
};

}  // namespace agent::runtime

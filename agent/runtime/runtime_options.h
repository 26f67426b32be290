// Node-level settings the runtime layer needs to turn pod specs into CRI configs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/api/pod.h"
#include "agent/cm/pod_resources.h"
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
  // --seccomp-default: containers without a seccompProfile get RuntimeDefault.
  bool seccompDefault = false;
  // What containers' and sandboxes' LinuxContainerResources are computed with.
  cm::ContainerResourceOptions resources;
  // The sandbox's cgroup_parent per pod (cm::PodCgroups::parentFor); unset = cgroupParent.
  // Called on worker-pool threads.
  std::function<std::string(const api::Pod&)> podCgroupParent;
  // Makes the pod's cgroup before its sandbox is created (cm::PodCgroups::ensureBlocking),
  // blocking the calling worker-pool thread; an error fails the sandbox creation (the
  // kubelet's FailedCreatePodContainer). Unset = nothing to make.
  std::function<absl::Status(const std::shared_ptr<const api::Pod>&)> ensurePodCgroup;
  // Sets the fields `rc` has of the pod's cgroup during an in-place resize
  // (cm::PodCgroups::updateBlocking), blocking the calling worker-pool thread. Unset =
  // no pod cgroups to update.
  std::function<absl::Status(const std::shared_ptr<const api::Pod>&,
                             const cgroups::ResourceConfig&)>
      updatePodCgroup;
};

}  // namespace agent::runtime

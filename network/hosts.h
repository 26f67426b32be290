// The pod's /etc/hosts and hostname, as the kubelet makes them: the managed hosts
// file written to <root-dir>/pods/<uid>/etc-hosts and bind-mounted into each
// container, and the hostname/domain from spec.hostname, spec.subdomain and
// setHostnameAsFQDN (GeneratePodHostNameAndDomain, GetNodenameForKernel). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace network {

struct HostAliasEntry {
  std::string ip;
  std::vector<std::string> hostnames;
};

// For pods with their own network: "# Kubernetes-managed hosts file.\n", the
// localhost and ip6 lines, one "<ip>\t<hostname>" (or "<ip>\t<hostname>.<domain>\t
// <hostname>" when domain is set) line per pod IP, then the hostAliases block.
std::string managedHostsFile(const std::vector<std::string>& podIPs, const std::string& hostname,
                             const std::string& hostDomain,
                             const std::vector<HostAliasEntry>& aliases);

// For host-network pods: "# Kubernetes-managed hosts file (host network).\n", the
// node's file as is, then the hostAliases block.
std::string hostNetworkHostsFile(std::string_view nodeHostsFile,
                                 const std::vector<HostAliasEntry>& aliases);

struct PodHostname {
  std::string hostname;  // spec.hostname or the pod name, at most 63 characters
  std::string domain;    // "<subdomain>.<namespace>.svc.<clusterDomain>", or ""
};

// Errors name the field: `pod Hostname "X" is not a valid DNS label: ...`.
absl::StatusOr<PodHostname> podHostnameAndDomain(const std::string& podName,
                                                 const std::string& podNamespace,
                                                 const std::string& specHostname,
                                                 const std::string& specSubdomain,
                                                 const std::string& clusterDomain);

// The UTS hostname: hostname, or "hostname.domain" when setHostnameAsFQDN and a
// domain is set (an error when that exceeds 64 characters, as the kubelet's).
absl::StatusOr<std::string> kernelHostname(const PodHostname& h, bool setHostnameAsFQDN);

}  // namespace network

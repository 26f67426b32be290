// The pod's managed /etc/hosts, as the kubelet's makeMounts/makeHostsMount/
// ensureHostsFile do it: before each container is created the file
// <root-dir>/pods/<uid>/etc-hosts is (re)written — the pod's IPs with its hostname
// and domain, or for host-network pods the node's own hosts file — plus the
// pod's hostAliases, and bind-mounted at /etc/hosts. The pod directory's removal
// deletes it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/runtime_options.h"
#include "cri/proto/api.pb.h"
#include "network/hosts.h"

namespace agent::runtime {

inline constexpr char kEtcHostsPath[] = "/etc/hosts";

// <rootDir>/pods/<uid>/etc-hosts
std::string etcHostsFile(const std::string& rootDir, const std::string& uid);

// The kubelet mounts the file only once the pod has IPs (host-network pods have
// the node's) and only into containers that do not mount /etc/hosts themselves.
bool shouldMountEtcHosts(const api::Container& c, const std::vector<std::string>& podIPs);

// What the file holds for `pod`: network::managedHostsFile for pods with their own
// network, network::hostNetworkHostsFile over `nodeHostsFile` for host-network ones.
std::string etcHostsContent(const api::Pod& pod, const std::vector<std::string>& podIPs,
                            const network::PodHostname& host, const std::string& nodeHostsFile);

// Writes the pod's file (atomically, mode 0644; the node's file is read from
// opts.hostsFile for host-network pods) and returns the CRI mount for it, or
// nullopt when `c` gets none. Errors name the file.
absl::StatusOr<std::optional<::runtime::v1::Mount>> ensureEtcHostsMount(
    const api::Pod& pod, const api::Container& c, const std::vector<std::string>& podIPs,
    const network::PodHostname& host, const RuntimeOptions& opts);

}  // namespace agent::runtime

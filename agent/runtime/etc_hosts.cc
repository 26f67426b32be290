#include "agent/runtime/etc_hosts.h"

#include "core/atomic_file.h"

namespace agent::runtime {

std::string etcHostsFile(const std::string& rootDir, const std::string& uid) {
  return rootDir + "/pods/" + uid + "/etc-hosts";
}

bool shouldMountEtcHosts(const api::Container& c, const std::vector<std::string>& podIPs) {
  if (podIPs.empty()) return false;
  for (const auto& m : c.volumeMounts) {
    if (m.mountPath == kEtcHostsPath) return false;
  }
  return true;
}

std::string etcHostsContent(const api::Pod& pod, const std::vector<std::string>& podIPs,
                            const network::PodHostname& host, const std::string& nodeHostsFile) {
  std::vector<network::HostAliasEntry> aliases;
  for (const auto& a : pod.spec.hostAliases) aliases.push_back({a.ip, a.hostnames});
  if (pod.spec.hostNetwork) return network::hostNetworkHostsFile(nodeHostsFile, aliases);
  return network::managedHostsFile(podIPs, host.hostname, host.domain, aliases);
}

absl::StatusOr<std::optional<::runtime::v1::Mount>> ensureEtcHostsMount(
    const api::Pod& pod, const api::Container& c, const std::vector<std::string>& podIPs,
    const network::PodHostname& host, const RuntimeOptions& opts) {
  if (!shouldMountEtcHosts(c, podIPs)) return std::nullopt;
  std::string nodeHosts;
  if (pod.spec.hostNetwork) {
    auto read = core::readFile(opts.hostsFile);
    if (!read.ok()) {
      return absl::Status(read.status().code(), "read the node's hosts file " + opts.hostsFile +
                                                    ": " + std::string(read.status().message()));
    }
    nodeHosts = std::move(*read);
  }
  std::string path = etcHostsFile(opts.rootDir, pod.metadata.uid);
  std::string dir = path.substr(0, path.rfind('/'));
  if (absl::Status s = core::mkdirAll(dir, 0750); !s.ok()) return s;
  if (absl::Status s =
          core::writeFileAtomic(path, etcHostsContent(pod, podIPs, host, nodeHosts), 0644);
      !s.ok()) {
    return s;
  }
  ::runtime::v1::Mount m;
  m.set_container_path(kEtcHostsPath);
  m.set_host_path(path);
  m.set_readonly(false);
  // As the kubelet's "k8s-managed-etc-hosts" mount (a no-op without SELinux).
  m.set_selinux_relabel(true);
  return m;
}

}  // namespace agent::runtime

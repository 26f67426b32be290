// Pod spec -> CRI PodSandboxConfig, as the kubelet builds it (generatePodSandboxConfig):
// metadata, hostname (GeneratePodHostNameAndDomain + GetNodenameForKernel), DNS
// (the kubelet's GetPodDNS), log directory, port mappings (MakePortMappings),
// labels, annotations, cgroup parent and namespace modes.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/runtime/runtime_options.h"
#include "cri/proto/api.pb.h"
#include "network/dns.h"
#include "network/hosts.h"

namespace agent::runtime {

// "<podLogsDir>/<namespace>_<name>_<uid>": the kubelet's pod log directory.
std::string podLogDir(const std::string& podLogsDir, const api::Pod& pod);

// The kubelet's format.Pod: "<name>_<namespace>(<uid>)", as its messages name a pod.
std::string formatPod(const api::Pod& pod);

// The pod's hostname and domain (spec.hostname/subdomain, the cluster domain);
// an invalid or over-long name is an error naming the field.
absl::StatusOr<network::PodHostname> podHostname(const api::Pod& pod, const RuntimeOptions& opts);

// An error is the kubelet's generatePodSandboxConfig error (an invalid hostname
// or subdomain, an FQDN too long for the kernel); nothing has been created then.
// DNS problems that do not stop the pod are appended to `dnsWarnings` when given,
// for Warning events on the pod.
absl::StatusOr<::runtime::v1::PodSandboxConfig> makeSandboxConfig(
    const api::Pod& pod, uint32_t attempt, const RuntimeOptions& opts,
    std::vector<network::DnsWarning>* dnsWarnings);

// The kubelet's MakePortMappings for one container: every port (also those
// without a hostPort: the runtime skips them), the second of two ports with the
// same name, or the same family/protocol/hostIP/containerPort/hostPort when
// unnamed, dropped.
std::vector<::runtime::v1::PortMapping> makePortMappings(const api::Container& c);

// Network, PID and IPC namespace modes from hostNetwork/hostPID/hostIPC and
// shareProcessNamespace; sandbox and containers use the same.
void setNamespaceOptions(const api::Pod& pod, ::runtime::v1::NamespaceOption* ns);

::runtime::v1::Protocol toCriProtocol(const std::string& protocol);

}  // namespace agent::runtime

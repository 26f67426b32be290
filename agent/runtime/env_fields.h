// The downward API's values, as the kubelet computes them for env vars (and the same
// rules serve downwardAPI volumes): fieldRef (pod metadata, spec and status fields)
// and resourceFieldRef (a container's requests and limits, in units of a divisor,
// rounded up; unset limits default to the node's allocatable).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/api/quantity.h"

namespace agent::runtime {

// The pod's addresses as the status reports them (status.podIP(s), status.hostIP(s)).
struct PodAddresses {
  std::string podIP{};
  std::vector<std::string> podIPs{};  // podIPs[0] wins over podIP when set
  std::string hostIP{};
  std::vector<std::string> hostIPs{};  // hostIPs[0] wins over hostIP when set
};

// metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'],
// metadata.annotations['k'] (an absent key is ""), metadata.labels and
// metadata.annotations (all, `k="v"` lines sorted by key), spec.nodeName,
// spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP, status.podIPs
// (lists joined by ","). apiVersion must be "v1" or empty. Anything else:
// `field label not supported: <path>`.
absl::StatusOr<std::string> fieldRefValue(const api::ObjectFieldSelector& sel, const api::Pod& pod,
                                          const PodAddresses& addrs);

// limits.cpu, limits.memory, limits.ephemeral-storage, requests.* of the same, and
// limits./requests.hugepages-<size>, of `self` or of the container sel.containerName
// (app containers first, then init containers). The value is divided by the divisor
// (default 1; cpu in millis) and rounded up. A cpu, memory or ephemeral-storage limit
// that is unset or zero is the node's allocatable amount, when known.
absl::StatusOr<std::string> resourceFieldValue(
    const api::ResourceFieldSelector& sel, const api::Pod& pod, const api::Container& self,
    const std::map<std::string, api::Quantity>& allocatable);

}  // namespace agent::runtime

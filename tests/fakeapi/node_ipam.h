// kube-controller-manager's node IPAM (--allocate-node-cidrs with --cluster-cidr and
// the default --node-cidr-mask-size-ipv4=24) for the fake API server: every Node
// without spec.podCIDRs gets the next free /24 of the cluster CIDR, as a separate
// update made shortly after the Node appears (watchers see it ADDED, then MODIFIED),
// and the range goes back to the pool when the Node is deleted. IPv4 only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace cubelet::fakeapi {

class ResourceStore;

class NodeIpamController {
 public:
  // `clusterCidr` e.g. "10.244.0.0/16"; its prefix must be at most /24.
  static absl::StatusOr<std::unique_ptr<NodeIpamController>> start(ResourceStore& store,
                                                                   const std::string& clusterCidr);
  ~NodeIpamController();  // stops the controller's thread
  NodeIpamController(const NodeIpamController&) = delete;
  NodeIpamController& operator=(const NodeIpamController&) = delete;

 private:
  NodeIpamController(ResourceStore& store, uint32_t base, uint32_t count);
  void run();
  // One pass over the Nodes: assigns ranges to those without.
  void syncOnce();

  ResourceStore& store_;
  uint32_t base_;      // the cluster CIDR's network address
  uint32_t count_;     // how many /24s it holds
  uint32_t next_ = 0;  // the next candidate, as the CIDR set's nextCandidate rotates
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cubelet::fakeapi

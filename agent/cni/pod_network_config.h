// The node's CNI configuration, owned on the event loop as the kubelet's kubenet and
// updatePodCIDR owned it. The pod CIDR(s) come from --pod-cidr in standalone mode (the
// kubelet: "only used in standalone mode"; none: network::kDefaultPodCidr) or from the
// Node's spec.podCIDRs in cluster mode (nothing is written until the node has one). On
// every change the conflist is written, or left to a network add-on, and the runtime is
// told the CIDRs joined with "," through UpdateRuntimeConfig (retried with backoff).
// A bad CIDR or a missing plugin removes our conflist, so the runtime reports its
// network not ready instead of running pods on a stale configuration; the error keeps
// the node NotReady and is recorded once as a Warning event on the Node. Host-network
// pods are not affected. File work and CRI calls run on the worker pool.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backoff.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "cri/runtime_service.h"
#include "network/cni_config.h"

namespace agent::cni {

// Reasons of the Warning events on the Node (the kubelet has none of its own for these).
inline constexpr char kInvalidPodCidr[] = "InvalidPodCIDR";
inline constexpr char kMissingCniPlugin[] = "MissingCNIPlugin";
inline constexpr char kFailedCniConfig[] = "FailedCNIConfig";

struct PodNetworkOptions {
  std::string nodeName;
  std::string confDir;  // --cni-conf-dir
  std::string binDir;   // --cni-bin-dir
  bool ipMasq = true;   // --cni-ip-masq
  // Cluster mode: the CIDRs come from the Node through setNodePodCidrs().
  bool fromNode = false;
  std::string podCidr;  // standalone: --pod-cidr, "a" or "a,b"; "" = kDefaultPodCidr
  core::Duration retryInitial = std::chrono::milliseconds(500);  // UpdateRuntimeConfig
  core::Duration retryMax = std::chrono::seconds(30);
  // How often the dir, the plugins and the host's networks are looked at again: an
  // add-on installed later takes over, a removed conflist comes back (0 = never).
  core::Duration recheckInterval = std::chrono::seconds(10);
  // The host's networks the pod CIDRs must not overlap; network::hostNetworks by default.
  std::function<std::vector<network::HostNetwork>()> hostNetworks;
};

class PodNetworkConfig {
 public:
  PodNetworkConfig(core::EventLoop& loop, core::WorkerPool& pool, cri::RuntimeService& runtime,
                   PodNetworkOptions opts);
  ~PodNetworkConfig();
  PodNetworkConfig(const PodNetworkConfig&) = delete;
  PodNetworkConfig& operator=(const PodNetworkConfig&) = delete;

  // A Warning event about the node (reason, message); recorded once per distinct error.
  void setOnWarning(std::function<void(const std::string&, const std::string&)> cb) {
    onWarning_ = std::move(cb);
  }
  // Called on the loop when error() changed or the conflist was (re)written, so the
  // runtime's network readiness is checked again soon and the node status follows.
  void setOnChanged(std::function<void()> cb) { onChanged_ = std::move(cb); }

  // Checks the plugins and, in standalone mode, writes the config for --pod-cidr.
  void start();
  // Cluster mode: the Node's spec.podCIDRs (or [spec.podCIDR]) as last seen.
  void setNodePodCidrs(std::vector<std::string> cidrs);

  // Why pods without hostNetwork cannot get a network from us; "" when our conflist is
  // in place or an add-on owns the network.
  const std::string& error() const { return error_; }
  // The node's NotReady causes from here: {"network plugin not ready: <error>"} or {}.
  std::vector<std::string> nodeErrors() const;
  // What the runtime was last told through UpdateRuntimeConfig ("" = nothing yet).
  const std::string& runtimePodCidr() const { return runtimeCidr_; }

 private:
  struct Result;
  void apply();
  void onApplied(Result r);
  void setError(std::string reason, std::string error);

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  cri::RuntimeService& runtime_;
  PodNetworkOptions opts_;
  std::function<void(const std::string&, const std::string&)> onWarning_;
  std::function<void()> onChanged_;
  std::optional<std::vector<std::string>> nodeCidrs_;  // cluster mode, once assigned
  bool started_ = false;
  bool busy_ = false;     // a job is on the pool
  bool pending_ = false;  // another change arrived meanwhile
  std::string error_;
  std::string lastEventError_;
  bool addonLogged_ = false;
  std::string runtimeCidr_;
  core::ExponentialBackoff retryBackoff_;
  core::TimerPtr retry_;
  core::TimerPtr recheck_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::cni

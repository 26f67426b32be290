// The node's heartbeat Lease kube-node-lease/<node> (coordination.k8s.io/v1), kept as
// upstream's lease controller (k8s.io/component-helpers/apimachinery/lease) keeps it:
// renewed every renewInterval (0.25 x leaseDurationSeconds, jittered by 4 %) with one
// PUT of the last Lease the server returned (its resourceVersion guards it), so an
// idle node costs one request per renewal and no GET. A conflict GETs the Lease and
// retries; a missing Lease is created; other failures retry after a backoff of
// 200 ms doubling to 7 s. The owner reference to the Node is added once the Node's
// UID is known (the kubelet's setNodeOwnerFunc), by the next renewal if the Lease
// was created before.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/kubeapi/api_client.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::node {

inline constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

// The fields of a coordination.k8s.io/v1 Lease the agent keeps (everything a PUT
// must carry back so that nothing set by others is lost).
struct Lease {
  api::ObjectMeta metadata;
  std::optional<std::string> holderIdentity;
  std::optional<int32_t> leaseDurationSeconds;
  std::optional<std::string> acquireTime;  // MicroTime text, passed through
  std::optional<std::string> renewTime;
  std::optional<int32_t> leaseTransitions;
  std::optional<std::string> strategy;
  std::optional<std::string> preferredHolder;
  nlohmann::json toJson() const;
};
absl::StatusOr<Lease> decodeLease(const nlohmann::json& j);

// metav1.MicroTime: "2006-01-02T15:04:05.000000Z".
std::string formatMicroTime(core::WallTime t);

struct NodeLeaseOptions {
  std::string nodeName;
  int32_t leaseDurationSeconds = 40;  // nodeLeaseDurationSeconds
  // 0: 0.25 x leaseDurationSeconds (the kubelet's renewIntervalFraction).
  core::Duration renewInterval{0};
  core::Duration requestTimeout = std::chrono::seconds(10);
  // Random numbers in [0, 1) for jitter; tests pin them.
  std::function<double()> random;
};

class NodeLease {
 public:
  NodeLease(core::EventLoop& loop, kubeapi::ApiClient& api, NodeLeaseOptions opts);
  ~NodeLease();
  NodeLease(const NodeLease&) = delete;
  NodeLease& operator=(const NodeLease&) = delete;

  // Starts heartbeating: ensures the Lease exists (GET, create when missing), then
  // renews it every renewInterval.
  void start();
  // The Node's UID for the owner reference; added by the next renewal.
  void setNodeUid(const std::string& uid) { nodeUid_ = uid; }

  // The last Lease the server returned; nullopt before the first success.
  const std::optional<Lease>& latest() const { return latest_; }
  std::string path()
      const;  // "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/<node>"

 private:
  enum class Step { kEnsure, kUpdate };
  void run(Step step);
  void ensure();
  void create();
  void update(Lease base);
  void succeeded(const kubeapi::Response& resp, const char* what);
  void failed(Step retry, const std::string& why);
  // `base` with this renewal's renewTime and, when known and missing, the owner ref.
  Lease renewed(Lease base) const;
  kubeapi::Request request(std::string method, std::string path, std::string body = "") const;

  core::EventLoop& loop_;
  kubeapi::ApiClient& api_;
  NodeLeaseOptions opts_;
  std::function<double()> random_;
  core::TimerPtr timer_;
  core::ExponentialBackoff backoff_;
  Step nextStep_ = Step::kEnsure;
  bool started_ = false;
  int conflicts_ = 0;  // 409s in a row
  std::string nodeUid_;
  std::optional<Lease> latest_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::node

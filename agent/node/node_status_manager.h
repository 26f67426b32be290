// Keeps the Node registered and its status current, as the kubelet's
// registerWithAPIServer + syncNodeStatus loop does: register (at once, then retrying
// after 200 ms doubling to 7 s) until it succeeds, then every nodeStatusUpdateFrequency
// compute the status and PATCH nodes/<name>/status (strategic merge) when it changed
// in anything but heartbeat times or nodeStatusReportFrequency has passed since the
// last send; up to nodeStatusUpdateRetry attempts per round, then wait for the next.
// Unlike the kubelet it does not GET the Node every round (the idle API budget): it
// compares with what it last sent. Runtime facts come from an asynchronous provider,
// so nothing here blocks the loop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/kubeapi/api_client.h"
#include "agent/node/machine_info.h"
#include "agent/node/node_registrar.h"
#include "agent/node/node_status.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::node {

// Gathers RuntimeFacts (CRI Version, Status, ListImages, off the loop) and calls the
// callback with them on the loop, exactly once.
using RuntimeFactsProvider = std::function<void(std::function<void(RuntimeFacts)>)>;

struct NodeStatusManagerOptions {
  NodeConfigFacts config;
  MachineInfo machine;
  bool registerNode = true;                                   // --register-node
  core::Duration updateFrequency = std::chrono::seconds(10);  // nodeStatusUpdateFrequency
  core::Duration reportFrequency = std::chrono::minutes(5);   // nodeStatusReportFrequency
  // The kubelet's heartbeat client timeout: the update frequency, at most the lease
  // duration.
  core::Duration requestTimeout = std::chrono::seconds(10);
  int updateRetries = 5;  // nodeStatusUpdateRetry
  // Random numbers in [0, 1) for jitter; tests pin them.
  std::function<double()> random;
};

class NodeStatusManager {
 public:
  NodeStatusManager(core::EventLoop& loop, kubeapi::ApiClient& api, NodeStatusManagerOptions opts,
                    RuntimeFactsProvider runtimeFacts);
  ~NodeStatusManager();
  NodeStatusManager(const NodeStatusManager&) = delete;
  NodeStatusManager& operator=(const NodeStatusManager&) = delete;

  // Starts registering (when registerNode) and the status loop.
  void start();
  // Computes the status now (and sends it if it changed) instead of at the next tick,
  // e.g. when the runtime's network became ready. Ignored before registration.
  void syncNow();

  // Called with the Node's UID when it first becomes known (registration, or the first
  // status PATCH when registerNode is false) and whenever it changes (the Node was
  // recreated by someone else). The Lease's owner reference needs it.
  void onNodeUid(std::function<void(const std::string& uid)> cb) { uidCallback_ = std::move(cb); }
  // Where pressure conditions come from (an eviction manager); none: no pressure.
  void setPressureSource(std::function<PressureFlags()> f) { pressure_ = std::move(f); }
  // More NotReady causes ("PLEG is not healthy: ..."); none: no others.
  void setExtraErrorsSource(std::function<std::vector<std::string>()> f) {
    extraErrors_ = std::move(f);
  }

  bool registered() const { return registered_; }
  const std::string& nodeUid() const { return uid_; }
  // The last status computed (sent or not); nullptr before the first. Allocatable
  // for admission comes from here.
  const NodeStatus* lastStatus() const { return lastComputed_ ? &*lastComputed_ : nullptr; }
  // Status PATCH requests answered with success, for tests and metrics.
  size_t statusSends() const { return sends_; }

 private:
  void attemptRegistration();
  void tick();
  // Asks for runtime facts, computes a status, hands it to `next`.
  void computeThen(std::function<void(const NodeStatus&)> next);
  void maybeSend(const NodeStatus& s);
  void sendPatch(NodeStatus s, int attempt);
  void roundDone();
  void armTick();
  void learnUid(const std::string& uid);

  core::EventLoop& loop_;
  kubeapi::ApiClient& api_;
  NodeStatusManagerOptions opts_;
  RuntimeFactsProvider runtimeFacts_;
  NodeRegistrar registrar_;
  std::function<void(const std::string&)> uidCallback_;
  std::function<PressureFlags()> pressure_;
  std::function<std::vector<std::string>()> extraErrors_;
  std::function<double()> random_;

  core::TimerPtr timer_;
  core::ExponentialBackoff registerBackoff_;
  bool started_ = false;
  bool registered_ = false;
  bool busy_ = false;         // a round (facts → compute → send) is in progress
  bool syncPending_ = false;  // syncNow() arrived while busy
  std::string uid_;
  RuntimeHealth health_;
  std::optional<RuntimeFacts> lastFacts_;
  std::optional<NodeStatus> lastComputed_;
  std::optional<NodeStatus> lastSent_;
  core::MonoTime lastSentAt_{};
  size_t sends_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::node

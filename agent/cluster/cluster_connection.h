// Everything that ties the agent to an API server, created from --kubeconfig
// (after a TLS bootstrap from --bootstrap-kubeconfig when needed): the API
// client, the Node and its status, the Lease, the pods bound to this node, the
// Services and the ConfigMaps/Secrets those pods reference, the status manager,
// mirror pods and events. It owns them and answers the agent's questions; the
// agent decides what runs.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "agent/api/config_objects.h"
#include "agent/api/pod.h"
#include "agent/api/runtime_class.h"
#include "agent/config/agent_config.h"
#include "agent/events/event_recorder.h"
#include "agent/kubeapi/curl_api_client.h"
#include "agent/kubeapi/informer.h"
#include "agent/kubeapi/object_watches.h"
#include "agent/kubeapi/tls_bootstrap.h"
#include "agent/mirror/mirror_pods.h"
#include "agent/node/node_lease.h"
#include "agent/node/node_status_manager.h"
#include "agent/pods/admission.h"
#include "agent/runtime/env_sources.h"
#include "agent/status/status_manager.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"

namespace agent::cluster {

// A pod bound to this node, as the pods informer holds it.
struct ApiPod {
  std::shared_ptr<const api::Pod> pod;  // defaulted spec; statusPhase/statusStartTime set
  status::ApiPodState state;            // what the API's status says
  bool isMirror = false;                // a mirror of one of our static pods
};
absl::StatusOr<ApiPod> decodeApiPod(const nlohmann::json& j);

// This node's Node as the node informer holds it: the labels nodeSelector admission
// uses and the pod CIDRs the CNI config is written for.
struct NodeObject {
  api::ObjectMeta metadata;
  std::vector<std::string> podCIDRs;  // spec.podCIDRs, or [spec.podCIDR] from older servers
};
absl::StatusOr<NodeObject> decodeNodeObject(const nlohmann::json& j);

class ClusterConnection {
 public:
  struct Hooks {
    // The set of API pods changed (an add, update or delete, or the first list).
    std::function<void()> podsChanged;
    // A ConfigMap or Secret the pods reference, or the Services, changed.
    std::function<void(const std::string& ns, const std::string& name)> objectChanged;
    // The mirror pod of static pod ns/name is now `mirrorUid` ("" when none).
    std::function<void(const std::string& ns, const std::string& name,
                       const std::string& mirrorUid)>
        mirrorChanged;
    node::RuntimeFactsProvider runtimeFacts;
    // The Node's pod CIDRs, when first seen and whenever they change.
    std::function<void(const std::vector<std::string>& podCidrs)> podCidrsChanged;
    // More causes of the node's NotReady (network plugin not ready, ...).
    std::function<std::vector<std::string>()> extraNodeErrors;
    // The node's MemoryPressure / DiskPressure / PIDPressure (the eviction manager).
    std::function<node::PressureFlags()> pressure;
  };

  // Reads the machine's facts and checks the kubeconfig files; connects in start().
  static absl::StatusOr<std::unique_ptr<ClusterConnection>> create(
      const config::AgentConfig& cfg, core::EventLoop& loop, core::WorkerPool& pool,
      std::string nodeIP, std::string kubeletVersion, Hooks hooks);
  ~ClusterConnection();

  // Bootstraps the client certificate when needed, then connects: registers
  // the Node, starts the Lease and the watches.
  void start();
  bool connected() const { return client_ != nullptr; }
  bool podsSynced() const { return pods_ && pods_->hasSynced(); }
  void forEachApiPod(const std::function<void(const ApiPod&)>& fn) const;

  // Null until connected.
  status::StatusManager* statusManager() { return status_.get(); }
  mirror::MirrorPodManager* mirrors() { return mirrors_.get(); }
  // Logs only until connected.
  events::EventRecorder& events() {
    if (recorder_) return *recorder_;
    return logOnly_;
  }

  // The API objects a sync of `pod` needs; takes watches on what it references.
  runtime::EnvSourcesPtr envSources(const api::Pod& pod);
  // The pod is gone: its watches are released.
  void podGone(const std::string& uid);
  // Computes and sends the node status now (e.g. network readiness changed); a no-op
  // until connected and registered.
  void syncNodeStatus() {
    if (node_) node_->syncNow();
  }
  // The Node's allocatable, labels and maxPods, once its status was computed.
  std::optional<pods::NodeAllocatable> allocatable() const;

  // Requests made so far (for the benchmark's API load figures).
  const kubeapi::CurlApiClient* client() const { return client_.get(); }
  // The API client for the agent's own requests (tokens, claims); null until connected.
  kubeapi::ApiClient* apiClient() { return client_.get(); }

 private:
  ClusterConnection(const config::AgentConfig& cfg, core::EventLoop& loop, core::WorkerPool& pool,
                    std::string nodeIP, Hooks hooks);
  absl::Status connect();
  void startWatches();
  void onPodEvent(const std::shared_ptr<const ApiPod>& oldPod,
                  const std::shared_ptr<const ApiPod>& newPod);
  void acquireRefs(const api::Pod& pod);

  config::AgentConfig cfg_;
  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  std::string nodeIP_;
  std::string kubeletVersion_;
  Hooks hooks_;
  node::MachineInfo machine_;

  std::unique_ptr<kubeapi::CertificateManager> certs_;
  std::unique_ptr<kubeapi::CurlApiClient> bootstrapClient_;
  std::unique_ptr<kubeapi::CurlApiClient> client_;
  std::unique_ptr<node::NodeStatusManager> node_;
  std::unique_ptr<node::NodeLease> lease_;
  std::unique_ptr<status::StatusManager> status_;
  std::unique_ptr<mirror::MirrorPodManager> mirrors_;
  std::unique_ptr<events::ApiEventRecorder> recorder_;
  events::LogOnlyEventRecorder logOnly_;
  std::unique_ptr<kubeapi::Informer<ApiPod>> pods_;
  std::unique_ptr<kubeapi::Informer<api::Service>> services_;
  // The RuntimeClasses (the kubelet's runtimeclass manager): a pod's runtime handler.
  std::unique_ptr<kubeapi::Informer<api::RuntimeClass>> runtimeClasses_;
  // This node's Node object.
  std::unique_ptr<kubeapi::Informer<NodeObject>> nodeObject_;
  std::unique_ptr<kubeapi::ObjectWatches<api::ConfigMap>> configMaps_;
  std::unique_ptr<kubeapi::ObjectWatches<api::Secret>> secrets_;
  // What each pod holds watches on: uid -> (namespace, configmaps, secrets).
  struct Refs {
    std::string ns;
    std::set<std::string> configMaps;
    std::set<std::string> secrets;
  };
  std::unordered_map<std::string, Refs> refs_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::cluster

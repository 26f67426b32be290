// The Agent wires the managers together and owns them: sources feed desired
// pods to the pod workers, the PLEG keeps their runtime view fresh, status is
// computed when a pod changes, and the HTTP servers expose health and pods.
// It decides nothing itself.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "agent/api/pod_status.h"
#include "agent/cluster/cluster_connection.h"
#include "agent/cm/pod_cgroups.h"
#include "agent/cm/qos_cgroups.h"
#include "agent/cni/network_readiness.h"
#include "agent/cni/pod_network_config.h"
#include "agent/config/agent_config.h"
#include "agent/eviction/eviction_manager.h"
#include "agent/gc/garbage_collector.h"
#include "agent/health/cri_exec_runner.h"
#include "agent/health/hook_runner.h"
#include "agent/logs/container_log_rotation.h"
#include "agent/metrics/instrumented_runtime.h"
#include "agent/metrics/kubelet_metrics.h"
#include "agent/pods/admission.h"
#include "agent/pods/pod_workers.h"
#include "agent/pods/resize_allocation.h"
#include "agent/pods/sysctls.h"
#include "agent/runtime/runtime_manager.h"
#include "agent/server/auth_filter.h"
#include "agent/server/http_exchange.h"
#include "agent/server/http_server.h"
#include "agent/server/serving_cert.h"
#include "agent/shutdown/shutdown_manager.h"
#include "agent/sources/file_source.h"
#include "agent/stats/stats_provider.h"
#include "agent/volumes/pod_volumes.h"
#include "cgroups/cgroup_manager.h"
#include "core/dbus_connection.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "cri/grpc_runtime_client.h"
#include "nlohmann/json.hpp"
#include "probes/checks.h"
#include "probes/probe_manager.h"

namespace agent {

class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> create(const config::AgentConfig& cfg,
                                                       core::EventLoop& loop);
  ~Agent();

  // Loads the static pods, starts the PLEG and the servers.
  absl::Status start();

  // Before exit: lets CRI calls in flight finish (a start cut off half-way can
  // leave containerd with a container stuck in "starting"), up to `maxWait`.
  void shutdown(core::Duration maxWait);

  // The PodList the read-only port's /pods serves.
  nlohmann::json podList() const;

 private:
  Agent(const config::AgentConfig& cfg, core::EventLoop& loop);
  void onPodChanged(const std::string& uid);
  absl::Status startServers();
  // The desired pods: the static pods plus the admitted pods bound to this node.
  void rebuildDesired();
  // Admits a new API pod, or reports it Failed with the kubelet's reason.
  bool admit(const api::Pod& pod, const std::vector<const api::Pod*>& active);
  // In-place resize admission: the pod as allocated (a copy with the allocated cpu
  // and memory while a resize waits), and whether its spec's resources now fit
  // beside `others` (if not, the reason goes to the PodResizePending condition).
  std::shared_ptr<const api::Pod> asAllocated(const std::shared_ptr<const api::Pod>& pod);
  bool admitResize(const api::Pod& pod, const std::vector<const api::Pod*>& others);
  void reportStatus(const api::Pod& pod, const api::PodStatus& status);
  void onObjectChanged(const std::string& ns);
  void gatherRuntimeFacts(std::function<void(node::RuntimeFacts)> done);
  // Creates the prober and connects it to the pod workers and the status.
  void setUpProbes();
  void recordContainerEvent(const api::Pod& pod, const std::string& container, bool warning,
                            const std::string& reason, const std::string& message);
  // Connects the volume manager to the pod workers, the API and the events.
  void setUpVolumes();
  // Creates the CNI config owner and the network readiness check, and connects them
  // to the pod workers, the node status and the events.
  void setUpNetwork();
  // Once the runtime was listed and every source has its pods: removes the pod
  // directories of pods that no longer exist (deleted while the agent was down).
  void maybeCleanupOrphans();
  // agent_resources.cc: the cgroup manager for this host and --cgroup-driver, the QoS
  // and pod cgroups, and what the runtime needs of them (into `opts`).
  absl::Status setUpCgroups(runtime::RuntimeOptions& opts);
  // The stats provider, the garbage collectors and the eviction manager (thresholds
  // from the config).
  absl::Status setUpEviction();
  // The container and image garbage collectors (the eviction manager's reclaims too).
  void setUpGarbageCollection();
  // The node shutdown manager (inert unless shutdownGracePeriod is set).
  void setUpShutdown();
  void startResources();
  // The pods that hold resources: wanted, not terminating or terminated.
  std::vector<std::shared_ptr<const api::Pod>> activePodPtrs() const;
  // Ends a pod for good (eviction, node shutdown): killed within `gracePeriodSeconds`,
  // its final status passed through `finalStatus`; `done` once it is stopped.
  void terminatePod(const std::string& uid, const std::string& reason, const std::string& message,
                    int64_t gracePeriodSeconds, std::function<void(api::PodStatus&)> finalStatus,
                    std::function<void(absl::Status)> done);
  void podTerminated(const std::string& uid);
  // The eviction and shutdown admit handlers.
  std::optional<pods::Rejection> admitResources(const api::Pod& pod) const;
  server::HttpResponse statsSummary() const;

  // agent_server.cc: the kubelet API on :10250 and what its endpoints look up.
  absl::Status startApiServer();
  void installCommonHandlers(server::HttpServer& s);
  // The desired pod named ns/name, or null.
  std::shared_ptr<const api::Pod> podByName(const std::string& ns, const std::string& name) const;
  static bool hasContainerSpec(const api::Pod& pod, const std::string& name);
  // Which container instance /containerLogs reads (the kubelet's
  // validateContainerLogStatus); InvalidArgument with its message otherwise.
  absl::StatusOr<std::string> logContainerId(const api::Pod& pod, const std::string& name,
                                             bool previous) const;
  // /runningpods/: the pods with running containers, as the runtime has them.
  nlohmann::json runningPodList() const;
  core::Duration syncLoopThreshold() const;
  void installApiHandlers(server::HttpServer& s);
  void serveContainerLogs(server::ExchangePtr ex);
  // kubelet_running_pods and kubelet_running_containers, counted at scrape time.
  void updateGaugeMetrics();
  absl::StatusOr<server::TlsOptions> apiTlsOptions(const kubeapi::CertKeyPair& pair) const;
  // (Re)starts the HTTPS server with this serving certificate.
  absl::Status serveApi(const kubeapi::CertKeyPair& pair);
  void startContainerLogRotation();
  // kubelet_pod_start_duration_seconds and the SLI figures, once per pod.
  void recordPodStart(const api::Pod& pod, core::WallTime firstSeen);

  config::AgentConfig cfg_;
  core::EventLoop& loop_;
  std::string nodeIP_;
  std::unique_ptr<core::ThreadWorkerPool> pool_;
  std::unique_ptr<metrics::KubeletMetrics> metrics_;  // outlives what records into it
  std::unique_ptr<cri::GrpcRuntimeClient> cri_;
  // What the agent calls the runtime through: cri_, counted in the runtime metrics.
  std::unique_ptr<metrics::InstrumentedRuntimeService> runtimeSvc_;
  std::unique_ptr<metrics::InstrumentedImageService> imageSvc_;
  std::unique_ptr<health::LifecycleHookRunner> hookRunner_;  // outlives runtime_
  std::unique_ptr<runtime::RuntimeManager> runtime_;
  std::unique_ptr<health::CriExecRunner> execRunner_;
  std::unique_ptr<probes::ActionChecker> checker_;
  std::unique_ptr<probes::ProbeManager> probes_;
  std::unique_ptr<pods::PodWorkers> workers_;
  std::unique_ptr<volumes::PodVolumes> volumes_;
  std::unique_ptr<cni::PodNetworkConfig> podNetwork_;
  std::unique_ptr<cni::NetworkReadiness> networkReadiness_;
  bool staticPodsLoaded_ = false;
  bool orphansCleaned_ = false;
  std::unique_ptr<sources::FileSource> fileSource_;
  std::unique_ptr<server::HttpServer> healthz_;
  std::unique_ptr<server::HttpServer> readOnly_;
  std::unique_ptr<server::HttpServer> api_;            // the kubelet API (:10250)
  std::unique_ptr<kubeapi::ApiClient> clusterClient_;  // the auth webhooks' client
  std::unique_ptr<server::AuthFilter> authFilter_;
  std::unique_ptr<server::ServingCertificate> servingCert_;
  std::unique_ptr<logs::ContainerLogManager> logRotation_;
  std::map<std::string, api::PodStatus> statuses_;       // last computed, by pod UID
  std::unique_ptr<cluster::ClusterConnection> cluster_;  // null in standalone mode
  events::LogOnlyEventRecorder logOnlyEvents_;
  sources::PodSet staticPods_;
  std::set<std::string> admitted_;                   // API pod UIDs allowed to run
  std::map<std::string, pods::Rejection> rejected_;  // API pod UIDs refused, and why
  // The sysctl admit handler: the safe sysctls plus --allowed-unsafe-sysctls.
  std::optional<pods::SysctlAllowlist> sysctls_;
  // In-place resize admission (resize_allocation.h), by API pod UID: what each
  // admitted pod's containers were last allocated, and why a resize waits.
  std::map<std::string, pods::PodAllocation> allocations_;
  std::map<std::string, pods::ResizePending> resizePending_;
  // The pod from the API and its copy with the allocated resources, by UID.
  std::map<std::string, std::pair<std::shared_ptr<const api::Pod>, std::shared_ptr<const api::Pod>>>
      allocatedCopies_;
  // Resources (agent_resources.cc). The bus outlives what uses it.
  std::unique_ptr<core::DbusConnection> systemBus_;
  cgroups::CgroupManagerPtr cgroups_;
  std::unique_ptr<cm::QosCgroups> qos_;
  std::unique_ptr<cm::PodCgroups> podCgroups_;
  std::unique_ptr<stats::StatsProvider> stats_;
  std::shared_ptr<const stats::Summary> summary_;  // the latest collected
  // Container and image GC; the collectors outlive the loop side that uses them.
  std::unique_ptr<gc::ContainerGc> containerGc_;
  std::unique_ptr<gc::ImageGcManager> imageGc_;
  std::unique_ptr<gc::GarbageCollector> gc_;
  std::unique_ptr<eviction::EvictionManager> eviction_;
  std::unique_ptr<shutdown::ShutdownManager> shutdown_;
  // Pods the agent ended: their final status, and who waits for them to stop.
  std::map<std::string, std::function<void(api::PodStatus&)>> finalStatus_;
  std::map<std::string, std::vector<std::function<void(absl::Status)>>> terminationWaiters_;
};

}  // namespace agent

// The kubelet's own metric families (pkg/kubelet/metrics/metrics.go and
// pkg/kubelet/server/metrics/metrics.go) that cubelet feeds, with upstream's
// names, labels, buckets, help texts and stability levels, plus the process
// collector: render() is the body of /metrics.
//
// One plain object owned by the agent (no global registry): components that
// record get a KubeletMetrics& (or a reference to one family). Every family is
// thread-safe; see registry.h.
//
//   m.runningPods.set(n);
//   m.podStartDuration.observe(seconds);
//   m.runtimeOperations.with({"version"}).inc();
//   auto labels = KubeletMetrics::httpLabels(req.method, req.path, "readwrite");
//   m.httpRequestStarted(labels); ... m.httpRequestFinished(labels, seconds);
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "agent/metrics/process_collector.h"
#include "agent/metrics/registry.h"

namespace agent::metrics {

// Values of kubelet_running_containers{container_state} and
// kubelet_started_containers_total{container_type} as upstream spells them.
inline constexpr std::string_view kContainerStateCreated = "created";
inline constexpr std::string_view kContainerStateRunning = "running";
inline constexpr std::string_view kContainerStateExited = "exited";
inline constexpr std::string_view kContainerStateUnknown = "unknown";
inline constexpr std::string_view kContainerTypeContainer = "container";
inline constexpr std::string_view kContainerTypeInit = "init_container";
inline constexpr std::string_view kContainerTypeEphemeral = "ephemeral_container";

// kubelet_pod_worker_duration_seconds{operation_type}: "create", "update", "sync"
// (and "terminating"/"terminated" for those phases' syncs).

class KubeletMetrics {
 public:
  KubeletMetrics();
  KubeletMetrics(const KubeletMetrics&) = delete;
  KubeletMetrics& operator=(const KubeletMetrics&) = delete;

  // The body of /metrics (content type kTextContentType).
  std::string render() const;

  // kubelet_node_name{node=name} 1 (replaces any previous name).
  void setNodeName(const std::string& name);

  // --- the HTTP server (the kubelet's ServeHTTP instrumentation) ---------------
  struct HttpLabels {
    std::string method;  // upstream's known verbs, else "other"
    std::string path;    // the route bucket: "pods", "stats", "metrics/resource", ... else "other"
    std::string serverType;   // "readwrite" (authenticated :10250) or "readonly"
    std::string longRunning;  // "true" / "false"
  };
  // The bucket of a request path as getURLRootPath + getMetricBucket compute it:
  // the first segment, "metrics/<x>" under /metrics/, "other" if the server has no
  // such route. `knownBuckets` defaults to the buckets the kubelet registers with
  // debugging handlers on.
  static std::string httpPathBucket(std::string_view path);
  static std::string httpPathBucket(std::string_view path, const std::set<std::string>& known);
  static HttpLabels httpLabels(std::string_view method, std::string_view path,
                               std::string_view serverType);
  // kubelet_http_requests_total and kubelet_http_inflight_requests go up when the
  // request arrives...
  void httpRequestStarted(const HttpLabels& l);
  // ...inflight goes down and the duration is observed when it is finished.
  void httpRequestFinished(const HttpLabels& l, double seconds);

  // --- the families (upstream's variable names, lower camel case) --------------
  GaugeVec nodeName;                      // {node}
  GaugeMetric runningPods;                // pods with a running sandbox
  GaugeVec runningContainers;             // {container_state}
  HistogramMetric containersPerPodCount;  // observed per admitted pod
  HistogramMetric podStartDuration;       // first seen -> running
  HistogramVec podStartSliDuration;       // no labels (lazy): creation -> running, minus pulls
  HistogramVec podStartTotalDuration;     // no labels (lazy): creation -> running
  HistogramVec podWorkerDuration;         // {operation_type}
  HistogramMetric podWorkerStartDuration;
  HistogramMetric podStatusSyncDuration;
  HistogramMetric plegRelistDuration;
  HistogramMetric plegRelistInterval;
  CounterMetric plegDiscardEvents;
  GaugeMetric plegLastSeen;                // unix seconds
  CounterVec runtimeOperations;            // {operation_type}
  CounterVec runtimeOperationsErrors;      // {operation_type}
  HistogramVec runtimeOperationsDuration;  // {operation_type}
  HistogramVec runPodSandboxDuration;      // {runtime_handler}
  CounterVec runPodSandboxErrors;          // {runtime_handler}
  CounterMetric startedPodsTotal;
  CounterMetric startedPodsErrorsTotal;
  CounterVec startedContainersTotal;        // {container_type}
  CounterVec startedContainersErrorsTotal;  // {container_type, code}
  GaugeMetric managedEphemeralContainers;
  CounterVec evictions;                // {eviction_signal}
  HistogramVec evictionStatsAge;       // {eviction_signal}
  CounterVec preemptions;              // {preemption_signal}
  HistogramVec cgroupManagerDuration;  // {operation_type}
  CounterVec httpRequests;             // {method, path, server_type, long_running}
  HistogramVec httpRequestsDuration;   // same labels
  GaugeVec httpInflightRequests;       // same labels

 private:
  ProcessCollector process_;
  Registry registry_;
};

}  // namespace agent::metrics

#include "agent/metrics/kubelet_metrics.h"

#include <array>
#include <vector>

namespace agent::metrics {
namespace {

const std::vector<double>& podStartupBuckets() {
  static const std::vector<double> b = {0.5, 1,   2,   3,    4,    5,    6,   8,   10,
                                        20,  30,  45,  60,   120,  180,  240, 300, 360,
                                        480, 600, 900, 1200, 1800, 2700, 3600};
  return b;
}

MetricOpts opts(std::string name, std::string help, std::vector<double> buckets = {}) {
  return MetricOpts{std::move(name), std::move(help), StabilityLevel::kAlpha, std::move(buckets)};
}

const std::vector<std::string> kHttpLabelNames = {"method", "path", "server_type", "long_running"};

}  // namespace

KubeletMetrics::KubeletMetrics()
    : nodeName(opts("kubelet_node_name", "The node's name. The count is always 1."), {"node"}),
      runningPods(opts("kubelet_running_pods", "Number of pods that have a running pod sandbox")),
      runningContainers(
          opts("kubelet_running_containers", "Number of containers currently running"),
          {"container_state"}),
      containersPerPodCount(opts("kubelet_containers_per_pod_count",
                                 "The number of containers per pod.", exponentialBuckets(1, 2, 5))),
      podStartDuration(
          opts("kubelet_pod_start_duration_seconds",
               "Duration in seconds from kubelet seeing a pod for the first time to the "
               "pod starting to run",
               podStartupBuckets())),
      podStartSliDuration(
          opts("kubelet_pod_start_sli_duration_seconds",
               "Duration in seconds to start a pod, excluding time to pull images and run init "
               "containers, measured from pod creation timestamp to when all its containers are "
               "reported as started and observed via watch",
               podStartupBuckets()),
          {}),
      podStartTotalDuration(
          opts("kubelet_pod_start_total_duration_seconds",
               "Duration in seconds to start a pod since creation, including time to pull images "
               "and run init containers, measured from pod creation timestamp to when all its "
               "containers are reported as started and observed via watch",
               podStartupBuckets()),
          {}),
      podWorkerDuration(opts("kubelet_pod_worker_duration_seconds",
                             "Duration in seconds to sync a single pod. Broken down by operation "
                             "type: create, update, or sync",
                             defaultBuckets()),
                        {"operation_type"}),
      podWorkerStartDuration(opts(
          "kubelet_pod_worker_start_duration_seconds",
          "Duration in seconds from kubelet seeing a pod to starting a worker.", defaultBuckets())),
      podStatusSyncDuration(
          opts("kubelet_pod_status_sync_duration_seconds",
               "Duration in seconds to sync a pod status update. Measures time from detection of a "
               "change to pod status until the API is successfully updated for that pod, even if "
               "multiple intevening changes to pod status occur.",
               {0.010, 0.050, 0.100, 0.500, 1, 5, 10, 20, 30, 45, 60})),
      plegRelistDuration(opts("kubelet_pleg_relist_duration_seconds",
                              "Duration in seconds for relisting pods in PLEG.", defaultBuckets())),
      plegRelistInterval(opts("kubelet_pleg_relist_interval_seconds",
                              "Interval in seconds between relisting in PLEG.", defaultBuckets())),
      plegDiscardEvents(
          opts("kubelet_pleg_discard_events", "The number of discard events in PLEG.")),
      plegLastSeen(opts("kubelet_pleg_last_seen_seconds",
                        "Timestamp in seconds when PLEG was last seen active.")),
      runtimeOperations(opts("kubelet_runtime_operations_total",
                             "Cumulative number of runtime operations by operation type."),
                        {"operation_type"}),
      runtimeOperationsErrors(
          opts("kubelet_runtime_operations_errors_total",
               "Cumulative number of runtime operation errors by operation type."),
          {"operation_type"}),
      runtimeOperationsDuration(
          opts("kubelet_runtime_operations_duration_seconds",
               "Duration in seconds of runtime operations. Broken down by operation type.",
               exponentialBuckets(.005, 2.5, 14)),
          {"operation_type"}),
      runPodSandboxDuration(
          opts("kubelet_run_podsandbox_duration_seconds",
               "Duration in seconds of the run_podsandbox operations. Broken down "
               "by RuntimeClass.Handler.",
               defaultBuckets()),
          {"runtime_handler"}),
      runPodSandboxErrors(opts("kubelet_run_podsandbox_errors_total",
                               "Cumulative number of the run_podsandbox operation errors by "
                               "RuntimeClass.Handler."),
                          {"runtime_handler"}),
      startedPodsTotal(opts("kubelet_started_pods_total", "Cumulative number of pods started")),
      startedPodsErrorsTotal(opts("kubelet_started_pods_errors_total",
                                  "Cumulative number of errors when starting pods")),
      startedContainersTotal(
          opts("kubelet_started_containers_total", "Cumulative number of containers started"),
          {"container_type"}),
      startedContainersErrorsTotal(opts("kubelet_started_containers_errors_total",
                                        "Cumulative number of errors when starting containers"),
                                   {"container_type", "code"}),
      managedEphemeralContainers(
          opts("kubelet_managed_ephemeral_containers",
               "Current number of ephemeral containers in pods managed by this kubelet.")),
      evictions(opts("kubelet_evictions", "Cumulative number of pod evictions by eviction signal"),
                {"eviction_signal"}),
      evictionStatsAge(opts("kubelet_eviction_stats_age_seconds",
                            "Time between when stats are collected, and when pod is evicted based "
                            "on those stats by eviction signal",
                            defaultBuckets()),
                       {"eviction_signal"}),
      preemptions(opts("kubelet_preemptions",
                       "Cumulative number of pod preemptions by preemption resource"),
                  {"preemption_signal"}),
      cgroupManagerDuration(
          opts("kubelet_cgroup_manager_duration_seconds",
               "Duration in seconds for cgroup manager operations. Broken down by method.",
               defaultBuckets()),
          {"operation_type"}),
      httpRequests(opts("kubelet_http_requests_total",
                        "Number of the http requests received since the server started"),
                   kHttpLabelNames),
      httpRequestsDuration(opts("kubelet_http_requests_duration_seconds",
                                "Duration in seconds to serve http requests", defaultBuckets()),
                           kHttpLabelNames),
      httpInflightRequests(
          opts("kubelet_http_inflight_requests", "Number of the inflight http requests"),
          kHttpLabelNames) {
  for (const Collector* c : std::initializer_list<const Collector*>{
           &nodeName,
           &runningPods,
           &runningContainers,
           &containersPerPodCount,
           &podStartDuration,
           &podStartSliDuration,
           &podStartTotalDuration,
           &podWorkerDuration,
           &podWorkerStartDuration,
           &podStatusSyncDuration,
           &plegRelistDuration,
           &plegRelistInterval,
           &plegDiscardEvents,
           &plegLastSeen,
           &runtimeOperations,
           &runtimeOperationsErrors,
           &runtimeOperationsDuration,
           &runPodSandboxDuration,
           &runPodSandboxErrors,
           &startedPodsTotal,
           &startedPodsErrorsTotal,
           &startedContainersTotal,
           &startedContainersErrorsTotal,
           &managedEphemeralContainers,
           &evictions,
           &evictionStatsAge,
           &preemptions,
           &cgroupManagerDuration,
           &httpRequests,
           &httpRequestsDuration,
           &httpInflightRequests,
           &process_,
       }) {
    registry_.add(*c);
  }
}

std::string KubeletMetrics::render() const { return registry_.render(); }

void KubeletMetrics::setNodeName(const std::string& name) {
  nodeName.removeMatching({});  // one series only: drop any previous name
  nodeName.with({name}).set(1);
}

std::string KubeletMetrics::httpPathBucket(std::string_view path) {
  // The buckets the kubelet's server registers (InstallDefaultHandlers,
  // InstallDebuggingHandlers, InstallSystemLogHandler, InstallProfilingHandler,
  // and checkpoint with its feature on by default).
  static const std::set<std::string> kKnown = {"healthz",
                                               "pods",
                                               "stats",
                                               "metrics",
                                               "metrics/cadvisor",
                                               "metrics/probes",
                                               "metrics/resource",
                                               "checkpoint",
                                               "run",
                                               "exec",
                                               "attach",
                                               "portForward",
                                               "containerLogs",
                                               "configz",
                                               "runningpods",
                                               "logs",
                                               "debug",
                                               "pprof"};
  return httpPathBucket(path, kKnown);
}

std::string KubeletMetrics::httpPathBucket(std::string_view path,
                                           const std::set<std::string>& known) {
  // getURLRootPath: strip one leading '/', split in at most 3 on '/'; "metrics/x"
  // for metrics paths, else the first part.
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t slash = path.find('/');
  std::string root(path.substr(0, slash));
  if (root == "metrics" && slash != std::string_view::npos) {
    std::string_view rest = path.substr(slash + 1);
    root += "/";
    root += rest.substr(0, rest.find('/'));
  }
  return known.count(root) ? root : "other";
}

KubeletMetrics::HttpLabels KubeletMetrics::httpLabels(std::string_view method,
                                                      std::string_view path,
                                                      std::string_view serverType) {
  static const std::array<std::string_view, 8> kMethods = {"OPTIONS", "GET",    "HEAD",  "POST",
                                                           "PUT",     "DELETE", "TRACE", "CONNECT"};
  HttpLabels l;
  l.method = "other";
  for (std::string_view m : kMethods) {
    if (m == method) l.method = std::string(method);
  }
  l.path = httpPathBucket(path);
  l.serverType = std::string(serverType);
  // Upstream's longRunningRequestPathMap, compared with the bucket: "exec",
  // "attach", "portforward", "debug". The port-forward bucket is spelled
  // "portForward", so upstream never marks it long-running; we keep that so
  // dashboards see the same series.
  l.longRunning =
      (l.path == "exec" || l.path == "attach" || l.path == "portforward" || l.path == "debug")
          ? "true"
          : "false";
  return l;
}

void KubeletMetrics::httpRequestStarted(const HttpLabels& l) {
  std::vector<std::string> v = {l.method, l.path, l.serverType, l.longRunning};
  httpRequests.with(v).inc();
  httpInflightRequests.with(std::move(v)).inc();
}

void KubeletMetrics::httpRequestFinished(const HttpLabels& l, double seconds) {
  std::vector<std::string> v = {l.method, l.path, l.serverType, l.longRunning};
  httpInflightRequests.with(v).dec();
  httpRequestsDuration.with(std::move(v)).observe(seconds);
}

}  // namespace agent::metrics

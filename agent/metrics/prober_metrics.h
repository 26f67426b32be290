// /metrics/probes: the prober's own registry, as the kubelet serves it
// (pkg/kubelet/prober/prober_manager.go, server.go):
//
//   prober_probe_total{probe_type,result,container,pod,namespace,pod_uid}   [BETA] counter
//   prober_probe_duration_seconds{probe_type,container,pod,namespace}     [ALPHA] histogram
//   process_start_time_seconds                                            [ALPHA] gauge
//
// probe_type is "Liveness", "Readiness" or "Startup" and result "successful",
// "failed" or "unknown". As upstream, the duration is observed for successful and
// unknown results only, a probe that errored (no result) is not recorded at all,
// and a probe worker's series are deleted when it stops (removeProbe).
//
// Thread-safe; one object owned by the agent.
#pragma once

#include <string>

#include "agent/metrics/registry.h"

namespace agent::metrics {

enum class ProbeType { kLiveness, kReadiness, kStartup };
enum class ProbeResult { kSuccessful, kFailed, kUnknown };

struct ProbeTarget {
  std::string container;
  std::string pod;
  std::string namespace_;
  std::string podUid;
};

class ProberMetrics {
 public:
  // `processStartTimeSeconds`: cubelet's start (unix seconds); default: read from
  // /proc/self/stat.
  ProberMetrics();
  explicit ProberMetrics(double processStartTimeSeconds);
  ProberMetrics(const ProberMetrics&) = delete;
  ProberMetrics& operator=(const ProberMetrics&) = delete;

  // One finished probe (call after each probe that produced a result).
  void recordProbe(ProbeType type, ProbeResult result, const ProbeTarget& target, double seconds);
  // The probe's worker stopped: drop its series.
  void removeProbe(ProbeType type, const ProbeTarget& target);
  // The pod is gone: drop every series of it.
  void removePod(const std::string& podUid, const std::string& ns, const std::string& pod);

  // The body of /metrics/probes.
  std::string render() const;

  CounterVec probeTotal;
  HistogramVec probeDuration;

 private:
  GaugeMetric processStartTime_;
  Registry registry_;
};

}  // namespace agent::metrics

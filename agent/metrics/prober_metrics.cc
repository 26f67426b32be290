#include "agent/metrics/prober_metrics.h"

#include "agent/metrics/process_collector.h"

namespace agent::metrics {
namespace {

const char* typeLabel(ProbeType t) {
  switch (t) {
    case ProbeType::kLiveness:
      return "Liveness";
    case ProbeType::kReadiness:
      return "Readiness";
    case ProbeType::kStartup:
      return "Startup";
  }
  return "UNKNOWN";
}

const char* resultLabel(ProbeResult r) {
  switch (r) {
    case ProbeResult::kSuccessful:
      return "successful";
    case ProbeResult::kFailed:
      return "failed";
    case ProbeResult::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::vector<std::string> totalLabels(ProbeType t, const char* result, const ProbeTarget& p) {
  return {typeLabel(t), result, p.container, p.pod, p.namespace_, p.podUid};
}

std::vector<std::string> durationLabels(ProbeType t, const ProbeTarget& p) {
  return {typeLabel(t), p.container, p.pod, p.namespace_};
}

}  // namespace

ProberMetrics::ProberMetrics() : ProberMetrics(readProcessStats().startTimeSeconds.value_or(0)) {}

ProberMetrics::ProberMetrics(double processStartTimeSeconds)
    : probeTotal(MetricOpts{"prober_probe_total",
                            "Cumulative number of a liveness, readiness or startup probe for a "
                            "container by result.",
                            StabilityLevel::kBeta,
                            {}},
                 {"probe_type", "result", "container", "pod", "namespace", "pod_uid"}),
      probeDuration(
          MetricOpts{"prober_probe_duration_seconds", "Duration in seconds for a probe response.",
                     StabilityLevel::kAlpha, defaultBuckets()},
          {"probe_type", "container", "pod", "namespace"}),
      processStartTime_(MetricOpts{"process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.",
                                   StabilityLevel::kAlpha,
                                   {}}) {
  processStartTime_.set(processStartTimeSeconds);
  registry_.add(probeTotal);
  registry_.add(probeDuration);
  registry_.add(processStartTime_);
}

void ProberMetrics::recordProbe(ProbeType type, ProbeResult result, const ProbeTarget& target,
                                double seconds) {
  probeTotal.with(totalLabels(type, resultLabel(result), target)).inc();
  if (result != ProbeResult::kFailed)
    probeDuration.with(durationLabels(type, target)).observe(seconds);
}

void ProberMetrics::removeProbe(ProbeType type, const ProbeTarget& target) {
  for (ProbeResult r : {ProbeResult::kSuccessful, ProbeResult::kFailed, ProbeResult::kUnknown}) {
    probeTotal.remove(totalLabels(type, resultLabel(r), target));
  }
  probeDuration.remove(durationLabels(type, target));
}

void ProberMetrics::removePod(const std::string& podUid, const std::string& ns,
                              const std::string& pod) {
  probeTotal.removeMatching({{"pod_uid", podUid}});
  probeDuration.removeMatching({{"namespace", ns}, {"pod", pod}});
}

std::string ProberMetrics::render() const { return registry_.render(); }

}  // namespace agent::metrics

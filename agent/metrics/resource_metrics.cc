#include "agent/metrics/resource_metrics.h"

#include <chrono>
#include <optional>
#include <vector>

#include "agent/metrics/registry.h"

namespace agent::metrics {
namespace {

std::optional<int64_t> timestampMs(core::WallTime t) {
  // A zero time (Go's zero time.Time) has no meaningful timestamp: leave it off.
  if (t == core::WallTime{}) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct Families {
  FamilySnapshot nodeCpu{"node_cpu_usage_seconds_total",
                         annotateHelp(StabilityLevel::kStable,
                                      "Cumulative cpu time consumed by the node in core-seconds"),
                         MetricType::kCounter,
                         {}};
  FamilySnapshot nodeMemory{
      "node_memory_working_set_bytes",
      annotateHelp(StabilityLevel::kStable, "Current working set of the node in bytes"),
      MetricType::kGauge,
      {}};
  FamilySnapshot containerCpu{
      "container_cpu_usage_seconds_total",
      annotateHelp(StabilityLevel::kStable,
                   "Cumulative cpu time consumed by the container in core-seconds"),
      MetricType::kCounter,
      {}};
  FamilySnapshot containerMemory{
      "container_memory_working_set_bytes",
      annotateHelp(StabilityLevel::kStable, "Current working set of the container in bytes"),
      MetricType::kGauge,
      {}};
  FamilySnapshot containerStart{
      "container_start_time_seconds",
      annotateHelp(StabilityLevel::kStable,
                   "Start time of the container since unix epoch in seconds"),
      MetricType::kGauge,
      {}};
  FamilySnapshot podCpu{"pod_cpu_usage_seconds_total",
                        annotateHelp(StabilityLevel::kStable,
                                     "Cumulative cpu time consumed by the pod in core-seconds"),
                        MetricType::kCounter,
                        {}};
  FamilySnapshot podMemory{
      "pod_memory_working_set_bytes",
      annotateHelp(StabilityLevel::kStable, "Current working set of the pod in bytes"),
      MetricType::kGauge,
      {}};
  FamilySnapshot scrapeError{
      "resource_scrape_error",
      annotateHelp(StabilityLevel::kStable,
                   "1 if there was an error while getting container metrics, 0 otherwise"),
      MetricType::kGauge,
      {}};
};

Sample sample(std::vector<LabelPair> labels, double value, std::optional<int64_t> ts) {
  Sample s;
  s.labels = std::move(labels);
  s.value = value;
  s.timestampMs = ts;
  return s;
}

double coreSeconds(uint64_t nanos) { return static_cast<double>(nanos) / 1e9; }

}  // namespace

std::string renderResourceMetrics(const stats::Summary* summary) {
  Families f;
  f.scrapeError.samples.push_back(sample({}, summary ? 0 : 1, std::nullopt));
  if (summary) {
    const stats::NodeStats& node = summary->node;
    if (node.cpu && node.cpu->usageCoreNanoSeconds) {
      f.nodeCpu.samples.push_back(
          sample({}, coreSeconds(*node.cpu->usageCoreNanoSeconds), timestampMs(node.cpu->time)));
    }
    if (node.memory && node.memory->workingSetBytes) {
      f.nodeMemory.samples.push_back(sample({}, static_cast<double>(*node.memory->workingSetBytes),
                                            timestampMs(node.memory->time)));
    }
    for (const stats::PodStats& pod : summary->pods) {
      const std::string& podName = pod.podRef.name;
      const std::string& ns = pod.podRef.namespace_;
      for (const stats::ContainerStats& c : pod.containers) {
        std::vector<LabelPair> labels = {
            {"container", c.name}, {"pod", podName}, {"namespace", ns}};
        const auto startNanos =
            std::chrono::duration_cast<std::chrono::nanoseconds>(c.startTime.time_since_epoch())
                .count();
        if (startNanos >= 1000000000) {  // upstream: StartTime.Unix() > 0
          f.containerStart.samples.push_back(
              sample(labels, static_cast<double>(startNanos) / 1e9, std::nullopt));
        }
        if (c.cpu && c.cpu->usageCoreNanoSeconds) {
          f.containerCpu.samples.push_back(
              sample(labels, coreSeconds(*c.cpu->usageCoreNanoSeconds), timestampMs(c.cpu->time)));
        }
        if (c.memory && c.memory->workingSetBytes) {
          f.containerMemory.samples.push_back(
              sample(labels, static_cast<double>(*c.memory->workingSetBytes),
                     timestampMs(c.memory->time)));
        }
      }
      std::vector<LabelPair> podLabels = {{"pod", podName}, {"namespace", ns}};
      if (pod.cpu && pod.cpu->usageCoreNanoSeconds) {
        f.podCpu.samples.push_back(sample(podLabels, coreSeconds(*pod.cpu->usageCoreNanoSeconds),
                                          timestampMs(pod.cpu->time)));
      }
      if (pod.memory && pod.memory->workingSetBytes) {
        f.podMemory.samples.push_back(sample(podLabels,
                                             static_cast<double>(*pod.memory->workingSetBytes),
                                             timestampMs(pod.memory->time)));
      }
    }
  }
  std::vector<FamilySnapshot> all;
  for (FamilySnapshot* fam : {&f.nodeCpu, &f.nodeMemory, &f.containerCpu, &f.containerMemory,
                              &f.containerStart, &f.podCpu, &f.podMemory, &f.scrapeError}) {
    all.push_back(std::move(*fam));
  }
  return renderText(std::move(all));
}

}  // namespace agent::metrics

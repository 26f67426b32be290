// /metrics/resource from a hand-made Summary: names, STABLE help texts, labels,
// core-seconds, millisecond sample timestamps, and the scrape error gauge.
#include "agent/metrics/resource_metrics.h"

#include <gtest/gtest.h>

namespace cubelet::testing {
namespace {

using namespace agent::stats;
using agent::metrics::renderResourceMetrics;

core::WallTime at(int64_t ms) { return core::WallTime(std::chrono::milliseconds(ms)); }

TEST(ResourceMetricsTest, FromSummary) {
  Summary s;
  s.node.cpu = CpuStats{at(1700000000123), 2000000000, 1234500000000};
  s.node.memory = MemoryStats{at(1700000000456), 1, 2, 524288000, 4, 5, 6};

  PodStats web;
  web.podRef = {"web-0", "default", "uid-web"};
  ContainerStats app;
  app.name = "app";
  // float64(UnixNano)/1e9 as upstream, rounding included (1.6999990002499998e+09).
  app.startTime = core::WallTime(std::chrono::seconds(1699999000)) + std::chrono::milliseconds(250);
  app.cpu = CpuStats{at(1700000001000), std::nullopt, 500000000};
  app.memory = MemoryStats{};
  app.memory->time = at(1700000001000);
  app.memory->workingSetBytes = 1048576;
  ContainerStats sidecar;  // no figures at all: only what exists is written
  sidecar.name = "sidecar";
  web.containers = {sidecar, app};
  web.cpu = CpuStats{at(1700000001000), std::nullopt, 500000000};
  web.memory = MemoryStats{};
  web.memory->time = at(1700000001000);
  web.memory->workingSetBytes = 1048576;

  PodStats job;
  job.podRef = {"job \"x\"", "batch", "uid-job"};
  ContainerStats run;
  run.name = "run";
  run.cpu = CpuStats{at(1700000002000), std::nullopt, 1};
  job.containers = {run};
  s.pods = {web, job};

  EXPECT_EQ(
      renderResourceMetrics(&s),
      "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the "
      "container in core-seconds\n"
      "# TYPE container_cpu_usage_seconds_total counter\n"
      "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web-0\"} "
      "0.5 1700000001000\n"
      "container_cpu_usage_seconds_total{container=\"run\",namespace=\"batch\",pod=\"job "
      "\\\"x\\\"\"} "
      "1e-09 1700000002000\n"
      "# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in "
      "bytes\n"
      "# TYPE container_memory_working_set_bytes gauge\n"
      "container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"web-0\"} "
      "1.048576e+06 1700000001000\n"
      "# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch "
      "in seconds\n"
      "# TYPE container_start_time_seconds gauge\n"
      "container_start_time_seconds{container=\"app\",namespace=\"default\",pod=\"web-0\"} "
      "1.6999990002499998e+09\n"
      "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in "
      "core-seconds\n"
      "# TYPE node_cpu_usage_seconds_total counter\n"
      "node_cpu_usage_seconds_total 1234.5 1700000000123\n"
      "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n"
      "# TYPE node_memory_working_set_bytes gauge\n"
      "node_memory_working_set_bytes 5.24288e+08 1700000000456\n"
      "# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in "
      "core-seconds\n"
      "# TYPE pod_cpu_usage_seconds_total counter\n"
      "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web-0\"} 0.5 1700000001000\n"
      "# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n"
      "# TYPE pod_memory_working_set_bytes gauge\n"
      "pod_memory_working_set_bytes{namespace=\"default\",pod=\"web-0\"} 1.048576e+06 "
      "1700000001000\n"
      "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container "
      "metrics, 0 otherwise\n"
      "# TYPE resource_scrape_error gauge\n"
      "resource_scrape_error 0\n");
}

TEST(ResourceMetricsTest, NoSummaryIsAScrapeError) {
  EXPECT_EQ(renderResourceMetrics(nullptr),
            "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting "
            "container metrics, 0 otherwise\n"
            "# TYPE resource_scrape_error gauge\n"
            "resource_scrape_error 1\n");
  // An empty node (nothing measured yet) is not an error.
  Summary empty;
  EXPECT_EQ(renderResourceMetrics(&empty),
            "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting "
            "container metrics, 0 otherwise\n"
            "# TYPE resource_scrape_error gauge\n"
            "resource_scrape_error 0\n");
}

}  // namespace
}  // namespace cubelet::testing

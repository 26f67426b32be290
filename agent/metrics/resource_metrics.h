// /metrics/resource: the resource metrics metrics-server scrapes, derived from the
// stats Summary as the kubelet's resourceMetricsCollector derives them
// (pkg/kubelet/metrics/collectors/resource_metrics.go):
//
//   node_cpu_usage_seconds_total            [STABLE] counter, sample timestamp
//   node_memory_working_set_bytes           [STABLE] gauge, sample timestamp
//   container_cpu_usage_seconds_total       [STABLE] {container,namespace,pod}
//   container_memory_working_set_bytes      [STABLE] {container,namespace,pod}
//   container_start_time_seconds            [STABLE] {container,namespace,pod}, no timestamp
//   pod_cpu_usage_seconds_total             [STABLE] {namespace,pod}
//   pod_memory_working_set_bytes            [STABLE] {namespace,pod}
//   resource_scrape_error                   [STABLE] 0, or 1 when there is no summary
//
// Sample timestamps are the stats' own times in milliseconds. The *_swap_usage_bytes
// families exist upstream but stats::Summary carries no swap figures, so, as
// upstream does without data, they are not written. scrape_error (ALPHA,
// deprecated in 1.29) is hidden in current kubelets and not written either.
#pragma once

#include <string>

#include "agent/stats/summary.h"

namespace agent::metrics {

// The body (content type kTextContentType). `summary` null means the stats could
// not be had: only resource_scrape_error 1 is written, as upstream on error.
std::string renderResourceMetrics(const stats::Summary* summary);

}  // namespace agent::metrics

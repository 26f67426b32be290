// The Summary as the kubelet's /stats/summary serves it: stats/v1alpha1 JSON, with the
// upstream field names ("usageNanoCores", "ephemeral-storage", "process_stats",
// "maxpid"/"curproc"), the fields in Go's struct order, absent optionals omitted
// (omitempty), and times as metav1.Time (RFC 3339 in UTC, whole seconds; the zero
// time is null).
#pragma once

#include <string>

#include "agent/stats/summary.h"
#include "nlohmann/json.hpp"

namespace agent::stats {

nlohmann::ordered_json toJson(const Summary& s);
nlohmann::ordered_json toJson(const NodeStats& n);
nlohmann::ordered_json toJson(const PodStats& p);
nlohmann::ordered_json toJson(const ContainerStats& c);
nlohmann::ordered_json toJson(const FsStats& f);

// The compact body of a /stats/summary response.
std::string summaryJson(const Summary& s);

}  // namespace agent::stats

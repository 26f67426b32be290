#include "agent/eviction/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/config/text.h"
#include "agent/eviction/helpers.h"
#include "agent/status/pod_status_compute.h"

namespace agent::eviction {

namespace text = config::text;
namespace {

// scheduling.SystemCriticalPriority: 2 × HighestUserDefinablePriority.
constexpr int32_t kSystemCriticalPriority = 2000000000;

}  // namespace

bool toleratesTaint(const Toleration& t, const std::string& key, const std::string& value,
                    const std::string& effect) {
  if (!t.effect.empty() && t.effect != effect) return false;
  if (!t.key.empty() && t.key != key) return false;
  if (t.operator_.empty() || t.operator_ == "Equal") return t.value == value;
  return t.operator_ == "Exists";
}

bool isCriticalPod(const api::Pod& pod) {
  const auto& a = pod.metadata.annotations;
  auto source = a.find("kubernetes.io/config.source");
  if (source != a.end() && source->second != "api") return true;
  if (a.count("kubernetes.io/config.mirror")) return true;
  return pod.spec.priority && *pod.spec.priority >= kSystemCriticalPriority;
}

std::optional<pods::Rejection> admitUnderPressure(const api::Pod& pod,
                                                  const std::vector<Toleration>& tolerations,
                                                  const std::vector<NodeCondition>& conditions) {
  if (conditions.empty()) return std::nullopt;
  // Critical pods keep the node working; they are admitted under any pressure.
  if (isCriticalPod(pod)) return std::nullopt;
  bool onlyMemory = conditions.size() == 1 && conditions[0] == NodeCondition::kMemoryPressure;
  if (onlyMemory) {
    if (status::podQosClass(pod) != "BestEffort") return std::nullopt;
    bool tolerates = std::any_of(tolerations.begin(), tolerations.end(), [](const Toleration& t) {
      return toleratesTaint(t, kTaintNodeMemoryPressure, "", "NoSchedule");
    });
    if (tolerates) return std::nullopt;
  }
  return pods::Rejection{kReason,
                         text::cat("The node had condition: ", formatConditions(conditions), ". ")};
}

}  // namespace agent::eviction

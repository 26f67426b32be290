// Eviction thresholds: the signals the kubelet's eviction manager watches
// (pkg/kubelet/eviction/api/types.go), the thresholds parsed from evictionHard,
// evictionSoft, evictionSoftGracePeriod and evictionMinimumReclaim exactly as the
// kubelet's ParseThresholdConfig validates them, and quantities printed the way Go's
// resource.Quantity prints them (eviction messages quote them byte for byte).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/quantity.h"
#include "core/event_loop.h"

namespace agent::eviction {

enum class Signal {
  kMemoryAvailable,             // memory.available
  kAllocatableMemoryAvailable,  // allocatableMemory.available (the pods cgroup)
  kNodeFsAvailable,             // nodefs.available
  kNodeFsInodesFree,            // nodefs.inodesFree
  kImageFsAvailable,            // imagefs.available
  kImageFsInodesFree,           // imagefs.inodesFree
  kPidAvailable,                // pid.available
};

std::string_view signalName(Signal s);
// The resource a signal starves: "memory", "ephemeral-storage", "inodes" or "pids"
// (the kubelet's signalToResource; the names appear in eviction messages).
std::string_view signalResource(Signal s);

// The node conditions the signals map to (signalToNodeCondition).
enum class NodeCondition { kMemoryPressure, kDiskPressure, kPIDPressure };
std::string_view conditionName(NodeCondition c);
NodeCondition signalCondition(Signal s);

// How Go's resource.Quantity prints a value (its Format).
enum class QuantityFormat { kDecimalSI, kBinarySI, kDecimalExponent };

// A quantity at milli precision together with its print format, so that the sums and
// copies the kubelet makes print as they print there ("100Mi", "50Mi", "5M", "1500").
// Values beyond ±9.2P saturate (milli-units in an int64); no node has that much.
struct FormattedQuantity {
  int64_t milli = 0;
  QuantityFormat format = QuantityFormat::kDecimalSI;

  static FormattedQuantity fromValue(int64_t value, QuantityFormat f) { return {value * 1000, f}; }
  // An API quantity keeps the format its suffix implies (Ki..Ei binary, e3 exponent).
  static FormattedQuantity fromApi(const api::Quantity& q);
  // The integer value, rounded up as Quantity.Value() does.
  int64_t value() const;
  // Quantity.String(): the canonical form.
  std::string str() const;
  bool operator==(const FormattedQuantity& o) const { return milli == o.milli; }
};

// Canonical printing of an integer as resource.NewQuantity(v, format).String().
std::string formatQuantity(int64_t value, QuantityFormat format);

// A threshold's value: a quantity, or a fraction of capacity (0.1 for "10%").
struct ThresholdValue {
  std::optional<FormattedQuantity> quantity;
  float percentage = 0;  // float32, as upstream, so percentages round the same way
  bool operator==(const ThresholdValue&) const = default;
};

// The only operator the kubelet has: the signal's value less than the threshold.
enum class ThresholdOperator { kLessThan };

struct Threshold {
  Signal signal = Signal::kMemoryAvailable;
  ThresholdOperator op = ThresholdOperator::kLessThan;
  ThresholdValue value;
  core::Duration gracePeriod{0};  // zero: a hard threshold
  std::optional<ThresholdValue> minReclaim;

  bool hard() const { return gracePeriod.count() == 0; }
  bool operator==(const Threshold&) const = default;
};

// evictionapi.GetThresholdQuantity: the quantity itself, or percentage × capacity
// (truncated, printed BinarySI).
FormattedQuantity thresholdQuantity(const ThresholdValue& v, int64_t capacity);

// For logs: "threshold(signal=memory.available, operator=LessThan, value=100Mi,
// gracePeriod=0s)".
std::string formatThreshold(const Threshold& t);

// The kubelet's ParseThresholdConfig. Hard thresholds come first, then soft ones (each
// group in signal-name order, since the maps are ordered); "0%" and "100%" statements are
// ignored; every soft threshold needs a grace period; minimum reclaims apply to the hard
// and soft thresholds of their signal. With `enforceNodeAllocatablePods`
// (enforceNodeAllocatable contains "pods") each hard memory.available threshold is copied
// to allocatableMemory.available. containerfs.* signals are accepted and dropped with a
// warning: cubelet has no separate container filesystem, and the kubelet too replaces
// them with the nodefs/imagefs values.
// Errors are the kubelet's texts prefixed with the configuration field they concern,
// e.g. "evictionHard: unsupported eviction signal memory.free".
absl::StatusOr<std::vector<Threshold>> parseThresholds(
    const std::map<std::string, std::string>& evictionHard,
    const std::map<std::string, std::string>& evictionSoft,
    const std::map<std::string, std::string>& evictionSoftGracePeriod,
    const std::map<std::string, std::string>& evictionMinimumReclaim,
    bool enforceNodeAllocatablePods = false);

}  // namespace agent::eviction

// Kubernetes resource quantities ("100m", "1.5", "128Mi", "1G", "1e3"), parsed with the
// rules of k8s.io/apimachinery/pkg/api/resource: an optional sign, a decimal number,
// then one suffix: binary SI (Ki..Ei), decimal SI (m, "", k, M, G, T, P, E) or a
// decimal exponent (e3, E-2). Values are exact; scaled to integers they round up
// (away from zero) and saturate at the int64 limits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/json_decode.h"

namespace agent::api {

class Quantity {
 public:
  // Zero.
  Quantity() = default;

  static absl::StatusOr<Quantity> parse(std::string_view text);

  // The value in thousandths ("100m" -> 100, "1" -> 1000), rounded up.
  int64_t milliValue() const { return milli_; }
  // The value as an integer ("1.5" -> 2, "128Mi" -> 134217728), rounded up.
  int64_t value() const { return value_; }
  // Rounding away from zero keeps any non-zero value non-zero in milli-units.
  bool isZero() const { return milli_ == 0; }
  // The text it was parsed from, for printing; "0" for a default-constructed one.
  const std::string& str() const { return text_; }

  // Compares values at milli precision, not spellings: "1Gi" == "1073741824".
  friend bool operator==(const Quantity& a, const Quantity& b) {
    return a.milli_ == b.milli_ && a.value_ == b.value_;
  }

 private:
  std::string text_ = "0";
  int64_t milli_ = 0;
  int64_t value_ = 0;
};

// A quantity in JSON is a string, or a bare number (YAML `cpu: 1`).
absl::Status decodeJson(const core::JsonField& f, Quantity& out);

}  // namespace agent::api

#include "agent/eviction/thresholds.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "agent/config/text.h"
#include "agent/config/value_parsers.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::eviction {

namespace text = config::text;
namespace {

struct SignalInfo {
  Signal signal;
  std::string_view name;
  std::string_view resource;
  NodeCondition condition;
};

constexpr SignalInfo kSignals[] = {
    {Signal::kMemoryAvailable, "memory.available", "memory", NodeCondition::kMemoryPressure},
    {Signal::kAllocatableMemoryAvailable, "allocatableMemory.available", "memory",
     NodeCondition::kMemoryPressure},
    {Signal::kNodeFsAvailable, "nodefs.available", "ephemeral-storage",
     NodeCondition::kDiskPressure},
    {Signal::kNodeFsInodesFree, "nodefs.inodesFree", "inodes", NodeCondition::kDiskPressure},
    {Signal::kImageFsAvailable, "imagefs.available", "ephemeral-storage",
     NodeCondition::kDiskPressure},
    {Signal::kImageFsInodesFree, "imagefs.inodesFree", "inodes", NodeCondition::kDiskPressure},
    {Signal::kPidAvailable, "pid.available", "pids", NodeCondition::kPIDPressure},
};

const SignalInfo& info(Signal s) {
  for (const auto& i : kSignals) {
    if (i.signal == s) return i;
  }
  return kSignals[0];
}

// The kubelet accepts these (validSignal) but overrides them with the nodefs or imagefs
// thresholds; with no separate container filesystem cubelet just drops them.
bool isContainerFsSignal(std::string_view name) {
  return name == "containerfs.available" || name == "containerfs.inodesFree";
}

std::optional<Signal> signalFromName(std::string_view name) {
  for (const auto& i : kSignals) {
    if (i.name == name) return i.signal;
  }
  return std::nullopt;
}

absl::Status unsupported(std::string_view field, std::string_view signal) {
  return absl::InvalidArgumentError(text::cat(field, ": unsupported eviction signal ", signal));
}

absl::Status fieldError(std::string_view field, std::string_view message) {
  return absl::InvalidArgumentError(text::cat(field, ": ", message));
}

// parsePercentage: strconv.ParseFloat(trimmed, 32) then float32(v) / 100.
absl::StatusOr<float> parsePercentage(std::string_view field, std::string_view val) {
  std::string_view num = val;
  while (!num.empty() && num.back() == '%') num.remove_suffix(1);  // strings.TrimRight
  std::string s(num);
  char* end = nullptr;
  errno = 0;
  double d = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || std::isspace(static_cast<unsigned char>(s[0]))) {
    return fieldError(field, text::cat("strconv.ParseFloat: parsing \"", s, "\": invalid syntax"));
  }
  return static_cast<float>(d) / 100.0f;
}

absl::StatusOr<std::vector<Threshold>> parseStatements(
    std::string_view field, const std::map<std::string, std::string>& statements) {
  std::vector<Threshold> out;
  for (const auto& [name, val] : statements) {
    std::optional<Signal> signal = signalFromName(name);
    if (isContainerFsSignal(name)) {
      LOG_WARNING << field << ": " << name
                  << " is ignored: the container filesystem is the node filesystem";
      continue;
    }
    if (!signal) return unsupported(field, name);
    Threshold t;
    t.signal = *signal;
    if (!val.empty() && val.back() == '%') {
      if (val == "0%" || val == "100%") continue;  // ignored, as upstream
      ASSIGN_OR_RETURN(float pct, parsePercentage(field, val));
      if (pct < 0) {
        return fieldError(
            field, text::cat("eviction percentage threshold ", name, " must be >= 0%: ", val));
      }
      if (pct > 1) {
        return fieldError(
            field, text::cat("eviction percentage threshold ", name, " must be <= 100%: ", val));
      }
      t.value.percentage = pct;
      out.push_back(t);
      continue;
    }
    absl::StatusOr<api::Quantity> q = api::Quantity::parse(val);
    if (!q.ok()) return fieldError(field, text::cat(name, ": ", q.status().message()));
    FormattedQuantity fq = FormattedQuantity::fromApi(*q);
    if (fq.milli <= 0) {
      return fieldError(field,
                        text::cat("eviction threshold ", name, " must be positive: ", fq.str()));
    }
    t.value.quantity = fq;
    out.push_back(t);
  }
  return out;
}

}  // namespace

std::string_view signalName(Signal s) { return info(s).name; }
std::string_view signalResource(Signal s) { return info(s).resource; }
NodeCondition signalCondition(Signal s) { return info(s).condition; }

std::string_view conditionName(NodeCondition c) {
  switch (c) {
    case NodeCondition::kMemoryPressure:
      return "MemoryPressure";
    case NodeCondition::kDiskPressure:
      return "DiskPressure";
    case NodeCondition::kPIDPressure:
      return "PIDPressure";
  }
  return "";
}

FormattedQuantity FormattedQuantity::fromApi(const api::Quantity& q) {
  const std::string& t = q.str();
  QuantityFormat f = QuantityFormat::kDecimalSI;
  if (!t.empty() && t.back() == 'i') {
    f = QuantityFormat::kBinarySI;
  } else {
    // An exponent is [eE] followed by an optional sign and digits; a bare "E" is exa.
    size_t e = t.find_first_of("eE");
    if (e != std::string::npos && e + 1 < t.size()) f = QuantityFormat::kDecimalExponent;
  }
  return {q.milliValue(), f};
}

int64_t FormattedQuantity::value() const {
  if (milli >= 0) return milli / 1000 + (milli % 1000 != 0 ? 1 : 0);
  return -((-milli) / 1000 + ((-milli) % 1000 != 0 ? 1 : 0));
}

namespace {

// AsCanonicalBytes: a base-10 mantissa and an exponent that is a multiple of 3.
std::string decimalCanonical(int64_t milli, QuantityFormat f) {
  bool neg = milli < 0;
  uint64_t m = neg ? static_cast<uint64_t>(-(milli + 1)) + 1 : static_cast<uint64_t>(milli);
  int exp = -3;
  while (m != 0 && m % 1000 == 0) {
    m /= 1000;
    exp += 3;
  }
  std::string num = text::cat(neg ? "-" : "", m);
  if (f == QuantityFormat::kDecimalExponent) {
    return exp == 0 ? num : text::cat(num, "e", exp);
  }
  switch (exp) {
    case -3:
      return num + "m";
    case 0:
      return num;
    case 3:
      return num + "k";
    case 6:
      return num + "M";
    case 9:
      return num + "G";
    case 12:
      return num + "T";
    case 15:
      return num + "P";
    case 18:
      return num + "E";
    default:
      return text::cat(num, "e", exp);
  }
}

}  // namespace

std::string FormattedQuantity::str() const {
  if (milli == 0) return "0";
  if (format == QuantityFormat::kBinarySI) {
    // Small or fractional values print as DecimalSI, as CanonicalizeBytes does.
    if (milli > -1024 * 1000 && milli < 1024 * 1000) {
      return decimalCanonical(milli, QuantityFormat::kDecimalSI);
    }
    if (milli % 1000 != 0) return decimalCanonical(milli, QuantityFormat::kDecimalSI);
    int64_t v = milli / 1000;
    bool neg = v < 0;
    uint64_t m = neg ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
    int exp = 0;
    while (m % 1024 == 0) {
      m /= 1024;
      ++exp;
    }
    static constexpr std::string_view kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    return text::cat(neg ? "-" : "", m, kSuffix[exp]);
  }
  return decimalCanonical(milli, format);
}

std::string formatQuantity(int64_t value, QuantityFormat format) {
  return FormattedQuantity::fromValue(value, format).str();
}

FormattedQuantity thresholdQuantity(const ThresholdValue& v, int64_t capacity) {
  if (v.quantity) return *v.quantity;
  double q = static_cast<double>(capacity) * static_cast<double>(v.percentage);
  return FormattedQuantity::fromValue(static_cast<int64_t>(q), QuantityFormat::kBinarySI);
}

std::string formatThreshold(const Threshold& t) {
  std::string value =
      t.value.quantity ? t.value.quantity->str() : absl::StrCat(t.value.percentage * 100, "%");
  return text::cat("threshold(signal=", signalName(t.signal), ", operator=LessThan, value=", value,
                   ", gracePeriod=", config::formatDuration(t.gracePeriod), ")");
}

absl::StatusOr<std::vector<Threshold>> parseThresholds(
    const std::map<std::string, std::string>& evictionHard,
    const std::map<std::string, std::string>& evictionSoft,
    const std::map<std::string, std::string>& evictionSoftGracePeriod,
    const std::map<std::string, std::string>& evictionMinimumReclaim,
    bool enforceNodeAllocatablePods) {
  ASSIGN_OR_RETURN(std::vector<Threshold> results, parseStatements("evictionHard", evictionHard));
  ASSIGN_OR_RETURN(std::vector<Threshold> soft, parseStatements("evictionSoft", evictionSoft));

  std::map<Signal, core::Duration> grace;
  for (const auto& [name, val] : evictionSoftGracePeriod) {
    std::optional<Signal> s = signalFromName(name);
    if (isContainerFsSignal(name)) continue;
    if (!s) return unsupported("evictionSoftGracePeriod", name);
    absl::StatusOr<core::Duration> d = config::parseGoDuration(val);
    if (!d.ok()) return fieldError("evictionSoftGracePeriod", std::string(d.status().message()));
    if (d->count() < 0) {
      return fieldError("evictionSoftGracePeriod",
                        text::cat("invalid eviction grace period specified: ", val,
                                  ", must be a positive value"));
    }
    grace[*s] = *d;
  }

  std::map<Signal, ThresholdValue> reclaim;
  for (const auto& [name, val] : evictionMinimumReclaim) {
    std::optional<Signal> s = signalFromName(name);
    if (isContainerFsSignal(name)) continue;
    if (!s) return unsupported("evictionMinimumReclaim", name);
    ThresholdValue v;
    if (!val.empty() && val.back() == '%') {
      ASSIGN_OR_RETURN(float pct, parsePercentage("evictionMinimumReclaim", val));
      if (pct <= 0) {
        return fieldError(
            "evictionMinimumReclaim",
            text::cat("eviction percentage minimum reclaim ", name, " must be positive: ", val));
      }
      v.percentage = pct;
    } else {
      absl::StatusOr<api::Quantity> q = api::Quantity::parse(val);
      if (!q.ok()) {
        return fieldError("evictionMinimumReclaim", text::cat(name, ": ", q.status().message()));
      }
      FormattedQuantity fq = FormattedQuantity::fromApi(*q);
      if (fq.milli < 0) {
        return fieldError("evictionMinimumReclaim",
                          text::cat("negative eviction minimum reclaim specified for ", name));
      }
      v.quantity = fq;
    }
    reclaim[*s] = v;
  }

  for (Threshold& t : soft) {
    auto it = grace.find(t.signal);
    if (it == grace.end()) {
      return fieldError("evictionSoft",
                        text::cat("grace period must be specified for the soft eviction "
                                  "threshold ",
                                  signalName(t.signal)));
    }
    t.gracePeriod = it->second;
    results.push_back(t);
  }
  for (Threshold& t : results) {
    auto it = reclaim.find(t.signal);
    if (it != reclaim.end()) t.minReclaim = it->second;
  }
  if (enforceNodeAllocatablePods) {
    std::vector<Threshold> extra;
    for (const Threshold& t : results) {
      if (t.signal == Signal::kMemoryAvailable && t.hard()) {
        Threshold a = t;
        a.signal = Signal::kAllocatableMemoryAvailable;
        extra.push_back(a);
      }
    }
    results.insert(results.end(), extra.begin(), extra.end());
  }
  return results;
}

}  // namespace agent::eviction

#include "agent/config/value_parsers.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

#include "agent/config/text.h"
#include "core/status.h"

namespace agent::config {
namespace {

constexpr uint64_t kNanosPerMilli = 1'000'000;

struct DurationUnit {
  std::string_view name;
  uint64_t nanos;
};

constexpr std::array<DurationUnit, 8> kDurationUnits = {{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

// Label keys and taint keys in these namespaces are the cluster's; a node may set only
// the ones the kubelet sets itself (k8s.io/kubelet/pkg/apis/well_known_labels.go).
constexpr std::array<std::string_view, 11> kNodeSettableLabels = {
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os",
    "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "kubernetes.io/arch",
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
};
constexpr std::array<std::string_view, 2> kNodeSettableLabelNamespaces = {"kubelet.kubernetes.io",
                                                                          "node.kubernetes.io"};

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLowerAlnum(char c) { return isDigit(c) || (c >= 'a' && c <= 'z'); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

bool inNamespace(std::string_view ns, std::string_view domain) {
  return ns == domain || ns.ends_with(text::cat(".", domain));
}

// The "name" part of a qualified name, and label values (when non-empty).
absl::Status validateNamePart(std::string_view s, std::string_view what) {
  if (s.empty()) return absl::InvalidArgumentError(text::cat(what, " must not be empty"));
  if (s.size() > 63) {
    return absl::InvalidArgumentError(text::cat(what, " must be at most 63 characters"));
  }
  bool ok = isAlnum(s.front()) && isAlnum(s.back());
  for (char c : s) ok = ok && (isAlnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok) {
    return absl::InvalidArgumentError(
        text::cat(what, " must consist of alphanumerics, '-', '_' or '.', and start and ",
                  "end with an alphanumeric"));
  }
  return absl::OkStatus();
}

absl::Status validateDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return absl::InvalidArgumentError("prefix must be a DNS subdomain of 1 to 253 characters");
  }
  for (std::string_view label : text::split(s, '.')) {
    bool ok = !label.empty() && isLowerAlnum(label.front()) && isLowerAlnum(label.back());
    for (char c : label) ok = ok && (isLowerAlnum(c) || c == '-');
    if (!ok) {
      return absl::InvalidArgumentError(
          "prefix must be a lowercase DNS subdomain (e.g. example.com)");
    }
  }
  return absl::OkStatus();
}

absl::Status checkNodeMaySetLabel(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return absl::OkStatus();
  std::string_view ns = key.substr(0, slash);
  if (!inNamespace(ns, "kubernetes.io") && !inNamespace(ns, "k8s.io")) return absl::OkStatus();
  for (std::string_view allowed : kNodeSettableLabels) {
    if (key == allowed) return absl::OkStatus();
  }
  for (std::string_view allowed : kNodeSettableLabelNamespaces) {
    if (inNamespace(ns, allowed)) return absl::OkStatus();
  }
  std::string joined;
  for (std::string_view l : kNodeSettableLabels) joined += text::cat(joined.empty() ? "" : ", ", l);
  return absl::InvalidArgumentError(text::cat(
      "label \"", key, "\" is in the kubernetes.io/k8s.io namespace; a node may set only ",
      "labels under kubelet.kubernetes.io/ or node.kubernetes.io/, or one of ", joined));
}

}  // namespace

absl::StatusOr<Duration> parseGoDuration(std::string_view orig) {
  auto invalid = [orig](std::string_view why) {
    return absl::InvalidArgumentError(
        text::cat("invalid duration \"", orig, "\"", why.empty() ? "" : ": ", why));
  };
  std::string_view s = orig;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(0);
  if (s.empty()) return invalid("");
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t total = 0;
  while (!s.empty()) {
    size_t i = 0;
    uint64_t whole = 0;
    bool overflow = false;
    for (; i < s.size() && isDigit(s[i]); ++i) {
      if (whole > (kMax - 9) / 10) overflow = true;
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    bool hasWhole = i > 0;
    long double fraction = 0, scale = 1;
    bool hasFraction = false;
    if (i < s.size() && s[i] == '.') {
      for (++i; i < s.size() && isDigit(s[i]); ++i) {
        hasFraction = true;
        if (scale < 1e30L) {  // further digits cannot matter at nanosecond precision
          fraction = fraction * 10 + (s[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!hasWhole && !hasFraction) return invalid("");
    if (overflow) return invalid("out of range");
    size_t unitEnd = i;
    while (unitEnd < s.size() && !isDigit(s[unitEnd]) && s[unitEnd] != '.') ++unitEnd;
    std::string_view unitName = s.substr(i, unitEnd - i);
    if (unitName.empty()) return invalid("missing unit (e.g. \"10s\", \"1m30s\", \"300ms\")");
    const DurationUnit* unit = nullptr;
    for (const DurationUnit& u : kDurationUnits) {
      if (u.name == unitName) unit = &u;
    }
    if (unit == nullptr) return invalid(text::cat("unknown unit \"", unitName, "\""));
    if (whole > kMax / unit->nanos) return invalid("out of range");
    uint64_t nanos = whole * unit->nanos;
    nanos += static_cast<uint64_t>(fraction / scale * static_cast<long double>(unit->nanos));
    if (nanos > kMax || total > kMax - nanos) return invalid("out of range");
    total += nanos;
    s.remove_prefix(unitEnd);
  }
  if (!negative && total == kMax) return invalid("out of range");
  int64_t millis = static_cast<int64_t>(total / kNanosPerMilli);
  return Duration(negative ? -millis : millis);
}

absl::StatusOr<bool> parseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
    return false;
  }
  return absl::InvalidArgumentError(text::cat("invalid boolean \"", s, "\""));
}

absl::StatusOr<int64_t> parseGoInt(std::string_view orig, int64_t min, int64_t max) {
  auto invalid = [orig](std::string_view why) {
    return absl::InvalidArgumentError(text::cat("invalid integer \"", orig, "\"", why));
  };
  std::string_view s = orig;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '-' || s[0] == '+') return invalid("");
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec == std::errc::result_out_of_range) return invalid(": out of range");
  if (ec != std::errc() || ptr != s.data() + s.size()) return invalid("");
  if (!negative && magnitude > static_cast<uint64_t>(max)) return invalid(": out of range");
  if (negative) {
    uint64_t limit = min < 0 ? static_cast<uint64_t>(-(min + 1)) + 1 : 0;
    if (magnitude > limit) return invalid(": out of range");
    return magnitude == 0 ? 0 : -static_cast<int64_t>(magnitude - 1) - 1;
  }
  if (static_cast<int64_t>(magnitude) < min) return invalid(": out of range");
  return static_cast<int64_t>(magnitude);
}

absl::Status validateLabelKey(std::string_view key) {
  std::vector<std::string_view> parts = text::split(key, '/');
  absl::Status s;
  if (parts.size() > 2) {
    s = absl::InvalidArgumentError("must be a name with an optional DNS subdomain prefix and '/'");
  } else if (parts.size() == 2) {
    s = validateDnsSubdomain(parts[0]);
    if (s.ok()) s = validateNamePart(parts[1], "name part");
  } else {
    s = validateNamePart(key, "name part");
  }
  return core::annotate(s, text::cat("invalid key \"", key, "\""));
}

absl::Status validateLabelValue(std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  return core::annotate(validateNamePart(value, "value"),
                        text::cat("invalid value \"", value, "\""));
}

absl::Status parseNodeLabels(std::string_view s, std::map<std::string, std::string>& out) {
  for (std::string_view item : text::split(s, ',')) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view key = text::trim(item.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? "" : text::trim(item.substr(eq + 1));
    RETURN_IF_ERROR(validateLabelKey(key));
    RETURN_IF_ERROR(validateLabelValue(value));
    RETURN_IF_ERROR(checkNodeMaySetLabel(key));
    out[std::string(key)] = std::string(value);
  }
  return absl::OkStatus();
}

absl::Status validateTaint(const Taint& t) {
  RETURN_IF_ERROR(validateLabelKey(t.key));
  RETURN_IF_ERROR(validateLabelValue(t.value));
  if (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute") {
    return absl::InvalidArgumentError(text::cat(
        "invalid effect \"", t.effect, "\"; expected NoSchedule, PreferNoSchedule or NoExecute"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Taint> parseTaint(std::string_view spec) {
  auto invalid = [spec](std::string_view why) {
    return absl::InvalidArgumentError(text::cat("invalid taint \"", spec, "\": ", why));
  };
  if (spec.ends_with('-')) return invalid("taint removal (\"key-\") is not allowed here");
  std::vector<std::string_view> parts = text::split(spec, ':');
  if (parts.size() == 1) return invalid("missing effect; expected key=value:Effect");
  if (parts.size() > 2) return invalid("expected key=value:Effect");
  std::vector<std::string_view> kv = text::split(parts[0], '=');
  if (kv.size() > 2) return invalid("expected key=value:Effect");
  Taint t{std::string(kv[0]), kv.size() == 2 ? std::string(kv[1]) : "", std::string(parts[1])};
  absl::Status s = validateTaint(t);
  if (!s.ok()) return invalid(std::string(s.message()));
  return t;
}

absl::StatusOr<std::vector<Taint>> parseTaints(std::string_view s) {
  std::vector<Taint> taints;
  if (s.empty()) return taints;
  for (std::string_view spec : text::split(s, ',')) {
    ASSIGN_OR_RETURN(Taint t, parseTaint(spec));
    taints.push_back(std::move(t));
  }
  return taints;
}

absl::Status parseKeyValueList(std::string_view s, char sep,
                               std::map<std::string, std::string>& out) {
  for (std::string_view item : text::split(s, ',')) {
    if (item.empty()) continue;
    size_t at = item.find(sep);
    if (at == std::string_view::npos) {
      return absl::InvalidArgumentError(
          text::cat("malformed item \"", item, "\"; expected key", std::string(1, sep), "value"));
    }
    std::string_view key = text::trim(item.substr(0, at));
    if (key.empty()) {
      return absl::InvalidArgumentError(text::cat("malformed item \"", item, "\"; empty key"));
    }
    out[std::string(key)] = std::string(text::trim(item.substr(at + 1)));
  }
  return absl::OkStatus();
}

absl::Status parseFeatureGates(std::string_view s, std::map<std::string, bool>& out) {
  for (std::string_view item : text::split(s, ',')) {
    if (item.empty()) continue;
    size_t at = item.find('=');
    if (at == std::string_view::npos) {
      return absl::InvalidArgumentError(
          text::cat("malformed item \"", item, "\"; expected Name=true|false"));
    }
    std::string_view key = text::trim(item.substr(0, at));
    auto value = parseGoBool(text::trim(item.substr(at + 1)));
    if (!value.ok()) return core::annotate(value.status(), key);
    out[std::string(key)] = *value;
  }
  return absl::OkStatus();
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view item : text::split(s, ',')) {
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

bool isIPAddress(std::string_view s) {
  std::string text(s);
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool isLoopbackIP(std::string_view s) {
  std::string text(s);
  struct in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  struct in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::string formatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  uint64_t abs = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  if (abs < 1000) return text::cat(sign, abs, "ms");
  uint64_t hours = abs / 3'600'000, minutes = abs / 60'000 % 60, seconds = abs / 1000 % 60;
  uint64_t millis = abs % 1000;
  std::string secs = text::cat(seconds);
  if (millis != 0) {
    std::string frac = text::cat(1000 + millis).substr(1);
    while (frac.back() == '0') frac.pop_back();
    secs += text::cat(".", frac);
  }
  if (hours > 0) return text::cat(sign, hours, "h", minutes, "m", secs, "s");
  if (minutes > 0) return text::cat(sign, minutes, "m", secs, "s");
  return text::cat(sign, secs, "s");
}

}  // namespace agent::config

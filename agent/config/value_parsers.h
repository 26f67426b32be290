// Parsers for the value syntaxes kubelet flags and config fields use, with the Go
// semantics the kubelet has (time.ParseDuration, strconv.ParseBool/ParseInt, the
// component-base map flags, label and taint validation). Errors describe the value
// only; the caller adds the flag or field name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"

namespace agent::config {

// Go duration syntax: "300ms", "1m30s", "-2h", "0"; units ns, us, µs, ms, s, m, h.
// Sub-millisecond remainders are truncated (Duration is milliseconds).
absl::StatusOr<Duration> parseGoDuration(std::string_view s);

// Go strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False.
absl::StatusOr<bool> parseGoBool(std::string_view s);

// Go strconv.ParseInt with base 0 (decimal, 0x hex, 0o / leading-0 octal, 0b binary).
absl::StatusOr<int64_t> parseGoInt(std::string_view s, int64_t min, int64_t max);

// Label key (a qualified name, optionally prefixed "dns.subdomain/") and label value.
absl::Status validateLabelKey(std::string_view key);
absl::Status validateLabelValue(std::string_view value);

// --node-labels: "k=v,k2=v2" ("k" alone means an empty value), merged into `out`.
// Keys and values are validated, and keys in the kubernetes.io / k8s.io namespaces must
// be ones a node may set on itself, as the kubelet requires.
absl::Status parseNodeLabels(std::string_view s, std::map<std::string, std::string>& out);

// One taint, "key=value:Effect" or "key:Effect"; and a comma-separated list of them.
absl::StatusOr<Taint> parseTaint(std::string_view s);
absl::StatusOr<std::vector<Taint>> parseTaints(std::string_view s);
// Validates a taint from the config file.
absl::Status validateTaint(const Taint& t);

// "k=v,k2=v2" (every item needs the separator), merged into `out`. `sep` is '=' for
// --kube-reserved style flags and '<' for --eviction-hard style flags.
absl::Status parseKeyValueList(std::string_view s, char sep,
                               std::map<std::string, std::string>& out);

// --feature-gates "Name=true,Other=false", merged into `out`.
absl::Status parseFeatureGates(std::string_view s, std::map<std::string, bool>& out);

// Comma-separated list; empty items are dropped (pflag StringSlice).
std::vector<std::string> splitList(std::string_view s);

// An IPv4 or IPv6 address literal.
bool isIPAddress(std::string_view s);
bool isLoopbackIP(std::string_view s);

// "1m30s"-style rendering, for messages.
std::string formatDuration(Duration d);

}  // namespace agent::config

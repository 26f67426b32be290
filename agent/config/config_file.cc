#include "agent/config/config_file.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "agent/config/kubelet_names.h"
#include "agent/config/text.h"
#include "agent/config/value_parsers.h"
#include "core/json_decode.h"
#include "core/status.h"
#include "core/yaml_json.h"

namespace agent::config {
namespace {

using core::JsonField;
using nlohmann::json;

constexpr std::string_view kApiVersion = "kubelet.config.k8s.io/v1beta1";
constexpr std::string_view kKind = "KubeletConfiguration";

struct FieldContext {
  AgentConfig& cfg;
  std::vector<std::string>& warnings;
  std::string_view source;
  std::string_view baseDir;
  bool nodeStatusUpdateSet = false;
  bool nodeStatusReportSet = false;
};
using FieldFn = absl::Status (*)(const JsonField&, FieldContext&);

struct ConfigField {
  std::string_view name;
  FieldFn apply;
};

void warnUnimplemented(FieldContext& c, std::string_view path) {
  c.warnings.push_back(
      text::cat(c.source, ": field \"", path, "\" is not implemented by cubelet yet; ignored"));
}

// Strict decoding: a field the type does not have is an error.
absl::Status checkKeys(const JsonField& f, std::initializer_list<std::string_view> known) {
  RETURN_IF_ERROR(f.expectObject());
  if (!f.isSet()) return absl::OkStatus();
  for (const auto& [key, value] : f.value()->items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return f.error(text::cat("unknown field \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

// metav1.Duration: a Go duration string. Most of the kubelet's durations are defaulted
// when zero, which is what kubeadm's "0s" values rely on.
absl::Status decodeDuration(const JsonField& f, Duration& out, bool zeroMeansDefault) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_string()) return f.typeError("a duration string such as \"10s\"");
  auto d = parseGoDuration(f.value()->get<std::string>());
  if (!d.ok()) return f.error(std::string(d.status().message()));
  if (d->count() < 0) return f.error("must not be negative");
  if (d->count() != 0 || !zeroMeansDefault) out = *d;
  return absl::OkStatus();
}

// The kubelet resolves the file's relative paths against the file's directory.
std::string resolvePath(const FieldContext& c, std::string path) {
  if (path.empty() || path.front() == '/' || c.baseDir.empty()) return path;
  return text::cat(c.baseDir, c.baseDir.back() == '/' ? "" : "/", path);
}

// Non-pointer strings: empty means the default.
template <auto M>
absl::Status stringField(const JsonField& f, FieldContext& c) {
  std::string s;
  RETURN_IF_ERROR(f.get(s));
  if (!s.empty()) c.cfg.*M = std::move(s);
  return absl::OkStatus();
}

template <auto M>
absl::Status pathField(const JsonField& f, FieldContext& c) {
  std::string s;
  RETURN_IF_ERROR(f.get(s));
  if (!s.empty()) c.cfg.*M = resolvePath(c, std::move(s));
  return absl::OkStatus();
}

template <auto M>
absl::Status boolField(const JsonField& f, FieldContext& c) {
  return f.get(c.cfg.*M);
}

template <auto M, bool ZeroMeansDefault>
absl::Status int32Field(const JsonField& f, FieldContext& c) {
  int32_t v = 0;
  RETURN_IF_ERROR(f.get(v));
  if (f.isSet() && (v != 0 || !ZeroMeansDefault)) c.cfg.*M = v;
  return absl::OkStatus();
}

template <auto M, bool ZeroMeansDefault>
absl::Status durationField(const JsonField& f, FieldContext& c) {
  return decodeDuration(f, c.cfg.*M, ZeroMeansDefault);
}

// Maps and lists replace the default when present (even when empty).
template <auto M>
absl::Status replaceField(const JsonField& f, FieldContext& c) {
  if (!f.isSet()) return absl::OkStatus();
  std::remove_reference_t<decltype(c.cfg.*M)> v;
  RETURN_IF_ERROR(f.get(v));
  c.cfg.*M = std::move(v);
  return absl::OkStatus();
}

absl::Status resolvConfField(const JsonField& f, FieldContext& c) {
  // A pointer in the kubelet: an explicit "" disables host DNS for pods.
  if (!f.isSet()) return absl::OkStatus();
  std::string s;
  RETURN_IF_ERROR(f.get(s));
  c.cfg.resolvConf = resolvePath(c, std::move(s));
  return absl::OkStatus();
}

absl::Status podPidsLimitField(const JsonField& f, FieldContext& c) {
  RETURN_IF_ERROR(f.get(c.cfg.podPidsLimit));
  if (c.cfg.podPidsLimit < 0) c.cfg.podPidsLimit = -1;
  return absl::OkStatus();
}

absl::Status memoryThrottlingFactorField(const JsonField& f, FieldContext& c) {
  if (!f.isSet()) return absl::OkStatus();
  double v = 0;
  RETURN_IF_ERROR(f.get(v));
  if (v <= 0 || v > 1)
    return f.error(text::cat("must be greater than 0 and at most 1, got ", std::to_string(v)));
  c.cfg.memoryThrottlingFactor = v;
  return absl::OkStatus();
}

absl::Status nodeStatusUpdateField(const JsonField& f, FieldContext& c) {
  Duration d(0);
  RETURN_IF_ERROR(decodeDuration(f, d, false));
  if (d.count() != 0) {
    c.cfg.nodeStatusUpdateFrequency = d;
    c.nodeStatusUpdateSet = true;
  }
  return absl::OkStatus();
}

absl::Status nodeStatusReportField(const JsonField& f, FieldContext& c) {
  Duration d(0);
  RETURN_IF_ERROR(decodeDuration(f, d, false));
  if (d.count() != 0) {
    c.cfg.nodeStatusReportFrequency = d;
    c.nodeStatusReportSet = true;
  }
  return absl::OkStatus();
}

absl::Status registerWithTaintsField(const JsonField& f, FieldContext& c) {
  if (!f.isSet()) return absl::OkStatus();
  RETURN_IF_ERROR(f.expectArray());
  std::vector<Taint> taints;
  for (size_t i = 0; i < f.value()->size(); ++i) {
    JsonField item = f.at(i);
    if (!item.isSet()) return item.typeError("object");
    RETURN_IF_ERROR(checkKeys(item, {"key", "value", "effect", "timeAdded"}));
    Taint t;
    RETURN_IF_ERROR(item["key"].get(t.key));
    RETURN_IF_ERROR(item["value"].get(t.value));
    RETURN_IF_ERROR(item["effect"].get(t.effect));
    absl::Status s = validateTaint(t);
    if (!s.ok()) return item.error(std::string(s.message()));
    taints.push_back(std::move(t));
  }
  c.cfg.registerWithTaints = std::move(taints);
  return absl::OkStatus();
}

absl::Status authenticationField(const JsonField& f, FieldContext& c) {
  RETURN_IF_ERROR(checkKeys(f, {"x509", "webhook", "anonymous"}));
  Authentication& a = c.cfg.authentication;
  JsonField x509 = f["x509"], webhook = f["webhook"], anonymous = f["anonymous"];
  RETURN_IF_ERROR(checkKeys(x509, {"clientCAFile"}));
  std::string caFile;
  RETURN_IF_ERROR(x509["clientCAFile"].get(caFile));
  if (!caFile.empty()) a.clientCAFile = resolvePath(c, std::move(caFile));
  RETURN_IF_ERROR(checkKeys(webhook, {"enabled", "cacheTTL"}));
  RETURN_IF_ERROR(webhook["enabled"].get(a.webhookEnabled));
  RETURN_IF_ERROR(decodeDuration(webhook["cacheTTL"], a.webhookCacheTTL, true));
  RETURN_IF_ERROR(checkKeys(anonymous, {"enabled"}));
  return anonymous["enabled"].get(a.anonymousEnabled);
}

absl::Status authorizationField(const JsonField& f, FieldContext& c) {
  RETURN_IF_ERROR(checkKeys(f, {"mode", "webhook"}));
  Authorization& a = c.cfg.authorization;
  std::string mode;
  RETURN_IF_ERROR(f["mode"].get(mode));
  if (!mode.empty()) a.mode = std::move(mode);
  JsonField webhook = f["webhook"];
  RETURN_IF_ERROR(checkKeys(webhook, {"cacheAuthorizedTTL", "cacheUnauthorizedTTL"}));
  RETURN_IF_ERROR(decodeDuration(webhook["cacheAuthorizedTTL"], a.webhookCacheAuthorizedTTL, true));
  return decodeDuration(webhook["cacheUnauthorizedTTL"], a.webhookCacheUnauthorizedTTL, true);
}

// component-base LoggingConfiguration; cubelet logs klog text and honours verbosity.
absl::Status loggingField(const JsonField& f, FieldContext& c) {
  RETURN_IF_ERROR(checkKeys(
      f, {"format", "flushFrequency", "verbosity", "vmodule", "options", "sanitization"}));
  if (!f.isSet()) return absl::OkStatus();
  int64_t verbosity = c.cfg.verbosity;
  RETURN_IF_ERROR(f["verbosity"].get(verbosity));
  if (verbosity < 0 || verbosity > std::numeric_limits<int32_t>::max()) {
    return f["verbosity"].error(text::cat("invalid verbosity ", verbosity));
  }
  c.cfg.verbosity = static_cast<int>(verbosity);
  std::string format;
  RETURN_IF_ERROR(f["format"].get(format));
  for (const auto& [key, value] : f.value()->items()) {
    if (key == "verbosity" || value.is_null()) continue;
    if (key == "format" && (format.empty() || format == "text")) continue;
    warnUnimplemented(c, text::cat("logging.", key));
  }
  return absl::OkStatus();
}

absl::Status crashLoopBackOffField(const JsonField& f, FieldContext& c) {
  RETURN_IF_ERROR(checkKeys(f, {"maxContainerRestartPeriod"}));
  JsonField max = f["maxContainerRestartPeriod"];
  Duration d(0);
  RETURN_IF_ERROR(decodeDuration(max, d, false));
  if (!max.isSet()) return absl::OkStatus();
  if (d < std::chrono::seconds(1) || d > std::chrono::seconds(300)) {
    return max.error(text::cat("must be between 1s and 300s, got ", formatDuration(d)));
  }
  c.cfg.crashLoopBackOffMax = d;
  return absl::OkStatus();
}

// The fields cubelet implements, sorted. Everything else the kubelet knows is warned
// about; see kubelet_config_fields_table.cc.
constexpr auto kImplementedFields = std::to_array<ConfigField>({
    {"address", stringField<&AgentConfig::address>},
    {"allowedUnsafeSysctls", replaceField<&AgentConfig::allowedUnsafeSysctls>},
    {"authentication", authenticationField},
    {"authorization", authorizationField},
    {"cgroupDriver", stringField<&AgentConfig::cgroupDriver>},
    {"cgroupRoot", stringField<&AgentConfig::cgroupRoot>},
    {"cgroupsPerQOS", boolField<&AgentConfig::cgroupsPerQOS>},
    {"clusterDNS", replaceField<&AgentConfig::clusterDNS>},
    {"clusterDomain", stringField<&AgentConfig::clusterDomain>},
    {"containerLogMaxFiles", int32Field<&AgentConfig::containerLogMaxFiles, true>},
    {"containerLogMaxSize", stringField<&AgentConfig::containerLogMaxSize>},
    {"containerRuntimeEndpoint", stringField<&AgentConfig::containerRuntimeEndpoint>},
    {"cpuCFSQuota", boolField<&AgentConfig::cpuCFSQuota>},
    {"cpuCFSQuotaPeriod", durationField<&AgentConfig::cpuCFSQuotaPeriod, true>},
    {"crashLoopBackOff", crashLoopBackOffField},
    {"enableDebuggingHandlers", boolField<&AgentConfig::enableDebuggingHandlers>},
    {"enableServer", boolField<&AgentConfig::enableServer>},
    {"enforceNodeAllocatable", replaceField<&AgentConfig::enforceNodeAllocatable>},
    {"eventBurst", int32Field<&AgentConfig::eventBurst, true>},
    {"eventRecordQPS", int32Field<&AgentConfig::eventRecordQPS, false>},
    {"evictionHard", replaceField<&AgentConfig::evictionHard>},
    {"evictionMaxPodGracePeriod", int32Field<&AgentConfig::evictionMaxPodGracePeriod, false>},
    {"evictionMinimumReclaim", replaceField<&AgentConfig::evictionMinimumReclaim>},
    {"evictionPressureTransitionPeriod",
     durationField<&AgentConfig::evictionPressureTransitionPeriod, true>},
    {"evictionSoft", replaceField<&AgentConfig::evictionSoft>},
    {"evictionSoftGracePeriod", replaceField<&AgentConfig::evictionSoftGracePeriod>},
    {"failSwapOn", boolField<&AgentConfig::failSwapOn>},
    {"featureGates", replaceField<&AgentConfig::featureGates>},
    {"fileCheckFrequency", durationField<&AgentConfig::fileCheckFrequency, true>},
    {"healthzBindAddress", stringField<&AgentConfig::healthzBindAddress>},
    {"healthzPort", int32Field<&AgentConfig::healthzPort, false>},
    {"imageGCHighThresholdPercent", int32Field<&AgentConfig::imageGCHighThresholdPercent, false>},
    {"imageGCLowThresholdPercent", int32Field<&AgentConfig::imageGCLowThresholdPercent, false>},
    {"imageMinimumGCAge", durationField<&AgentConfig::imageMinimumGCAge, true>},
    {"imageServiceEndpoint", stringField<&AgentConfig::imageServiceEndpoint>},
    {"kubeAPIBurst", int32Field<&AgentConfig::kubeAPIBurst, true>},
    {"kubeAPIQPS", int32Field<&AgentConfig::kubeAPIQPS, false>},
    {"kubeReserved", replaceField<&AgentConfig::kubeReserved>},
    {"logging", loggingField},
    {"maxPods", int32Field<&AgentConfig::maxPods, true>},
    {"memoryThrottlingFactor", memoryThrottlingFactorField},
    {"nodeLeaseDurationSeconds", int32Field<&AgentConfig::nodeLeaseDurationSeconds, true>},
    {"nodeStatusReportFrequency", nodeStatusReportField},
    {"nodeStatusUpdateFrequency", nodeStatusUpdateField},
    {"podCIDR", stringField<&AgentConfig::podCIDR>},
    {"podLogsDir", stringField<&AgentConfig::podLogsDir>},
    {"podPidsLimit", podPidsLimitField},
    {"port", int32Field<&AgentConfig::port, true>},
    {"providerID", stringField<&AgentConfig::providerID>},
    {"readOnlyPort", int32Field<&AgentConfig::readOnlyPort, false>},
    {"registerNode", boolField<&AgentConfig::registerNode>},
    {"registerWithTaints", registerWithTaintsField},
    {"resolvConf", resolvConfField},
    {"rotateCertificates", boolField<&AgentConfig::rotateCertificates>},
    {"runtimeRequestTimeout", durationField<&AgentConfig::runtimeRequestTimeout, true>},
    {"seccompDefault", boolField<&AgentConfig::seccompDefault>},
    {"serializeImagePulls", boolField<&AgentConfig::serializeImagePulls>},
    {"serverTLSBootstrap", boolField<&AgentConfig::serverTLSBootstrap>},
    {"shutdownGracePeriod", durationField<&AgentConfig::shutdownGracePeriod, false>},
    {"shutdownGracePeriodCriticalPods",
     durationField<&AgentConfig::shutdownGracePeriodCriticalPods, false>},
    {"staticPodPath", pathField<&AgentConfig::staticPodPath>},
    {"syncFrequency", durationField<&AgentConfig::syncFrequency, true>},
    {"systemReserved", replaceField<&AgentConfig::systemReserved>},
    {"tlsCertFile", pathField<&AgentConfig::tlsCertFile>},
    {"tlsCipherSuites", replaceField<&AgentConfig::tlsCipherSuites>},
    {"tlsMinVersion", stringField<&AgentConfig::tlsMinVersion>},
    {"tlsPrivateKeyFile", pathField<&AgentConfig::tlsPrivateKeyFile>},
});

constexpr bool byName(const ConfigField& a, const ConfigField& b) { return a.name < b.name; }
static_assert(std::is_sorted(kImplementedFields.begin(), kImplementedFields.end(), byName));

const ConfigField* findImplementedField(std::string_view name) {
  auto it = std::lower_bound(kImplementedFields.begin(), kImplementedFields.end(),
                             ConfigField{name, nullptr}, byName);
  return it != kImplementedFields.end() && it->name == name ? &*it : nullptr;
}

absl::Status checkTypeMeta(const json& root, std::string_view source) {
  struct Expected {
    std::string_view field, value;
  };
  for (const Expected& e : {Expected{"apiVersion", kApiVersion}, Expected{"kind", kKind}}) {
    auto it = root.find(e.field);
    if (it == root.end() || it->is_null()) {
      return absl::InvalidArgumentError(
          text::cat(source, ": missing ", e.field, "; expected \"", e.value, "\""));
    }
    if (!it->is_string() || it->get<std::string>() != e.value) {
      return absl::InvalidArgumentError(text::cat(
          source, ": ", e.field, " is ", core::describeJson(*it), ", expected \"", e.value, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status applyConfigText(std::string_view text, std::string_view source,
                             std::string_view baseDir, AgentConfig& cfg,
                             std::vector<std::string>& warnings) {
  ASSIGN_OR_RETURN(json root, core::parseYamlOrJson(text, source));
  if (root.is_null()) {
    return absl::InvalidArgumentError(
        text::cat(source, ": the file is empty; expected a KubeletConfiguration"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(text::cat(
        source, ": expected a KubeletConfiguration object, got ", core::describeJson(root)));
  }
  RETURN_IF_ERROR(checkTypeMeta(root, source));

  FieldContext ctx{cfg, warnings, source, baseDir};
  JsonField top(root);
  for (const auto& [key, value] : root.items()) {
    if (key == "apiVersion" || key == "kind") continue;
    if (const ConfigField* field = findImplementedField(key)) {
      RETURN_IF_ERROR(core::annotate(field->apply(top[key], ctx), source));
    } else if (isKubeletConfigField(key)) {
      if (!value.is_null()) warnUnimplemented(ctx, key);
    } else {
      return absl::InvalidArgumentError(text::cat(source, ": unknown field \"", key, "\""));
    }
  }
  // Kubelet defaulting: an explicit update frequency is also the report frequency
  // unless that is set too.
  if (ctx.nodeStatusUpdateSet && !ctx.nodeStatusReportSet) {
    cfg.nodeStatusReportFrequency = cfg.nodeStatusUpdateFrequency;
  }
  return absl::OkStatus();
}

absl::Status applyConfigFile(const std::string& path, AgentConfig& cfg,
                             std::vector<std::string>& warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::errnoStatus(errno, text::cat("read config file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return core::errnoStatus(errno, text::cat("read config file ", path));
  size_t slash = path.rfind('/');
  std::string baseDir = slash == std::string::npos ? "" : path.substr(0, slash == 0 ? 1 : slash);
  return applyConfigText(text.str(), path, baseDir, cfg, warnings);
}

}  // namespace agent::config

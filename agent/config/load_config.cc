// loadConfig: the order of the layers (defaults, file, flags) and the checks that need
// all of them, such as the node name and the runtime endpoints.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "agent/api/quantity.h"
#include "agent/config/agent_config.h"
#include "agent/config/config_file.h"
#include "agent/config/flags.h"
#include "agent/config/text.h"
#include "agent/config/value_parsers.h"
#include "core/status.h"

namespace agent::config {
namespace {

// Without --config the kubelet keeps the defaults its command line always had:
// anonymous requests allowed, no token webhook, AlwaysAllow. (It also opens the
// unauthenticated read-only port 10255; cubelet opens it only when asked.)
void applyLegacyDefaults(AgentConfig& cfg) {
  cfg.authentication.anonymousEnabled = true;
  cfg.authentication.webhookEnabled = false;
  cfg.authorization.mode = "AlwaysAllow";
}

absl::Status invalid(std::string_view what, std::string_view names, std::string_view detail) {
  return absl::InvalidArgumentError(text::cat("invalid ", what, " (", names, "): ", detail));
}

// The kubelet accepts unix:// URLs, and bare socket paths with a deprecation warning.
absl::Status normalizeEndpoint(std::string& endpoint, std::string_view names,
                               std::vector<std::string>& warnings) {
  if (endpoint.starts_with("unix://") && endpoint.size() > 7) return absl::OkStatus();
  if (!endpoint.empty() && endpoint.front() == '/') {
    warnings.push_back(text::cat(names, " \"", endpoint, "\" has no scheme; using unix://",
                                 endpoint, " (write the full URL)"));
    endpoint = text::cat("unix://", endpoint);
    return absl::OkStatus();
  }
  return invalid("runtime endpoint", names,
                 text::cat("\"", endpoint, "\"; expected unix:///path/to/socket"));
}

absl::StatusOr<std::string> resolveNodeName(std::string_view hostnameOverride) {
  std::string name(text::trim(hostnameOverride));
  if (name.empty()) {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0) return core::errnoStatus(errno, "gethostname");
    name = std::string(text::trim(buf));
    if (name.empty()) {
      return absl::InvalidArgumentError(
          "the hostname is empty; set the node name with --hostname-override");
    }
  }
  // The kubelet lowercases node names: Node objects must be DNS subdomains.
  absl::AsciiStrToLower(&name);
  return name;
}

absl::Status checkPort(int32_t port, bool zeroAllowed, std::string_view names) {
  if ((port == 0 && zeroAllowed) || (port >= 1 && port <= 65535)) return absl::OkStatus();
  return invalid("port", names, text::cat(port, " is not in 1..65535"));
}

absl::Status checkNonNegative(int64_t v, std::string_view names) {
  if (v >= 0) return absl::OkStatus();
  return invalid("value", names, text::cat(v, " must not be negative"));
}

absl::Status checkIP(std::string_view ip, std::string_view names) {
  if (isIPAddress(ip)) return absl::OkStatus();
  return invalid("IP address", names, text::cat("\"", ip, "\""));
}

absl::Status finalize(AgentConfig& cfg, std::vector<std::string>& warnings) {
  ASSIGN_OR_RETURN(cfg.nodeName, resolveNodeName(cfg.hostnameOverride));

  RETURN_IF_ERROR(normalizeEndpoint(cfg.containerRuntimeEndpoint,
                                    "--container-runtime-endpoint / containerRuntimeEndpoint",
                                    warnings));
  if (cfg.imageServiceEndpoint.empty()) {
    cfg.imageServiceEndpoint = cfg.containerRuntimeEndpoint;
  } else {
    RETURN_IF_ERROR(normalizeEndpoint(cfg.imageServiceEndpoint,
                                      "--image-service-endpoint / imageServiceEndpoint", warnings));
  }

  if (cfg.cgroupDriver != "cgroupfs" && cfg.cgroupDriver != "systemd") {
    return invalid("cgroup driver", "--cgroup-driver / cgroupDriver",
                   text::cat("\"", cfg.cgroupDriver, "\"; expected cgroupfs or systemd"));
  }
  const std::string& mode = cfg.authorization.mode;
  if (mode != "AlwaysAllow" && mode != "Webhook") {
    return invalid("authorization mode", "--authorization-mode / authorization.mode",
                   text::cat("\"", mode, "\"; expected AlwaysAllow or Webhook"));
  }

  if (auto q = api::Quantity::parse(cfg.containerLogMaxSize); !q.ok() || q->value() <= 0) {
    return invalid(
        "container log max size", "--container-log-max-size / containerLogMaxSize",
        text::cat("\"", cfg.containerLogMaxSize, "\"; expected a positive quantity such as 10Mi"));
  }
  if (cfg.containerLogMaxFiles < 2) {
    return invalid("container log max files", "--container-log-max-files / containerLogMaxFiles",
                   text::cat(cfg.containerLogMaxFiles, "; must be at least 2"));
  }
  RETURN_IF_ERROR(checkPort(cfg.port, false, "--port / port"));
  RETURN_IF_ERROR(checkPort(cfg.readOnlyPort, true, "--read-only-port / readOnlyPort"));
  RETURN_IF_ERROR(checkPort(cfg.healthzPort, true, "--healthz-port / healthzPort"));
  RETURN_IF_ERROR(checkIP(cfg.address, "--address / address"));
  RETURN_IF_ERROR(checkIP(cfg.healthzBindAddress, "--healthz-bind-address / healthzBindAddress"));
  for (const std::string& ip : cfg.clusterDNS) {
    RETURN_IF_ERROR(checkIP(ip, "--cluster-dns / clusterDNS"));
  }

  if (!cfg.nodeIP.empty()) {
    std::vector<std::string_view> ips = text::split(cfg.nodeIP, ',');
    if (ips.size() > 2) {
      return invalid("node IP", "--node-ip", "at most two addresses (one per IP family)");
    }
    for (std::string_view ip : ips) {
      RETURN_IF_ERROR(checkIP(ip, "--node-ip"));
      // The kubelet refuses a loopback node IP; single-machine clusters and tests need it.
      if (isLoopbackIP(ip)) {
        warnings.push_back(text::cat("--node-ip ", ip,
                                     " is a loopback address; pods on other nodes cannot "
                                     "reach this node"));
      }
    }
  }

  RETURN_IF_ERROR(checkNonNegative(cfg.maxPods, "--max-pods / maxPods"));
  RETURN_IF_ERROR(checkNonNegative(cfg.kubeAPIQPS, "--kube-api-qps / kubeAPIQPS"));
  RETURN_IF_ERROR(checkNonNegative(cfg.kubeAPIBurst, "--kube-api-burst / kubeAPIBurst"));
  RETURN_IF_ERROR(checkNonNegative(cfg.eventRecordQPS, "--event-qps / eventRecordQPS"));
  RETURN_IF_ERROR(checkNonNegative(cfg.eventBurst, "--event-burst / eventBurst"));
  if (cfg.nodeLeaseDurationSeconds <= 0) {
    return invalid("lease duration", "nodeLeaseDurationSeconds", "must be positive");
  }
  if (cfg.workerThreads < 1) {
    return invalid("thread count", "--worker-threads",
                   text::cat(cfg.workerThreads, " must be at least 1"));
  }
  RETURN_IF_ERROR(checkNonNegative(cfg.evictionMaxPodGracePeriod,
                                   "--eviction-max-pod-grace-period / evictionMaxPodGracePeriod"));
  // The kubelet's ValidateKubeletConfiguration ranges.
  for (auto [v, names] : {std::pair{cfg.imageGCHighThresholdPercent,
                                    "--image-gc-high-threshold / imageGCHighThresholdPercent"},
                          std::pair{cfg.imageGCLowThresholdPercent,
                                    "--image-gc-low-threshold / imageGCLowThresholdPercent"}}) {
    if (v < 0 || v > 100) {
      return invalid("percentage", names, text::cat(v, " must be between 0 and 100"));
    }
  }
  if (cfg.imageGCLowThresholdPercent >= cfg.imageGCHighThresholdPercent &&
      cfg.imageGCHighThresholdPercent != 100) {
    return invalid(
        "percentage", "--image-gc-low-threshold / imageGCLowThresholdPercent",
        text::cat(cfg.imageGCLowThresholdPercent, " must be less than imageGCHighThresholdPercent ",
                  cfg.imageGCHighThresholdPercent));
  }
  if (cfg.cpuCFSQuotaPeriod < std::chrono::milliseconds(1) ||
      cfg.cpuCFSQuotaPeriod > std::chrono::seconds(1)) {
    return invalid("CFS quota period", "--cpu-cfs-quota-period / cpuCFSQuotaPeriod",
                   text::cat(formatDuration(cfg.cpuCFSQuotaPeriod), " must be between 1ms and 1s"));
  }
  if (cfg.crashLoopBackOffBase.count() <= 0) {
    return invalid("backoff", "--crash-loop-backoff-base", "must be positive");
  }
  if (cfg.crashLoopBackOffBase > cfg.crashLoopBackOffMax) {
    return invalid(
        "backoff", "--crash-loop-backoff-base",
        text::cat(formatDuration(cfg.crashLoopBackOffBase), " exceeds the maximum restart period ",
                  formatDuration(cfg.crashLoopBackOffMax)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadResult> loadConfig(int argc, const char* const* argv) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  ASSIGN_OR_RETURN(CommandLine cl, parseCommandLine(args));

  LoadResult result;
  result.warnings = std::move(cl.warnings);
  if (cl.help || cl.version) {
    result.helpRequested = cl.help;
    result.versionRequested = cl.version;
    return result;
  }
  // The file must be read before the flags are applied, since flags override it.
  std::string configFile = configFileFlag(cl);
  if (configFile.empty()) {
    applyLegacyDefaults(result.config);
  } else {
    RETURN_IF_ERROR(applyConfigFile(configFile, result.config, result.warnings));
  }
  RETURN_IF_ERROR(applyFlags(cl, result.config));
  RETURN_IF_ERROR(finalize(result.config, result.warnings));
  return result;
}

std::string usage() {
  return text::cat(
      "Usage: cubelet [flags]\n\n"
      "cubelet is a Kubernetes node agent that replaces the kubelet. It takes the kubelet's\n"
      "flags and its KubeletConfiguration file (--config, kubelet.config.k8s.io/v1beta1);\n"
      "flags given on the command line override the file.\n\n"
      "Flags:\n",
      flagsUsage(),
      "  -h, --help                                Show this help.\n"
      "  --version                                 Print the version.\n\n"
      "Other kubelet flags and KubeletConfiguration fields are accepted with a warning\n"
      "and ignored; names the kubelet does not know are errors.\n");
}

}  // namespace agent::config

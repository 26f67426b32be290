#include "agent/config/flags.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>

#include "agent/config/kubelet_names.h"
#include "agent/config/text.h"
#include "agent/config/value_parsers.h"
#include "core/status.h"

namespace agent::config {
namespace {

struct FlagContext {
  AgentConfig& cfg;
  bool repeated;  // the flag appeared earlier on this command line
};
using ApplyFn = absl::Status (*)(FlagContext&, std::string_view);

struct CubeletFlag {
  std::string_view name;
  std::string_view type;  // empty for booleans
  std::string_view help;
  ApplyFn apply;
  bool cubeletOnly = false;  // not a kubelet flag
};

constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

template <auto M>
absl::Status setString(FlagContext& c, std::string_view v) {
  c.cfg.*M = std::string(v);
  return absl::OkStatus();
}

template <auto M>
absl::Status setBool(FlagContext& c, std::string_view v) {
  ASSIGN_OR_RETURN(c.cfg.*M, parseGoBool(v));
  return absl::OkStatus();
}

template <auto M>
absl::Status setInt32(FlagContext& c, std::string_view v) {
  ASSIGN_OR_RETURN(int64_t n, parseGoInt(v, kInt32Min, kInt32Max));
  c.cfg.*M = static_cast<int32_t>(n);
  return absl::OkStatus();
}

absl::StatusOr<Duration> nonNegativeDuration(std::string_view v) {
  ASSIGN_OR_RETURN(Duration d, parseGoDuration(v));
  if (d.count() < 0) {
    return absl::InvalidArgumentError(text::cat("duration \"", v, "\" must not be negative"));
  }
  return d;
}

template <auto M>
absl::Status setDuration(FlagContext& c, std::string_view v) {
  ASSIGN_OR_RETURN(c.cfg.*M, nonNegativeDuration(v));
  return absl::OkStatus();
}

// pflag StringSlice: the first occurrence replaces the default (or the file's value).
template <auto M>
absl::Status setList(FlagContext& c, std::string_view v) {
  if (!c.repeated) (c.cfg.*M).clear();
  for (std::string& item : splitList(v)) (c.cfg.*M).push_back(std::move(item));
  return absl::OkStatus();
}

// component-base MapStringString and LangleSeparatedMapStringString.
template <auto M, char Sep>
absl::Status setMap(FlagContext& c, std::string_view v) {
  if (!c.repeated) (c.cfg.*M).clear();
  return parseKeyValueList(v, Sep, c.cfg.*M);
}

absl::Status setVerbosity(FlagContext& c, std::string_view v) {
  ASSIGN_OR_RETURN(int64_t n, parseGoInt(v, 0, kInt32Max));
  c.cfg.verbosity = static_cast<int>(n);
  return absl::OkStatus();
}

absl::Status setNodeLabels(FlagContext& c, std::string_view v) {
  return parseNodeLabels(v, c.cfg.nodeLabels);
}

absl::Status setTaints(FlagContext& c, std::string_view v) {
  ASSIGN_OR_RETURN(c.cfg.registerWithTaints, parseTaints(v));
  return absl::OkStatus();
}

// The kubelet merges flag gates over the file's gates, key by key.
absl::Status setFeatureGates(FlagContext& c, std::string_view v) {
  return parseFeatureGates(v, c.cfg.featureGates);
}

absl::Status setPodPidsLimit(FlagContext& c, std::string_view v) {
  ASSIGN_OR_RETURN(c.cfg.podPidsLimit, parseGoInt(v, std::numeric_limits<int64_t>::min(),
                                                  std::numeric_limits<int64_t>::max()));
  return absl::OkStatus();
}

// Sorted by name; --help lists them in this order.
constexpr auto kCubeletFlags = std::to_array<CubeletFlag>({
    {"address", "ip", "IP address the HTTPS server listens on (0.0.0.0 or :: for all).",
     setString<&AgentConfig::address>},
    {"allowed-unsafe-sysctls", "strings",
     "Unsafe sysctls or sysctl patterns (ending in *) pods may set, comma-separated.",
     setList<&AgentConfig::allowedUnsafeSysctls>},
    {"anonymous-auth", "", "Allow anonymous requests to the HTTPS server.",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       ASSIGN_OR_RETURN(c.cfg.authentication.anonymousEnabled, parseGoBool(v));
       return absl::OkStatus();
     }},
    {"authentication-token-webhook", "", "Authenticate bearer tokens with the TokenReview API.",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       ASSIGN_OR_RETURN(c.cfg.authentication.webhookEnabled, parseGoBool(v));
       return absl::OkStatus();
     }},
    {"authentication-token-webhook-cache-ttl", "duration", "How long to cache TokenReview results.",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       ASSIGN_OR_RETURN(c.cfg.authentication.webhookCacheTTL, nonNegativeDuration(v));
       return absl::OkStatus();
     }},
    {"authorization-mode", "string", "AlwaysAllow or Webhook (SubjectAccessReview API).",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       c.cfg.authorization.mode = std::string(v);
       return absl::OkStatus();
     }},
    {"authorization-webhook-cache-authorized-ttl", "duration",
     "How long to cache 'authorized' webhook answers.",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       ASSIGN_OR_RETURN(c.cfg.authorization.webhookCacheAuthorizedTTL, nonNegativeDuration(v));
       return absl::OkStatus();
     }},
    {"authorization-webhook-cache-unauthorized-ttl", "duration",
     "How long to cache 'unauthorized' webhook answers.",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       ASSIGN_OR_RETURN(c.cfg.authorization.webhookCacheUnauthorizedTTL, nonNegativeDuration(v));
       return absl::OkStatus();
     }},
    {"bootstrap-kubeconfig", "path",
     "Kubeconfig used to request a client certificate when --kubeconfig does not exist yet.",
     setString<&AgentConfig::bootstrapKubeconfig>},
    {"cert-dir", "path", "Directory for TLS certificates and keys.",
     setString<&AgentConfig::certDir>},
    {"cgroup-driver", "string", "cgroupfs or systemd.", setString<&AgentConfig::cgroupDriver>},
    {"cgroup-root", "string", "Root cgroup for pods.", setString<&AgentConfig::cgroupRoot>},
    {"cgroups-per-qos", "", "Create the QoS and pod cgroup hierarchy.",
     setBool<&AgentConfig::cgroupsPerQOS>},
    {"client-ca-file", "path", "CA bundle that authenticates client certificates.",
     [](FlagContext& c, std::string_view v) -> absl::Status {
       c.cfg.authentication.clientCAFile = std::string(v);
       return absl::OkStatus();
     }},
    {"cluster-dns", "ips", "Comma-separated DNS server IPs for ClusterFirst pods.",
     setList<&AgentConfig::clusterDNS>},
    {"cluster-domain", "string", "The cluster's DNS domain (e.g. cluster.local).",
     setString<&AgentConfig::clusterDomain>},
    {"cni-bin-dir", "path", "Directory of CNI plugin binaries.",
     setString<&AgentConfig::cniBinDir>},
    {"cni-conf-dir", "path", "Directory of CNI network configurations.",
     setString<&AgentConfig::cniConfDir>},
    {"cni-ip-masq", "",
     "Masquerade traffic leaving the pod CIDR in the CNI config cubelet writes (default true).",
     setBool<&AgentConfig::cniIpMasq>, true},
    {"config", "path", "KubeletConfiguration file; flags override its values.",
     setString<&AgentConfig::configFile>},
    {"container-log-max-files", "int32", "Log files kept per container, the live one included.",
     setInt32<&AgentConfig::containerLogMaxFiles>},
    {"container-log-max-size", "quantity", "Size at which a container's log is rotated (10Mi).",
     setString<&AgentConfig::containerLogMaxSize>},
    {"container-logs-link-dir", "path",
     "Directory of the per-container log symlinks (default /var/log/containers).",
     setString<&AgentConfig::containerLogsLinkDir>, true},
    {"container-runtime-endpoint", "endpoint",
     "CRI endpoint, e.g. unix:///run/containerd/containerd.sock.",
     setString<&AgentConfig::containerRuntimeEndpoint>},
    {"cpu-cfs-quota", "", "Enforce CPU limits with CFS quota.", setBool<&AgentConfig::cpuCFSQuota>},
    {"cpu-cfs-quota-period", "duration", "CFS quota period (default 100ms).",
     setDuration<&AgentConfig::cpuCFSQuotaPeriod>},
    {"crash-loop-backoff-base", "duration",
     "First container restart delay; doubles up to the maximum (default 10s).",
     setDuration<&AgentConfig::crashLoopBackOffBase>, true},
    {"enable-debugging-handlers", "", "Serve exec, attach, logs and port-forward.",
     setBool<&AgentConfig::enableDebuggingHandlers>},
    {"enable-server", "", "Run the HTTPS server.", setBool<&AgentConfig::enableServer>},
    {"enforce-node-allocatable", "strings", "Node allocatable enforcement levels (e.g. pods).",
     setList<&AgentConfig::enforceNodeAllocatable>},
    {"event-burst", "int32", "Burst of event creations.", setInt32<&AgentConfig::eventBurst>},
    {"event-qps", "int32", "Event creations per second.", setInt32<&AgentConfig::eventRecordQPS>},
    {"eviction-hard", "signal<qty,...", "Hard eviction thresholds (e.g. memory.available<100Mi).",
     setMap<&AgentConfig::evictionHard, '<'>},
    {"eviction-max-pod-grace-period", "int32",
     "Longest grace period (s) for pods evicted by soft thresholds.",
     setInt32<&AgentConfig::evictionMaxPodGracePeriod>},
    {"eviction-minimum-reclaim", "signal=qty,...", "Least to reclaim once a threshold is met.",
     setMap<&AgentConfig::evictionMinimumReclaim, '='>},
    {"eviction-pressure-transition-period", "duration",
     "How long a pressure condition is kept after the threshold clears (default 5m).",
     setDuration<&AgentConfig::evictionPressureTransitionPeriod>},
    {"eviction-soft", "signal<qty,...", "Soft eviction thresholds.",
     setMap<&AgentConfig::evictionSoft, '<'>},
    {"eviction-soft-grace-period", "signal=duration,...",
     "How long each soft threshold must hold before pods are evicted.",
     setMap<&AgentConfig::evictionSoftGracePeriod, '='>},
    {"fail-swap-on", "", "Refuse to start when swap is enabled.",
     setBool<&AgentConfig::failSwapOn>},
    {"feature-gates", "name=bool,...", "Feature gates, merged over the config file's.",
     setFeatureGates},
    {"file-check-frequency", "duration", "Rescan period of the static pod path.",
     setDuration<&AgentConfig::fileCheckFrequency>},
    {"healthz-bind-address", "ip", "IP address of the healthz server.",
     setString<&AgentConfig::healthzBindAddress>},
    {"healthz-port", "int32", "Port of the healthz server (0 disables).",
     setInt32<&AgentConfig::healthzPort>},
    {"hostname-override", "string", "Node name to use instead of the hostname.",
     setString<&AgentConfig::hostnameOverride>},
    {"image-gc-high-threshold", "int32", "Disk usage percent that starts image GC (default 85).",
     setInt32<&AgentConfig::imageGCHighThresholdPercent>},
    {"image-gc-low-threshold", "int32", "Disk usage percent image GC frees down to (default 80).",
     setInt32<&AgentConfig::imageGCLowThresholdPercent>},
    {"image-service-endpoint", "endpoint", "CRI image endpoint (default: the runtime endpoint).",
     setString<&AgentConfig::imageServiceEndpoint>},
    {"kube-api-burst", "int32", "Burst of API server requests.",
     setInt32<&AgentConfig::kubeAPIBurst>},
    {"kube-api-qps", "int32", "API server requests per second.",
     setInt32<&AgentConfig::kubeAPIQPS>},
    {"kube-reserved", "name=qty,...", "Resources reserved for Kubernetes daemons.",
     setMap<&AgentConfig::kubeReserved, '='>},
    {"kubeconfig", "path", "Kubeconfig of the API server; without it cubelet runs standalone.",
     setString<&AgentConfig::kubeconfig>},
    {"max-pods", "int32", "Most pods this node runs.", setInt32<&AgentConfig::maxPods>},
    {"minimum-image-ttl-duration", "duration", "Youngest unused image age GC may remove.",
     setDuration<&AgentConfig::imageMinimumGCAge>},
    {"node-ip", "ip[,ip]", "The node's IP address (two, comma-separated, for dual stack).",
     setString<&AgentConfig::nodeIP>},
    {"node-labels", "key=value,...", "Labels to register the node with.", setNodeLabels},
    {"node-status-update-frequency", "duration", "How often node status is computed.",
     setDuration<&AgentConfig::nodeStatusUpdateFrequency>},
    {"pod-cidr", "cidr", "Pod IP range in standalone mode.", setString<&AgentConfig::podCIDR>},
    {"pod-infra-container-image", "image",
     "Accepted for compatibility; the runtime's own sandbox image is used.",
     setString<&AgentConfig::podInfraContainerImage>},
    {"pod-logs-dir", "path", "Root of the pod log directories (default /var/log/pods).",
     setString<&AgentConfig::podLogsDir>, true},
    {"pod-manifest-path", "path", "Directory (or file) of static pod manifests.",
     setString<&AgentConfig::staticPodPath>},
    {"pod-max-pids", "int64", "Most processes per pod (-1: no limit).", setPodPidsLimit},
    {"port", "int32", "Port of the HTTPS server.", setInt32<&AgentConfig::port>},
    {"provider-id", "string", "The node's ID in the machine database (cloud provider).",
     setString<&AgentConfig::providerID>},
    {"read-only-port", "int32", "Unauthenticated read-only port (0 disables).",
     setInt32<&AgentConfig::readOnlyPort>},
    {"register-node", "", "Register the node with the API server.",
     setBool<&AgentConfig::registerNode>},
    {"register-with-taints", "key=value:Effect,...", "Taints to register the node with.",
     setTaints},
    {"resolv-conf", "path", "Host resolver file pods' DNS is based on (\"\" for none).",
     setString<&AgentConfig::resolvConf>},
    {"root-dir", "path", "Directory of the agent's state (volumes, pod files).",
     setString<&AgentConfig::rootDir>},
    {"rotate-certificates", "", "Renew the client certificate through the API server.",
     setBool<&AgentConfig::rotateCertificates>},
    {"rotate-server-certificates", "", "Request the serving certificate from the API server.",
     setBool<&AgentConfig::serverTLSBootstrap>},
    {"runtime-request-timeout", "duration", "Deadline of CRI calls other than pulls and streams.",
     setDuration<&AgentConfig::runtimeRequestTimeout>},
    {"seccomp-default", "",
     "Use the runtime's default seccomp profile (RuntimeDefault) for containers without one.",
     setBool<&AgentConfig::seccompDefault>},
    {"self-seccomp", "",
     "After start-up, refuse (EPERM) the system calls the agent does not use (default true).",
     setBool<&AgentConfig::selfSeccomp>, true},
    {"serialize-image-pulls", "", "Pull one image at a time.",
     setBool<&AgentConfig::serializeImagePulls>},
    {"sync-frequency", "duration", "Longest time between pod resyncs.",
     setDuration<&AgentConfig::syncFrequency>},
    {"sync-loop-health-threshold", "duration",
     "How long without a runtime relist before /healthz fails (default: the kubelet's 5m rule).",
     setDuration<&AgentConfig::syncLoopHealthThreshold>, true},
    {"system-reserved", "name=qty,...", "Resources reserved for system daemons.",
     setMap<&AgentConfig::systemReserved, '='>},
    {"tls-cert-file", "path", "Serving certificate of the HTTPS server.",
     setString<&AgentConfig::tlsCertFile>},
    {"tls-cipher-suites", "names", "Cipher suites the HTTPS server offers (Go/IANA names).",
     setList<&AgentConfig::tlsCipherSuites>},
    {"tls-min-version", "string", "Lowest TLS version of the HTTPS server (VersionTLS10..13).",
     setString<&AgentConfig::tlsMinVersion>},
    {"tls-private-key-file", "path", "Key of --tls-cert-file.",
     setString<&AgentConfig::tlsPrivateKeyFile>},
    {"v", "int", "Log verbosity (also -v N).", setVerbosity},
    {"worker-threads", "int32", "Threads for blocking runtime and file work (default 4).",
     setInt32<&AgentConfig::workerThreads>, true},
});

constexpr bool byName(const CubeletFlag& a, const CubeletFlag& b) { return a.name < b.name; }
static_assert(std::is_sorted(kCubeletFlags.begin(), kCubeletFlags.end(), byName));

const CubeletFlag* findCubeletFlag(std::string_view name) {
  auto it = std::lower_bound(kCubeletFlags.begin(), kCubeletFlags.end(),
                             CubeletFlag{name, "", "", nullptr}, byName);
  return it != kCubeletFlags.end() && it->name == name ? &*it : nullptr;
}

// The kubelet's flag set normalizes '_' to '-' (cliflag.WordSepNormalizeFunc).
std::string normalizeFlagName(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

}  // namespace

absl::StatusOr<CommandLine> parseCommandLine(std::span<const std::string_view> args) {
  CommandLine cl;
  std::set<std::string, std::less<>> warned;
  bool lastWasBareBool = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return absl::InvalidArgumentError(
            text::cat("cubelet takes no positional arguments, got \"", args[i + 1], "\""));
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(
          text::cat("cubelet takes no positional arguments, got \"", arg, "\"",
                    lastWasBareBool ? " (boolean flags take their value as --flag=false)" : ""));
    }
    std::string name;
    std::optional<std::string_view> inlineValue;
    if (arg[1] == '-') {
      std::string_view body = arg.substr(2);
      if (body.empty() || body[0] == '-' || body[0] == '=') {
        return absl::InvalidArgumentError(text::cat("bad flag syntax: ", arg));
      }
      size_t eq = body.find('=');
      name = normalizeFlagName(body.substr(0, eq));
      if (eq != std::string_view::npos) inlineValue = body.substr(eq + 1);
    } else if (arg[1] == 'v') {
      // klog's --v has the shorthand -v; pflag accepts -v=2, -v2 and -v 2.
      name = "v";
      std::string_view rest = arg.substr(2);
      if (!rest.empty()) inlineValue = rest[0] == '=' ? rest.substr(1) : rest;
    } else if (arg == "-h") {
      name = "help";
    } else {
      return absl::InvalidArgumentError(
          text::cat("unknown shorthand flag: '", arg.substr(1, 1), "' in ", arg));
    }

    if (name == "help") {
      bool want = true;
      if (inlineValue) {
        ASSIGN_OR_RETURN(want, parseGoBool(*inlineValue));
      }
      if (want) {
        cl.help = true;
        return cl;  // pflag stops at --help
      }
      continue;
    }
    if (name == "version") {
      // verflag: --version, --version=true|false|raw.
      cl.version = cl.version || inlineValue.value_or("true") != "false";
      lastWasBareBool = !inlineValue;
      continue;
    }

    const CubeletFlag* implemented = findCubeletFlag(name);
    std::optional<KubeletFlagInfo> kubelet = findKubeletFlag(name);
    if (implemented == nullptr && !kubelet) {
      return absl::InvalidArgumentError(text::cat("unknown flag: --", name));
    }
    bool boolean = implemented != nullptr ? implemented->type.empty() : kubelet->boolean;
    std::string value;
    if (inlineValue) {
      value = std::string(*inlineValue);
    } else if (boolean) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = std::string(args[++i]);
    } else {
      return absl::InvalidArgumentError(text::cat("flag needs an argument: --", name));
    }
    lastWasBareBool = boolean && !inlineValue;
    if (implemented != nullptr) {
      cl.flags.push_back({std::move(name), std::move(value)});
      continue;
    }
    if (boolean) RETURN_IF_ERROR(core::annotate(parseGoBool(value).status(), "--" + name));
    if (warned.insert(name).second) {
      cl.warnings.push_back(
          text::cat("flag --", name, " is not implemented by cubelet yet; ignored"));
    }
  }
  return cl;
}

std::string configFileFlag(const CommandLine& cl) {
  std::string path;
  for (const FlagOccurrence& f : cl.flags) {
    if (f.name == "config") path = f.value;
  }
  return path;
}

absl::Status applyFlags(const CommandLine& cl, AgentConfig& cfg) {
  std::set<std::string_view> seen;
  for (const FlagOccurrence& f : cl.flags) {
    const CubeletFlag* flag = findCubeletFlag(f.name);
    if (flag == nullptr) return absl::InternalError(text::cat("unbound flag --", f.name));
    FlagContext ctx{cfg, !seen.insert(flag->name).second};
    RETURN_IF_ERROR(core::annotate(flag->apply(ctx, f.value), text::cat("--", f.name)));
  }
  return absl::OkStatus();
}

std::string flagsUsage() {
  std::string out;
  for (const CubeletFlag& f : kCubeletFlags) {
    std::string head = text::cat("  --", f.name, f.type.empty() ? "" : " ", f.type);
    if (head.size() < 44)
      head.resize(44, ' ');
    else
      head += text::cat("\n", std::string(44, ' '));
    out += text::cat(head, f.help, f.cubeletOnly ? " [cubelet only]" : "", "\n");
  }
  return out;
}

}  // namespace agent::config

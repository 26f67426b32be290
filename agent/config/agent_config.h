// cubelet's effective configuration, loaded as the kubelet loads its own: built-in
// defaults, then the kubelet.config.k8s.io/v1beta1 KubeletConfiguration file named by
// --config, then command-line flags (kubelet flag names). Kubelet flags and config
// fields that cubelet does not implement yet are accepted with a warning; names the
// kubelet does not know either are errors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

namespace agent::config {

using Duration = core::Duration;

// A node taint to register with (--register-with-taints, registerWithTaints).
struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // "NoSchedule" | "PreferNoSchedule" | "NoExecute"
  bool operator==(const Taint&) const = default;
};

// Who may call the agent's HTTPS server (KubeletConfiguration.authentication).
struct Authentication {
  bool anonymousEnabled = false;  // anonymous.enabled / --anonymous-auth
  bool webhookEnabled = true;     // webhook.enabled / --authentication-token-webhook
  Duration webhookCacheTTL = std::chrono::minutes(2);
  std::string clientCAFile;  // x509.clientCAFile / --client-ca-file
};

// What callers of the agent's HTTPS server may do (KubeletConfiguration.authorization).
struct Authorization {
  std::string mode = "Webhook";  // "AlwaysAllow" | "Webhook"
  Duration webhookCacheAuthorizedTTL = std::chrono::minutes(5);
  Duration webhookCacheUnauthorizedTTL = std::chrono::seconds(30);
};

// Defaults are the kubelet's v1beta1 defaults. Comments name the flag / config field.
struct AgentConfig {
  // Files and identity.
  std::string configFile;                        // --config
  std::string kubeconfig;                        // --kubeconfig (empty: standalone mode)
  std::string bootstrapKubeconfig;               // --bootstrap-kubeconfig
  std::string certDir = "/var/lib/kubelet/pki";  // --cert-dir
  std::string hostnameOverride;                  // --hostname-override
  std::string nodeName;  // resolved: hostnameOverride, else the hostname; lowercased
  std::string nodeIP;    // --node-ip (one IP, or two comma-separated for dual stack)
  std::map<std::string, std::string> nodeLabels;  // --node-labels k=v,k2=v2
  std::vector<Taint> registerWithTaints;          // --register-with-taints / registerWithTaints
  bool registerNode = true;                       // --register-node / registerNode
  std::string providerID;                         // --provider-id / providerID

  // Container runtime.
  std::string containerRuntimeEndpoint = "unix:///run/containerd/containerd.sock";
  // imageServiceEndpoint / --image-service-endpoint; after loading, never empty (it
  // falls back to containerRuntimeEndpoint, as in the kubelet).
  std::string imageServiceEndpoint;
  Duration runtimeRequestTimeout =
      std::chrono::minutes(2);         // --runtime-request-timeout / runtimeRequestTimeout
  std::string podInfraContainerImage;  // --pod-infra-container-image (informational)
  bool serializeImagePulls = true;     // --serialize-image-pulls / serializeImagePulls
  // --seccomp-default / seccompDefault: containers without a seccompProfile get the
  // runtime's default profile (RuntimeDefault) instead of Unconfined.
  bool seccompDefault = false;

  // Directories and pod sources.
  std::string rootDir = "/var/lib/kubelet";  // --root-dir
  std::string staticPodPath;                 // --pod-manifest-path / staticPodPath
  Duration fileCheckFrequency =
      std::chrono::seconds(20);                      // --file-check-frequency / fileCheckFrequency
  Duration syncFrequency = std::chrono::minutes(1);  // --sync-frequency / syncFrequency
  std::string podLogsDir = "/var/log/pods";          // podLogsDir (cubelet also: --pod-logs-dir)
  std::string containerLogsLinkDir = "/var/log/containers";  // cubelet: --container-logs-link-dir
  // --container-log-max-size / containerLogMaxSize (a quantity, default 10Mi) and
  // --container-log-max-files / containerLogMaxFiles: log rotation.
  std::string containerLogMaxSize = "10Mi";
  int32_t containerLogMaxFiles = 5;

  // cgroups and node allocatable.
  std::string cgroupDriver = "cgroupfs";              // --cgroup-driver / cgroupDriver
  std::string cgroupRoot;                             // --cgroup-root / cgroupRoot
  bool cgroupsPerQOS = true;                          // --cgroups-per-qos / cgroupsPerQOS
  bool failSwapOn = true;                             // --fail-swap-on / failSwapOn
  std::map<std::string, std::string> kubeReserved;    // --kube-reserved / kubeReserved
  std::map<std::string, std::string> systemReserved;  // --system-reserved / systemReserved
  std::map<std::string, std::string> evictionHard = {
      {"imagefs.available", "15%"},
      {"memory.available", "100Mi"},
      {"nodefs.available", "10%"},
      {"nodefs.inodesFree", "5%"},
  };                                                           // --eviction-hard / evictionHard
  std::vector<std::string> enforceNodeAllocatable = {"pods"};  // --enforce-node-allocatable
  // Soft thresholds need a grace period each; minimum reclaim is per signal.
  std::map<std::string, std::string> evictionSoft;             // --eviction-soft
  std::map<std::string, std::string> evictionSoftGracePeriod;  // --eviction-soft-grace-period
  std::map<std::string, std::string> evictionMinimumReclaim;   // --eviction-minimum-reclaim
  Duration evictionPressureTransitionPeriod =
      std::chrono::minutes(5);            // --eviction-pressure-transition-period
  int32_t evictionMaxPodGracePeriod = 0;  // --eviction-max-pod-grace-period (seconds)
  bool cpuCFSQuota = true;                // --cpu-cfs-quota / cpuCFSQuota
  Duration cpuCFSQuotaPeriod = std::chrono::milliseconds(100);  // --cpu-cfs-quota-period
  double memoryThrottlingFactor = 0.9;       // memoryThrottlingFactor (memory QoS memory.high)
  int32_t imageGCHighThresholdPercent = 85;  // --image-gc-high-threshold
  int32_t imageGCLowThresholdPercent = 80;   // --image-gc-low-threshold
  Duration imageMinimumGCAge = std::chrono::minutes(2);  // --minimum-image-ttl-duration
  int64_t podPidsLimit = -1;  // --pod-max-pids / podPidsLimit (-1: no pod limit)
  int32_t maxPods = 110;      // --max-pods / maxPods
  // --allowed-unsafe-sysctls / allowedUnsafeSysctls: sysctls (or patterns ending in '*')
  // allowed beyond the safe set.
  std::vector<std::string> allowedUnsafeSysctls;

  // Networking and DNS.
  std::vector<std::string> clusterDNS;          // --cluster-dns (comma list) / clusterDNS
  std::string clusterDomain;                    // --cluster-domain / clusterDomain
  std::string resolvConf = "/etc/resolv.conf";  // --resolv-conf / resolvConf ("" = no host DNS)
  std::string podCIDR;                          // --pod-cidr / podCIDR
  std::string cniConfDir = "/etc/cni/net.d";    // --cni-conf-dir (dockershim-era flag)
  std::string cniBinDir = "/opt/cni/bin";       // --cni-bin-dir (dockershim-era flag)
  bool cniIpMasq = true;  // cubelet: --cni-ip-masq (the bridge's ipMasq, as kubenet's)

  // The agent's servers.
  bool enableServer = true;  // --enable-server / enableServer
  std::string address = "0.0.0.0";
  int32_t port = 10250;
  int32_t readOnlyPort = 0;     // 0: disabled
  int32_t healthzPort = 10248;  // 0: disabled
  std::string healthzBindAddress = "127.0.0.1";
  std::string tlsCertFile;                   // --tls-cert-file / tlsCertFile
  std::string tlsPrivateKeyFile;             // --tls-private-key-file / tlsPrivateKeyFile
  bool rotateCertificates = false;           // --rotate-certificates / rotateCertificates
  bool serverTLSBootstrap = false;           // --rotate-server-certificates / serverTLSBootstrap
  std::string tlsMinVersion;                 // --tls-min-version / tlsMinVersion (empty: TLS 1.2)
  std::vector<std::string> tlsCipherSuites;  // --tls-cipher-suites / tlsCipherSuites
  bool enableDebuggingHandlers = true;       // exec, attach, logs, port-forward endpoints
  Authentication authentication;
  Authorization authorization;

  // API server traffic.
  Duration nodeStatusUpdateFrequency = std::chrono::seconds(10);
  Duration nodeStatusReportFrequency = std::chrono::minutes(5);
  int32_t nodeLeaseDurationSeconds = 40;
  int32_t kubeAPIQPS = 50;
  int32_t kubeAPIBurst = 100;
  int32_t eventRecordQPS = 50;  // --event-qps / eventRecordQPS
  int32_t eventBurst = 100;     // --event-burst / eventBurst

  // Lifecycle.
  Duration shutdownGracePeriod = std::chrono::seconds(0);  // shutdownGracePeriod
  Duration shutdownGracePeriodCriticalPods =
      std::chrono::seconds(0);  // shutdownGracePeriodCriticalPods
  Duration crashLoopBackOffBase =
      std::chrono::seconds(10);  // cubelet: --crash-loop-backoff-base (fast tests)
  Duration crashLoopBackOffMax =
      std::chrono::seconds(300);  // crashLoopBackOff.maxContainerRestartPeriod

  // Process.
  int verbosity = 0;                         // --v / -v / logging.verbosity
  std::map<std::string, bool> featureGates;  // --feature-gates / featureGates
  int32_t workerThreads = 4;  // cubelet: --worker-threads (pool for blocking CRI/IO work)
  // cubelet: --self-seccomp. After start-up the agent confines itself with a seccomp
  // filter allowing only the system calls it uses (agent/sandbox/self_seccomp.h).
  bool selfSeccomp = true;
  // cubelet: --sync-loop-health-threshold. /healthz's syncloop check fails when the
  // PLEG has not relisted for this long; 0 is the kubelet's rule, the larger of
  // twice syncFrequency and 5 minutes.
  Duration syncLoopHealthThreshold{0};
};

struct LoadResult {
  AgentConfig config;
  // One line per accepted-but-ignored flag or field, and other non-fatal remarks.
  std::vector<std::string> warnings;
  // --help / -h was given: the caller prints usage() and exits 0. Nothing else is
  // loaded, so `config` holds only defaults.
  bool helpRequested = false;
  // --version was given: the caller prints its version and exits 0 (as above).
  bool versionRequested = false;
};

// Parses argv (argv[0] is the program name) with pflag syntax and kubelet semantics:
// defaults < --config file < flags given on the command line.
absl::StatusOr<LoadResult> loadConfig(int argc, const char* const* argv);

// The --help text: the flags cubelet implements.
std::string usage();

}  // namespace agent::config

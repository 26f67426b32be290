#include "agent/config/configz.h"

#include "agent/config/value_parsers.h"

namespace agent::config {
namespace {

nlohmann::json taintsJson(const std::vector<Taint>& taints) {
  nlohmann::json out = nlohmann::json::array();
  for (const Taint& t : taints) {
    nlohmann::json j = {{"key", t.key}, {"effect", t.effect}};
    if (!t.value.empty()) j["value"] = t.value;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

nlohmann::json configzJson(const AgentConfig& c) {
  using nlohmann::json;
  json k = {
      {"enableServer", c.enableServer},
      {"staticPodPath", c.staticPodPath},
      {"podLogsDir", c.podLogsDir},
      {"syncFrequency", formatDuration(c.syncFrequency)},
      {"fileCheckFrequency", formatDuration(c.fileCheckFrequency)},
      {"address", c.address},
      {"port", c.port},
      {"readOnlyPort", c.readOnlyPort},
      {"tlsCertFile", c.tlsCertFile},
      {"tlsPrivateKeyFile", c.tlsPrivateKeyFile},
      {"tlsCipherSuites", c.tlsCipherSuites},
      {"tlsMinVersion", c.tlsMinVersion},
      {"rotateCertificates", c.rotateCertificates},
      {"serverTLSBootstrap", c.serverTLSBootstrap},
      {"authentication",
       {{"x509", {{"clientCAFile", c.authentication.clientCAFile}}},
        {"webhook",
         {{"enabled", c.authentication.webhookEnabled},
          {"cacheTTL", formatDuration(c.authentication.webhookCacheTTL)}}},
        {"anonymous", {{"enabled", c.authentication.anonymousEnabled}}}}},
      {"authorization",
       {{"mode", c.authorization.mode},
        {"webhook",
         {{"cacheAuthorizedTTL", formatDuration(c.authorization.webhookCacheAuthorizedTTL)},
          {"cacheUnauthorizedTTL", formatDuration(c.authorization.webhookCacheUnauthorizedTTL)}}}}},
      {"registryPullQPS", 5},
      {"registryBurst", 10},
      {"eventRecordQPS", c.eventRecordQPS},
      {"eventBurst", c.eventBurst},
      {"enableDebuggingHandlers", c.enableDebuggingHandlers},
      {"healthzPort", c.healthzPort},
      {"healthzBindAddress", c.healthzBindAddress},
      {"clusterDomain", c.clusterDomain},
      {"clusterDNS", c.clusterDNS},
      {"nodeStatusUpdateFrequency", formatDuration(c.nodeStatusUpdateFrequency)},
      {"nodeStatusReportFrequency", formatDuration(c.nodeStatusReportFrequency)},
      {"nodeLeaseDurationSeconds", c.nodeLeaseDurationSeconds},
      {"imageMinimumGCAge", formatDuration(c.imageMinimumGCAge)},
      {"imageGCHighThresholdPercent", c.imageGCHighThresholdPercent},
      {"imageGCLowThresholdPercent", c.imageGCLowThresholdPercent},
      {"cgroupRoot", c.cgroupRoot},
      {"cgroupsPerQOS", c.cgroupsPerQOS},
      {"cgroupDriver", c.cgroupDriver},
      {"runtimeRequestTimeout", formatDuration(c.runtimeRequestTimeout)},
      {"podCIDR", c.podCIDR},
      {"podPidsLimit", c.podPidsLimit},
      {"resolvConf", c.resolvConf},
      {"cpuCFSQuota", c.cpuCFSQuota},
      {"cpuCFSQuotaPeriod", formatDuration(c.cpuCFSQuotaPeriod)},
      {"maxPods", c.maxPods},
      {"serializeImagePulls", c.serializeImagePulls},
      {"evictionHard", c.evictionHard},
      {"evictionSoft", c.evictionSoft},
      {"evictionSoftGracePeriod", c.evictionSoftGracePeriod},
      {"evictionPressureTransitionPeriod", formatDuration(c.evictionPressureTransitionPeriod)},
      {"evictionMaxPodGracePeriod", c.evictionMaxPodGracePeriod},
      {"evictionMinimumReclaim", c.evictionMinimumReclaim},
      {"kubeAPIQPS", c.kubeAPIQPS},
      {"kubeAPIBurst", c.kubeAPIBurst},
      {"failSwapOn", c.failSwapOn},
      {"containerLogMaxSize", c.containerLogMaxSize},
      {"containerLogMaxFiles", c.containerLogMaxFiles},
      {"systemReserved", c.systemReserved},
      {"kubeReserved", c.kubeReserved},
      {"enforceNodeAllocatable", c.enforceNodeAllocatable},
      {"allowedUnsafeSysctls", c.allowedUnsafeSysctls},
      {"featureGates", c.featureGates},
      {"memoryThrottlingFactor", c.memoryThrottlingFactor},
      {"registerWithTaints", taintsJson(c.registerWithTaints)},
      {"registerNode", c.registerNode},
      {"seccompDefault", c.seccompDefault},
      {"shutdownGracePeriod", formatDuration(c.shutdownGracePeriod)},
      {"shutdownGracePeriodCriticalPods", formatDuration(c.shutdownGracePeriodCriticalPods)},
      {"crashLoopBackOff", {{"maxContainerRestartPeriod", formatDuration(c.crashLoopBackOffMax)}}},
      {"containerRuntimeEndpoint", c.containerRuntimeEndpoint},
      {"imageServiceEndpoint", c.imageServiceEndpoint},
      {"logging", {{"verbosity", c.verbosity}}},
  };
  if (!c.providerID.empty()) k["providerID"] = c.providerID;
  return {{"kubeletconfig", std::move(k)}};
}

}  // namespace agent::config

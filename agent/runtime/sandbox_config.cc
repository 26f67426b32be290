#include "agent/runtime/sandbox_config.h"

#include <set>

#include "agent/cm/pod_resources.h"
#include "agent/pods/sysctls.h"
#include "agent/runtime/labels.h"
#include "agent/runtime/security_context.h"
#include "core/log.h"

namespace agent::runtime {

std::string podLogDir(const std::string& podLogsDir, const api::Pod& pod) {
  return podLogsDir + "/" + pod.metadata.namespace_ + "_" + pod.metadata.name + "_" +
         pod.metadata.uid;
}

std::string formatPod(const api::Pod& pod) {
  return pod.metadata.name + "_" + pod.metadata.namespace_ + "(" + pod.metadata.uid + ")";
}

::runtime::v1::Protocol toCriProtocol(const std::string& protocol) {
  if (protocol == "UDP") return ::runtime::v1::UDP;
  if (protocol == "SCTP") return ::runtime::v1::SCTP;
  return ::runtime::v1::TCP;
}

void setNamespaceOptions(const api::Pod& pod, ::runtime::v1::NamespaceOption* ns) {
  ns->set_network(pod.spec.hostNetwork ? ::runtime::v1::NODE : ::runtime::v1::POD);
  ns->set_pid(pod.spec.hostPID                                 ? ::runtime::v1::NODE
              : pod.spec.shareProcessNamespace.value_or(false) ? ::runtime::v1::POD
                                                               : ::runtime::v1::CONTAINER);
  ns->set_ipc(pod.spec.hostIPC ? ::runtime::v1::NODE : ::runtime::v1::POD);
}

absl::StatusOr<network::PodHostname> podHostname(const api::Pod& pod, const RuntimeOptions& opts) {
  return network::podHostnameAndDomain(pod.metadata.name, pod.metadata.namespace_,
                                       pod.spec.hostname, pod.spec.subdomain, opts.clusterDomain);
}

std::vector<::runtime::v1::PortMapping> makePortMappings(const api::Container& c) {
  std::vector<::runtime::v1::PortMapping> out;
  std::set<std::string> names;
  for (const auto& p : c.ports) {
    // The family keeps the same port on IPv4 and IPv6 host IPs apart (kubernetes#82373).
    std::string family = "any";
    if (!p.hostIP.empty()) family = p.hostIP.find(':') != std::string::npos ? "v6" : "v4";
    std::string name = p.name;
    if (name.empty()) {
      name = family + "-" + p.protocol + "-" + p.hostIP + ":" + std::to_string(p.containerPort) +
             ":" + std::to_string(p.hostPort);
    }
    if (!names.insert(name).second) {
      LOG_INFO << "Port name conflicted, it is defined more than once: container " << c.name
               << ", port " << name;
      continue;
    }
    ::runtime::v1::PortMapping pm;
    pm.set_protocol(toCriProtocol(p.protocol));
    pm.set_container_port(p.containerPort);
    pm.set_host_port(p.hostPort);
    pm.set_host_ip(p.hostIP);
    out.push_back(std::move(pm));
  }
  return out;
}

absl::StatusOr<::runtime::v1::PodSandboxConfig> makeSandboxConfig(
    const api::Pod& pod, uint32_t attempt, const RuntimeOptions& opts,
    std::vector<network::DnsWarning>* dnsWarnings) {
  ::runtime::v1::PodSandboxConfig c;
  auto* md = c.mutable_metadata();
  md->set_name(pod.metadata.name);
  md->set_uid(pod.metadata.uid);
  md->set_namespace_(pod.metadata.namespace_);
  md->set_attempt(attempt);

  network::PodDnsInput dnsIn;
  dnsIn.dnsPolicy = pod.spec.dnsPolicy;
  dnsIn.hostNetwork = pod.spec.hostNetwork;
  dnsIn.podNamespace = pod.metadata.namespace_;
  dnsIn.podFullName = formatPod(pod);
  dnsIn.clusterDNS = opts.clusterDNS;
  dnsIn.clusterDomain = opts.clusterDomain;
  dnsIn.host = opts.hostResolvConf;
  if (pod.spec.dnsConfig) {
    dnsIn.hasDnsConfig = true;
    dnsIn.configNameservers = pod.spec.dnsConfig->nameservers;
    dnsIn.configSearches = pod.spec.dnsConfig->searches;
    for (const auto& o : pod.spec.dnsConfig->options)
      dnsIn.configOptions.emplace_back(o.name, o.value);
  }
  network::PodDns dns = network::computePodDns(dnsIn);
  if (dnsWarnings)
    dnsWarnings->insert(dnsWarnings->end(), dns.warnings.begin(), dns.warnings.end());
  auto* dc = c.mutable_dns_config();
  for (const auto& s : dns.conf.nameservers) dc->add_servers(s);
  for (const auto& s : dns.conf.searches) dc->add_searches(s);
  for (const auto& s : dns.conf.options) dc->add_options(s);

  // Host-network pods share the node's UTS namespace, so they get no hostname
  // of their own (runc refuses to set one).
  if (!pod.spec.hostNetwork) {
    auto h = podHostname(pod, opts);
    if (!h.ok()) return h.status();
    auto kernel = network::kernelHostname(*h, pod.spec.setHostnameAsFQDN.value_or(false));
    if (!kernel.ok()) return kernel.status();
    c.set_hostname(*kernel);
  }
  c.set_log_directory(podLogDir(opts.podLogsDir, pod));

  // App containers only, as the kubelet: init containers' ports are not mapped.
  for (const auto& ctr : pod.spec.containers) {
    for (auto& pm : makePortMappings(ctr)) *c.add_port_mappings() = std::move(pm);
  }

  PodIdentity id{pod.metadata.name, pod.metadata.namespace_, pod.metadata.uid};
  for (const auto& [k, v] : sandboxLabels(id, pod.metadata.labels)) (*c.mutable_labels())[k] = v;
  for (const auto& [k, v] : pod.metadata.annotations) (*c.mutable_annotations())[k] = v;

  auto* lx = c.mutable_linux();
  std::string parent = opts.podCgroupParent ? opts.podCgroupParent(pod) : opts.cgroupParent;
  if (!parent.empty()) lx->set_cgroup_parent(parent);
  // The kubelet's applySandboxResources: the pod's requests and limits without
  // overhead, and the overhead itself.
  *lx->mutable_resources() = cm::sandboxLinuxResources(pod, opts.resources);
  *lx->mutable_overhead() = cm::sandboxOverheadResources(pod, opts.resources);
  // The pod's sysctls, in the dotted form runc checks namespaces by.
  if (pod.spec.securityContext) {
    for (const auto& sc : pod.spec.securityContext->sysctls) {
      (*lx->mutable_sysctls())[pods::sysctlToDots(sc.name)] = sc.value;
    }
  }
  setNamespaceOptions(pod, lx->mutable_security_context()->mutable_namespace_options());
  // The kubelet's generatePodSandboxLinuxConfig security context (security_context.h).
  if (absl::Status s = setSandboxSecurityContext(pod, lx->mutable_security_context()); !s.ok())
    return s;
  return c;
}

}  // namespace agent::runtime

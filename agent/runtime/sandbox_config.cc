#include "agent/runtime/sandbox_config.h"

#include "agent/runtime/labels.h"

namespace agent::runtime {

std::string podLogDir(const std::string& podLogsDir, const api::Pod& pod) {
  return podLogsDir + "/" + pod.metadata.namespace_ + "_" + pod.metadata.name + "_" +
         pod.metadata.uid;
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

::runtime::v1::PodSandboxConfig makeSandboxConfig(const api::Pod& pod, uint32_t attempt,
                                                  const RuntimeOptions& opts,
                                                  std::vector<std::string>* warnings) {
  ::runtime::v1::PodSandboxConfig c;
  auto* md = c.mutable_metadata();
  md->set_name(pod.metadata.name);
  md->set_uid(pod.metadata.uid);
  md->set_namespace_(pod.metadata.namespace_);
  md->set_attempt(attempt);

  // Host-network pods share the node's UTS namespace, so they get no hostname
  // of their own (runc refuses to set one); others get theirs or the pod name.
  if (!pod.spec.hostNetwork) {
    c.set_hostname(pod.spec.hostname.empty() ? pod.metadata.name : pod.spec.hostname);
  }
  c.set_log_directory(podLogDir(opts.podLogsDir, pod));

  network::PodDnsInput dnsIn;
  dnsIn.dnsPolicy = pod.spec.dnsPolicy;
  dnsIn.hostNetwork = pod.spec.hostNetwork;
  dnsIn.podNamespace = pod.metadata.namespace_;
  dnsIn.clusterDNS = opts.clusterDNS;
  dnsIn.clusterDomain = opts.clusterDomain;
  dnsIn.host = opts.hostResolvConf;
  if (pod.spec.dnsConfig) {
    dnsIn.configNameservers = pod.spec.dnsConfig->nameservers;
    dnsIn.configSearches = pod.spec.dnsConfig->searches;
    for (const auto& o : pod.spec.dnsConfig->options) {
      dnsIn.configOptions.emplace_back(o.name, o.value.value_or(""));
    }
  }
  network::PodDns dns = network::computePodDns(dnsIn);
  if (warnings) warnings->insert(warnings->end(), dns.warnings.begin(), dns.warnings.end());
  auto* dc = c.mutable_dns_config();
  for (const auto& s : dns.conf.nameservers) dc->add_servers(s);
  for (const auto& s : dns.conf.searches) dc->add_searches(s);
  for (const auto& s : dns.conf.options) dc->add_options(s);

  for (const auto& ctr : pod.spec.containers) {
    for (const auto& p : ctr.ports) {
      if (p.hostPort == 0) continue;
      auto* pm = c.add_port_mappings();
      pm->set_protocol(toCriProtocol(p.protocol));
      pm->set_container_port(p.containerPort);
      pm->set_host_port(p.hostPort);
      pm->set_host_ip(p.hostIP);
    }
  }

  PodIdentity id{pod.metadata.name, pod.metadata.namespace_, pod.metadata.uid};
  for (const auto& [k, v] : sandboxLabels(id, pod.metadata.labels)) (*c.mutable_labels())[k] = v;
  for (const auto& [k, v] : pod.metadata.annotations) (*c.mutable_annotations())[k] = v;

  auto* lx = c.mutable_linux();
  if (!opts.cgroupParent.empty()) lx->set_cgroup_parent(opts.cgroupParent);
  setNamespaceOptions(pod, lx->mutable_security_context()->mutable_namespace_options());
  return c;
}

}  // namespace agent::runtime

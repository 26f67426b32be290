#include "network/dns.h"

#include <algorithm>
#include <sstream>

namespace network {
namespace {

void appendUnique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
  }
}

std::string optionName(const std::string& opt) { return opt.substr(0, opt.find(':')); }

}  // namespace

ResolvConf parseResolvConf(std::string_view content) {
  ResolvConf rc;
  std::istringstream in{std::string(content)};
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find_first_of("#;");
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string key;
    if (!(words >> key)) continue;
    std::string v;
    if (key == "nameserver") {
      if (words >> v) rc.nameservers.push_back(v);
    } else if (key == "search" || key == "domain") {
      // The last "search" or "domain" line wins, as in the resolver.
      rc.searches.clear();
      while (words >> v) rc.searches.push_back(v);
    } else if (key == "options") {
      while (words >> v) rc.options.push_back(v);
    }
  }
  return rc;
}

PodDns computePodDns(const PodDnsInput& in) {
  PodDns out;
  std::string policy = in.dnsPolicy;
  if (policy == "ClusterFirst" && in.hostNetwork) policy = "Default";
  if (policy == "ClusterFirstWithHostNet") policy = "ClusterFirst";
  if (policy == "ClusterFirst" && in.clusterDNS.empty()) {
    out.warnings.push_back(
        "MissingClusterDNS: pod has dnsPolicy ClusterFirst but no cluster DNS is configured; "
        "falling back to the Default policy");
    policy = "Default";
  }
  if (policy == "ClusterFirst") {
    out.conf.nameservers = in.clusterDNS;
    if (!in.clusterDomain.empty()) {
      out.conf.searches = {in.podNamespace + ".svc." + in.clusterDomain, "svc." + in.clusterDomain,
                           in.clusterDomain};
    }
    appendUnique(out.conf.searches, in.host.searches);
    out.conf.options = {"ndots:5"};
  } else if (policy == "Default") {
    out.conf = in.host;
  }
  // dnsConfig is merged onto whatever the policy produced ("None" starts empty).
  appendUnique(out.conf.nameservers, in.configNameservers);
  appendUnique(out.conf.searches, in.configSearches);
  for (const auto& [name, value] : in.configOptions) {
    std::string opt = value.empty() ? name : name + ":" + value;
    auto it = std::find_if(out.conf.options.begin(), out.conf.options.end(),
                           [&](const std::string& o) { return optionName(o) == name; });
    if (it != out.conf.options.end()) {
      *it = opt;
    } else {
      out.conf.options.push_back(opt);
    }
  }
  return out;
}

}  // namespace network

#include "network/dns.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_join.h"
#include "core/log.h"

namespace network {
namespace {

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

// omitDuplicates: first occurrence wins, order kept.
std::vector<std::string> omitDuplicates(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// mergeDNSOptions: options are keyed by name (the part before the first ':'); the
// pod's dnsConfig value replaces an existing one and an empty value means the bare
// name. The kubelet rebuilds the list from a Go map (random order); we keep the
// existing order, replace in place and append new names, so equal inputs give
// byte-equal resolv.conf files.
std::vector<std::string> mergeDnsOptions(
    const std::vector<std::string>& existing,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& config) {
  std::vector<std::pair<std::string, std::string>> merged;
  auto set = [&](const std::string& name, const std::string& value) {
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const auto& kv) { return kv.first == name; });
    if (it != merged.end()) {
      it->second = value;
    } else {
      merged.emplace_back(name, value);
    }
  };
  for (const auto& op : existing) {
    size_t colon = op.find(':');
    if (colon == std::string::npos) {
      set(op, "");
    } else {
      set(op.substr(0, colon), op.substr(colon + 1));
    }
  }
  for (const auto& [name, value] : config) set(name, value.value_or(""));
  std::vector<std::string> out;
  for (const auto& [name, value] : merged) out.push_back(value.empty() ? name : name + ":" + value);
  return out;
}

// formDNSNameserversFitsLimits.
std::vector<std::string> nameserversFitLimits(std::vector<std::string> servers,
                                              std::vector<DnsWarning>& warnings) {
  if (servers.size() > kMaxDnsNameservers) {
    servers.resize(kMaxDnsNameservers);
    warnings.push_back({"DNSConfigForming",
                        "Nameserver limits were exceeded, some nameservers have been omitted, the "
                        "applied nameserver line is: " +
                            absl::StrJoin(servers, " ")});
  }
  return servers;
}

// formDNSSearchFitsLimits: at most 32 paths, none longer than 253 characters (glibc
// 2.28 aborts on those), and the joined line at most 2048 characters, cut from the end.
std::vector<std::string> searchesFitLimits(std::vector<std::string> searches,
                                           std::vector<DnsWarning>& warnings) {
  bool exceeded = false;
  if (searches.size() > kMaxDnsSearchPaths) {
    searches.resize(kMaxDnsSearchPaths);
    exceeded = true;
  }
  auto tooLong = [](const std::string& s) { return s.size() > kMaxDnsSearchDomainLength; };
  if (std::any_of(searches.begin(), searches.end(), tooLong)) {
    std::erase_if(searches, tooLong);
    exceeded = true;
  }
  size_t lineLen = absl::StrJoin(searches, " ").size();
  if (lineLen > kMaxDnsSearchListChars) {
    size_t cutLen = 0;
    size_t cutNum = 0;
    for (size_t i = searches.size(); i-- > 0;) {
      cutLen += searches[i].size() + 1;
      ++cutNum;
      if (lineLen - std::min(lineLen, cutLen) <= kMaxDnsSearchListChars) break;
    }
    searches.resize(searches.size() - cutNum);
    exceeded = true;
  }
  if (exceeded) {
    warnings.push_back({"DNSConfigForming",
                        "Search Line limits were exceeded, some search paths have been omitted, "
                        "the applied search line is: " +
                            absl::StrJoin(searches, " ")});
  }
  return searches;
}

// Go's %q for the pod name in the MissingClusterDNS event: a double-quoted string
// with '"' and '\' escaped (pod names hold no other characters that need it).
std::string goQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

enum class PodDnsType { kCluster, kHost, kNone };

// getPodDNSType.
PodDnsType podDnsType(const PodDnsInput& in) {
  if (in.dnsPolicy == "None") return PodDnsType::kNone;
  if (in.dnsPolicy == "ClusterFirstWithHostNet") return PodDnsType::kCluster;
  if (in.dnsPolicy == "ClusterFirst") {
    // A host-network pod with ClusterFirst gets the host's DNS.
    return in.hostNetwork ? PodDnsType::kHost : PodDnsType::kCluster;
  }
  if (in.dnsPolicy == "Default") return PodDnsType::kHost;
  // The API server rejects other values; the kubelet logs and treats them as ClusterFirst.
  LOG_ERROR << "Failed to get DNS type for pod " << in.podFullName
            << ": invalid DNSPolicy=" << in.dnsPolicy
            << ". Falling back to DNSClusterFirst policy.";
  return PodDnsType::kCluster;
}

}  // namespace

ResolvConf parseResolvConf(std::string_view content) {
  ResolvConf rc;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    std::vector<std::string> f = fields(content.substr(pos, nl - pos));
    pos = nl + 1;
    // Only lines starting with '#' are comments to the kubelet (not ';', and not
    // a '#' after the first word); "domain" lines are ignored.
    if (f.empty() || f[0].front() == '#') continue;
    if (f[0] == "nameserver") {
      if (f.size() >= 2) rc.nameservers.push_back(f[1]);
    } else if (f[0] == "search") {
      // The last line wins. Trailing dots are trimmed so "a.example." and
      // "a.example" count once against the limits; a lone "." stays as is.
      rc.searches.clear();
      for (size_t i = 1; i < f.size(); ++i) {
        std::string s = f[i];
        if (s != "." && s.back() == '.') s.pop_back();
        rc.searches.push_back(s);
      }
    } else if (f[0] == "options") {
      rc.options.assign(f.begin() + 1, f.end());  // the last line wins
    }
  }
  return rc;
}

PodDns computePodDns(const PodDnsInput& in) {
  PodDns out;
  ResolvConf conf = in.host;
  PodDnsType type = podDnsType(in);
  if (type == PodDnsType::kNone) {
    conf = {};
  } else if (type == PodDnsType::kCluster && !in.clusterDNS.empty()) {
    // The cluster DNS server is the pod's only nameserver; it forwards what it
    // cannot answer itself.
    conf.nameservers = in.clusterDNS;
    if (!in.clusterDomain.empty()) {
      conf.searches = omitDuplicates(concat({in.podNamespace + ".svc." + in.clusterDomain,
                                             "svc." + in.clusterDomain, in.clusterDomain},
                                            in.host.searches));
    }
    conf.options = {"ndots:5"};
  } else if (type == PodDnsType::kCluster) {
    // No cluster DNS configured: the kubelet warns (on the node and the pod) and
    // falls back to the host's settings.
    out.warnings.push_back(
        {"MissingClusterDNS",
         "pod: " + goQuote(in.podFullName) +
             ". kubelet does not have ClusterDNS IP configured and cannot create Pod using "
             "\"ClusterFirst\" policy. Falling back to \"Default\" policy."});
  }
  if (in.hasDnsConfig) {
    conf.nameservers = omitDuplicates(concat(conf.nameservers, in.configNameservers));
    conf.searches = omitDuplicates(concat(conf.searches, in.configSearches));
    conf.options = mergeDnsOptions(conf.options, in.configOptions);
  }
  conf.nameservers = nameserversFitLimits(std::move(conf.nameservers), out.warnings);
  conf.searches = searchesFitLimits(std::move(conf.searches), out.warnings);
  out.conf = std::move(conf);
  return out;
}

// containerd 1.6's parseDNSOptions (pkg/cri/server/sandbox_run_linux.go): search,
// then one nameserver line each, then options. An empty config gives "", for which
// containerd copies the host's /etc/resolv.conf instead.
std::string formatResolvConf(const ResolvConf& conf) {
  std::string out;
  if (!conf.searches.empty()) out += "search " + absl::StrJoin(conf.searches, " ") + "\n";
  for (const auto& ns : conf.nameservers) out += "nameserver " + ns + "\n";
  if (!conf.options.empty()) out += "options " + absl::StrJoin(conf.options, " ") + "\n";
  return out;
}

}  // namespace network

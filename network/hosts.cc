#include "network/hosts.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log.h"

namespace network {
namespace {

constexpr char kManagedHostsHeader[] = "# Kubernetes-managed hosts file.\n";
constexpr char kManagedHostsHeaderWithHostNetwork[] =
    "# Kubernetes-managed hosts file (host network).\n";

// truncatePodHostnameIfNeeded: the kernel's nodename holds 64 bytes with the NUL.
constexpr size_t kHostnameMaxLen = 63;
// GetNodenameForKernel.
constexpr size_t kFqdnMaxLen = 64;

constexpr size_t kDns1123LabelMaxLength = 63;
constexpr char kDns1123LabelFmt[] = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr char kDns1123LabelErrMsg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character";

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool matchesLabel(std::string_view v) {
  if (v.empty() || !isAlnum(v.front()) || !isAlnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return isAlnum(c) || c == '-'; });
}

// label(\.label)*
bool matchesSubdomain(std::string_view v) {
  size_t start = 0;
  while (true) {
    size_t dot = v.find('.', start);
    if (!matchesLabel(v.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// apimachinery's validation.IsDNS1123Label, with its messages.
std::vector<std::string> isDns1123Label(std::string_view v) {
  std::vector<std::string> errs;
  if (v.size() > kDns1123LabelMaxLength) {
    errs.push_back(absl::StrCat("must be no more than ", kDns1123LabelMaxLength, " characters"));
  }
  if (!matchesLabel(v)) {
    if (matchesSubdomain(v)) {
      // A valid subdomain but not a label: the length was checked, so it is the dots.
      errs.push_back("must not contain dots");
    } else {
      // RegexError(msg, fmt, "my-name", "123-abc"): the double space is upstream's.
      errs.push_back(absl::StrCat(kDns1123LabelErrMsg,
                                  " (e.g. 'my-name',  or '123-abc', regex used for validation is '",
                                  kDns1123LabelFmt, "')"));
    }
  }
  return errs;
}

// hostsEntriesFromHostAliases: one line per alias IP with all its hostnames.
std::string hostAliasesBlock(const std::vector<HostAliasEntry>& aliases) {
  if (aliases.empty()) return "";
  std::string out = "\n# Entries added by HostAliases.\n";
  for (const auto& a : aliases) {
    absl::StrAppend(&out, a.ip, "\t", absl::StrJoin(a.hostnames, "\t"), "\n");
  }
  return out;
}

}  // namespace

std::string managedHostsFile(const std::vector<std::string>& podIPs, const std::string& hostname,
                             const std::string& hostDomain,
                             const std::vector<HostAliasEntry>& aliases) {
  std::string out = kManagedHostsHeader;
  out +=
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  for (const auto& ip : podIPs) {
    if (hostDomain.empty()) {
      absl::StrAppend(&out, ip, "\t", hostname, "\n");
    } else {
      absl::StrAppend(&out, ip, "\t", hostname, ".", hostDomain, "\t", hostname, "\n");
    }
  }
  return out + hostAliasesBlock(aliases);
}

std::string hostNetworkHostsFile(std::string_view nodeHostsFile,
                                 const std::vector<HostAliasEntry>& aliases) {
  std::string out = kManagedHostsHeaderWithHostNetwork;
  out.append(nodeHostsFile);
  return out + hostAliasesBlock(aliases);
}

absl::StatusOr<PodHostname> podHostnameAndDomain(const std::string& podName,
                                                 const std::string& podNamespace,
                                                 const std::string& specHostname,
                                                 const std::string& specSubdomain,
                                                 const std::string& clusterDomain) {
  PodHostname h;
  h.hostname = podName;
  if (!specHostname.empty()) {
    if (auto msgs = isDns1123Label(specHostname); !msgs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pod Hostname \"", specHostname,
                       "\" is not a valid DNS label: ", absl::StrJoin(msgs, ";")));
    }
    h.hostname = specHostname;
  }
  if (h.hostname.size() > kHostnameMaxLen) {
    std::string truncated = h.hostname.substr(0, kHostnameMaxLen);
    LOG_ERROR << "Hostname for pod was too long, truncated it podName=\"" << podName
              << "\" hostnameMaxLen=" << kHostnameMaxLen << " truncatedHostname=\"" << truncated
              << "\"";
    // A hostname must not end with '-' or '.'.
    size_t end = truncated.find_last_not_of("-.");
    if (end == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("hostname for pod \"", podName, "\" was invalid: \"", h.hostname, "\""));
    }
    h.hostname = truncated.substr(0, end + 1);
  }
  if (!specSubdomain.empty()) {
    if (auto msgs = isDns1123Label(specSubdomain); !msgs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pod Subdomain \"", specSubdomain,
                       "\" is not a valid DNS label: ", absl::StrJoin(msgs, ";")));
    }
    h.domain = absl::StrCat(specSubdomain, ".", podNamespace, ".svc.", clusterDomain);
  }
  return h;
}

absl::StatusOr<std::string> kernelHostname(const PodHostname& h, bool setHostnameAsFQDN) {
  if (h.domain.empty() || !setHostnameAsFQDN) return h.hostname;
  std::string fqdn = absl::StrCat(h.hostname, ".", h.domain);
  if (fqdn.size() > kFqdnMaxLen) {
    return absl::InvalidArgumentError(
        absl::StrCat("failed to construct FQDN from pod hostname and cluster domain, FQDN ", fqdn,
                     " is too long (", kFqdnMaxLen, " characters is the max, ", fqdn.size(),
                     " characters requested)"));
  }
  return fqdn;
}

}  // namespace network

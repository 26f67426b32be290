// The pod CIDR checks of cni_config.h: the host's own networks and whether the
// node's pod CIDR(s) can be used next to them.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <bit>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "network/cidr.h"
#include "network/cni_config.h"

namespace network {
namespace {

int prefixLength(const sockaddr* mask) {
  if (!mask) return -1;
  const uint8_t* bytes = nullptr;
  size_t len = 0;
  if (mask->sa_family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(mask)->sin_addr.s_addr);
    len = 4;
  } else if (mask->sa_family == AF_INET6) {
    bytes = reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr.s6_addr;
    len = 16;
  } else {
    return -1;
  }
  int n = 0;
  for (size_t i = 0; i < len; ++i) n += std::popcount(bytes[i]);
  return n;
}

bool isIpv6LinkLocal(const in6_addr& a) {
  return a.s6_addr[0] == 0xfe && (a.s6_addr[1] & 0xc0) == 0x80;  // fe80::/10
}

// How the error names the value: API field paths get the index
// (`spec.podCIDRs[1]`), flags (`--pod-cidr`) do not.
std::string fieldName(const std::string& field, size_t i) {
  if (field.starts_with("-")) return field;
  return absl::StrCat(field, "[", i, "]");
}

}  // namespace

std::vector<HostNetwork> hostNetworks() {
  std::vector<HostNetwork> out;
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) return out;
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> list(raw, freeifaddrs);
  for (ifaddrs* ifa = raw; ifa; ifa = ifa->ifa_next) {
    if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK)) continue;
    char buf[INET6_ADDRSTRLEN];
    const int family = ifa->ifa_addr->sa_family;
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
      if (!inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf))) continue;
    } else if (family == AF_INET6) {
      auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      // Every IPv6 interface has an fe80::/10 address; pods never use that range.
      if (isIpv6LinkLocal(sin6->sin6_addr)) continue;
      if (!inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf))) continue;
    } else {
      continue;
    }
    int prefix = prefixLength(ifa->ifa_netmask);
    if (prefix < 0) continue;
    out.push_back({ifa->ifa_name, absl::StrCat(buf, "/", prefix)});
  }
  return out;
}

// Pod CIDRs are read as the kubelet and the API server read them (ParseCIDRSloppy):
// host bits may be set, and "10.244.1.5/24" means the network 10.244.1.0/24, which
// is what bridgeConflist hands to host-local (it rejects host bits).
absl::Status validatePodCidrs(const std::vector<std::string>& cidrs,
                              const std::vector<HostNetwork>& host, const std::string& bridge,
                              const std::string& field) {
  bool seen[2] = {false, false};  // IPv4, IPv6
  for (size_t i = 0; i < cidrs.size(); ++i) {
    std::string name = absl::StrCat(fieldName(field, i), " \"", cidrs[i], "\"");
    std::optional<Cidr> c = parseCidr(cidrs[i]);
    if (!c) return absl::InvalidArgumentError(name + ": not a valid CIDR");
    bool& familySeen = seen[c->isIpv6() ? 1 : 0];
    if (familySeen) {
      return absl::InvalidArgumentError(name +
                                        ": may specify no more than one CIDR for each IP family");
    }
    familySeen = true;
    for (const auto& h : host) {
      if (h.interface == bridge) continue;  // our own bridge carries the pod CIDR's gateway
      std::optional<Cidr> hc = parseCidr(h.cidr);
      if (hc && hc->overlaps(*c)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": overlaps ", h.cidr, " on ", h.interface));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace network

#include "agent/node/node_ip.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace agent::node {
namespace {

// The interface of the IPv4 default route, from /proc/net/route.
std::string defaultRouteInterface() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest;
    if (f >> iface >> dest && dest == "00000000") return iface;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::string> detectNodeIP() {
  struct ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) return absl::InternalError("getifaddrs failed");
  std::unique_ptr<struct ifaddrs, void (*)(struct ifaddrs*)> addrs(raw, ::freeifaddrs);
  std::string routeIface = defaultRouteInterface();
  std::string first, loopback;
  for (auto* a = addrs.get(); a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP)) continue;
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    if (a->ifa_flags & IFF_LOOPBACK) {
      if (loopback.empty()) loopback = buf;
      continue;
    }
    if (!routeIface.empty() && routeIface == a->ifa_name) return std::string(buf);
    if (first.empty()) first = buf;
  }
  if (!first.empty()) return first;
  if (!loopback.empty()) return loopback;
  return absl::NotFoundError("no IPv4 address found on any interface; set --node-ip");
}

}  // namespace agent::node

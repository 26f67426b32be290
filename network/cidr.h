// IP networks in CIDR notation ("10.244.1.0/24", "fd00::/64"), parsed with
// inet_pton: what the pod CIDR checks and the conflist's host-local ranges need
// (the family, the network with host bits cleared, and containment).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace network {

struct Cidr {
  int family = 0;                  // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};  // as given (host bits kept); 4 or 16 bytes used
  int prefix = 0;

  bool isIpv6() const;
  // True when the address has bits set past the prefix ("10.244.1.5/24").
  bool hostBitsSet() const;
  // The network, host bits cleared, in canonical text: "10.244.1.0/24", "fd00::/64".
  std::string networkString() const;
  // The address as given, with the prefix: "10.244.1.5/24".
  std::string toString() const;
  // True when `other`'s network lies within this one (same family, prefix no longer).
  bool contains(const Cidr& other) const;
  // Either contains the other.
  bool overlaps(const Cidr& other) const { return contains(other) || other.contains(*this); }
};

// Parses "<ip>/<prefix>" like the kubelet's netutils.ParseCIDRSloppy, accepting
// host bits; nullopt when `s` is not a CIDR.
std::optional<Cidr> parseCidr(std::string_view s);

}  // namespace network

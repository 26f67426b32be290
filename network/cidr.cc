#include "network/cidr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>

namespace network {
namespace {

size_t byteLen(int family) { return family == AF_INET6 ? 16 : 4; }

// `a` with the bits past `prefix` cleared.
std::array<uint8_t, 16> masked(const std::array<uint8_t, 16>& a, int family, int prefix) {
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < byteLen(family); ++i) {
    int bits = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    out[i] = a[i] & static_cast<uint8_t>(0xff00 >> bits);
  }
  return out;
}

std::string ipString(const std::array<uint8_t, 16>& a, int family) {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(family, a.data(), buf, sizeof(buf))) return "";
  return buf;
}

}  // namespace

bool Cidr::isIpv6() const { return family == AF_INET6; }

bool Cidr::hostBitsSet() const { return masked(addr, family, prefix) != addr; }

std::string Cidr::networkString() const {
  return ipString(masked(addr, family, prefix), family) + "/" + std::to_string(prefix);
}

std::string Cidr::toString() const { return ipString(addr, family) + "/" + std::to_string(prefix); }

bool Cidr::contains(const Cidr& other) const {
  return family == other.family && prefix <= other.prefix &&
         masked(addr, family, prefix) == masked(other.addr, family, prefix);
}

std::optional<Cidr> parseCidr(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string ip(s.substr(0, slash));
  std::string_view bits = s.substr(slash + 1);
  Cidr c;
  c.family = ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(c.family, ip.c_str(), c.addr.data()) != 1) return std::nullopt;
  const int maxBits = static_cast<int>(byteLen(c.family)) * 8;
  if (bits.empty() || bits.size() > 3) return std::nullopt;
  int prefix = 0;
  for (char ch : bits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    prefix = prefix * 10 + (ch - '0');
  }
  if (prefix > maxBits) return std::nullopt;
  c.prefix = prefix;
  return c;
}

}  // namespace network

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <fstream>

#include "network/cidr.h"
#include "network/cni_config.h"

namespace network {
namespace {

// --- parseCidr ---------------------------------------------------------------

struct CidrCase {
  std::string in;
  bool ok;
  bool v6 = false;
  std::string network = "";
  bool hostBits = false;
};

void PrintTo(const CidrCase& c, std::ostream* os) { *os << '"' << c.in << '"'; }

class ParseCidrTest : public ::testing::TestWithParam<CidrCase> {};

TEST_P(ParseCidrTest, Parses) {
  const CidrCase& c = GetParam();
  auto got = parseCidr(c.in);
  ASSERT_EQ(got.has_value(), c.ok) << c.in;
  if (!got) return;
  EXPECT_EQ(got->isIpv6(), c.v6);
  EXPECT_EQ(got->networkString(), c.network);
  EXPECT_EQ(got->hostBitsSet(), c.hostBits);
  EXPECT_EQ(got->toString(), c.in);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseCidrTest,
    ::testing::Values(CidrCase{"10.244.1.0/24", true, false, "10.244.1.0/24", false},
                      CidrCase{"10.244.1.5/24", true, false, "10.244.1.0/24", true},
                      CidrCase{"0.0.0.0/0", true, false, "0.0.0.0/0", false},
                      CidrCase{"192.168.1.1/32", true, false, "192.168.1.1/32", false},
                      CidrCase{"10.1.2.3/17", true, false, "10.1.0.0/17", true},
                      CidrCase{"fd00::/64", true, true, "fd00::/64", false},
                      CidrCase{"fd00::5/64", true, true, "fd00::/64", true},
                      CidrCase{"fd00:1:2:3:4::/61", true, true, "fd00:1:2::/61", true},
                      CidrCase{"::/0", true, true, "::/0", false}, CidrCase{"abc", false},
                      CidrCase{"", false}, CidrCase{"10.0.0.0", false},
                      CidrCase{"10.0.0.0/", false}, CidrCase{"10.0.0.0/33", false},
                      CidrCase{"10.0.0.0/-1", false}, CidrCase{"10.0.0.0/2a", false},
                      CidrCase{"10.0.0.256/8", false}, CidrCase{"fd00::/129", false},
                      CidrCase{"10.0.0.0/8 ", false}, CidrCase{"fd00:::/64", false}));

TEST(CidrTest, ContainsAndOverlaps) {
  auto big = *parseCidr("10.0.0.0/8");
  auto small = *parseCidr("10.1.2.3/24");
  auto other = *parseCidr("192.168.0.0/16");
  auto v6 = *parseCidr("::/0");
  EXPECT_TRUE(big.contains(small));
  EXPECT_FALSE(small.contains(big));
  EXPECT_TRUE(small.overlaps(big));
  EXPECT_FALSE(big.overlaps(other));
  EXPECT_FALSE(v6.overlaps(big));  // different families never overlap
  EXPECT_TRUE(v6.contains(*parseCidr("fd00::/64")));
}

// --- validatePodCidrs --------------------------------------------------------

const std::vector<HostNetwork> kHost = {{"eth0", "10.1.2.3/24"},
                                        {"eth1", "fd00:aaaa::10/64"},
                                        {"cubelet0", "10.244.1.1/24"},
                                        {"docker0", "172.17.0.1/16"}};

struct ValidateCase {
  std::string name;
  std::vector<std::string> cidrs;
  std::string field;
  std::string wantError;  // "" = valid
};

void PrintTo(const ValidateCase& c, std::ostream* os) { *os << c.name; }

class ValidatePodCidrsTest : public ::testing::TestWithParam<ValidateCase> {};

TEST_P(ValidatePodCidrsTest, Checks) {
  const ValidateCase& c = GetParam();
  absl::Status s = validatePodCidrs(c.cidrs, kHost, "cubelet0", c.field);
  if (c.wantError.empty()) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), c.wantError);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidatePodCidrsTest,
    ::testing::Values(
        ValidateCase{"NoneGiven", {}, "spec.podCIDRs", ""},
        ValidateCase{"Ipv4", {"10.244.2.0/24"}, "spec.podCIDRs", ""},
        ValidateCase{"DualStack", {"10.244.2.0/24", "fd00:10:244::/64"}, "spec.podCIDRs", ""},
        ValidateCase{"HostBitsAccepted", {"10.244.2.5/24"}, "--pod-cidr", ""},
        // Our own bridge carries the old gateway; it is not a conflict.
        ValidateCase{"OwnBridgeExcluded", {"10.244.0.0/16"}, "spec.podCIDRs", ""},
        ValidateCase{"Malformed", {"abc"}, "--pod-cidr", "--pod-cidr \"abc\": not a valid CIDR"},
        ValidateCase{"Empty",
                     {"10.244.2.0/24", ""},
                     "spec.podCIDRs",
                     "spec.podCIDRs[1] \"\": not a valid CIDR"},
        ValidateCase{"TwoIpv4",
                     {"10.244.2.0/24", "10.245.0.0/24"},
                     "spec.podCIDRs",
                     "spec.podCIDRs[1] \"10.245.0.0/24\": may specify no more than one CIDR for "
                     "each IP family"},
        ValidateCase{"TwoIpv6",
                     {"fd01::/64", "10.244.2.0/24", "fd02::/64"},
                     "--pod-cidr",
                     "--pod-cidr \"fd02::/64\": may specify no more than one CIDR for each IP "
                     "family"},
        ValidateCase{"PodCidrContainsHostNetwork",
                     {"fd00:bbbb::/64", "10.0.0.0/8"},
                     "spec.podCIDRs",
                     "spec.podCIDRs[1] \"10.0.0.0/8\": overlaps 10.1.2.3/24 on eth0"},
        ValidateCase{"HostNetworkContainsPodCidr",
                     {"172.17.5.0/24"},
                     "spec.podCIDRs",
                     "spec.podCIDRs[0] \"172.17.5.0/24\": overlaps 172.17.0.1/16 on docker0"},
        ValidateCase{"Ipv6Overlap",
                     {"fd00:aaaa::/48"},
                     "--pod-cidr",
                     "--pod-cidr \"fd00:aaaa::/48\": overlaps fd00:aaaa::10/64 on eth1"}),
    [](const ::testing::TestParamInfo<ValidateCase>& i) { return i.param.name; });

TEST(ValidatePodCidrsTest, OtherBridgeNameMakesOurOldBridgeAConflict) {
  absl::Status s = validatePodCidrs({"10.244.0.0/16"}, kHost, "br-other", "--pod-cidr");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "--pod-cidr \"10.244.0.0/16\": overlaps 10.244.1.1/24 on cubelet0");
}

// --- hostNetworks --------------------------------------------------------------

bool hasEntry(const std::vector<HostNetwork>& nets, const std::string& iface,
              const std::string& cidr) {
  return std::any_of(nets.begin(), nets.end(),
                     [&](const HostNetwork& h) { return h.interface == iface && h.cidr == cidr; });
}

// The IPv6 addresses the kernel lists in /proc/net/if_inet6 (another source than
// getifaddrs): every global one outside lo must be there, with its prefix.
TEST(HostNetworksTest, MatchesProcIfInet6) {
  std::vector<HostNetwork> nets = hostNetworks();
  std::ifstream in("/proc/net/if_inet6");
  std::string hex, index, prefixHex, scope, flags, iface;
  while (in >> hex >> index >> prefixHex >> scope >> flags >> iface) {
    if (iface == "lo" || hex.starts_with("fe8")) continue;
    in6_addr a;
    for (int i = 0; i < 16; ++i) a.s6_addr[i] = std::stoi(hex.substr(i * 2, 2), nullptr, 16);
    char buf[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, &a, buf, sizeof(buf)), nullptr);
    std::string want = std::string(buf) + "/" + std::to_string(std::stoi(prefixHex, nullptr, 16));
    EXPECT_TRUE(hasEntry(nets, iface, want)) << iface << " " << want;
  }
}

// The IPv4 addresses SIOCGIFCONF reports, with SIOCGIFNETMASK's prefix.
TEST(HostNetworksTest, MatchesSiocgifconf) {
  std::vector<HostNetwork> nets = hostNetworks();
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  std::vector<ifreq> reqs(64);
  ifconf conf{};
  conf.ifc_len = static_cast<int>(reqs.size() * sizeof(ifreq));
  conf.ifc_req = reqs.data();
  ASSERT_EQ(::ioctl(fd, SIOCGIFCONF, &conf), 0);
  size_t checked = 0;
  for (size_t i = 0; i < conf.ifc_len / sizeof(ifreq); ++i) {
    ifreq r = reqs[i];
    std::string name = r.ifr_name;
    auto* sin = reinterpret_cast<sockaddr_in*>(&r.ifr_addr);
    char buf[INET_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)), nullptr);
    ifreq m{};
    std::snprintf(m.ifr_name, sizeof(m.ifr_name), "%s", name.c_str());
    ASSERT_EQ(::ioctl(fd, SIOCGIFNETMASK, &m), 0);
    int prefix = std::popcount(reinterpret_cast<sockaddr_in*>(&m.ifr_netmask)->sin_addr.s_addr);
    std::string cidr = std::string(buf) + "/" + std::to_string(prefix);
    if (name.starts_with("lo")) {
      EXPECT_FALSE(hasEntry(nets, name, cidr)) << cidr;
    } else {
      EXPECT_TRUE(hasEntry(nets, name, cidr)) << name << " " << cidr;
      ++checked;
    }
  }
  ::close(fd);
  RecordProperty("ipv4_checked", static_cast<int>(checked));
}

TEST(HostNetworksTest, ThisMachineHasNoLoopbackOrLinkLocalEntries) {
  for (const HostNetwork& h : hostNetworks()) {
    EXPECT_NE(h.interface, "lo");
    auto c = parseCidr(h.cidr);
    ASSERT_TRUE(c.has_value()) << h.cidr;
    EXPECT_FALSE(c->overlaps(*parseCidr("127.0.0.0/8"))) << h.cidr;
    EXPECT_FALSE(c->overlaps(*parseCidr("::1/128"))) << h.cidr;
    EXPECT_FALSE(c->overlaps(*parseCidr("fe80::/10"))) << h.cidr;
  }
}

}  // namespace
}  // namespace network

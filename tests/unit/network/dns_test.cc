#include "network/dns.h"

#include <gtest/gtest.h>

namespace network {
namespace {

using V = std::vector<std::string>;

TEST(DnsTest, ParsesResolvConf) {
  auto rc = parseResolvConf(
      "# comment\nnameserver 10.0.0.2\nnameserver 10.0.0.3 ; trailing\nsearch a.example b.example\n"
      "options ndots:2 edns0\n");
  EXPECT_EQ(rc.nameservers, (V{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(rc.searches, (V{"a.example", "b.example"}));
  EXPECT_EQ(rc.options, (V{"ndots:2", "edns0"}));
}

TEST(DnsTest, ClusterFirst) {
  PodDnsInput in;
  in.podNamespace = "web";
  in.clusterDNS = {"10.96.0.10"};
  in.clusterDomain = "cluster.local";
  in.host.searches = {"corp.example"};
  auto out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"10.96.0.10"}));
  EXPECT_EQ(out.conf.searches,
            (V{"web.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}));
  EXPECT_EQ(out.conf.options, (V{"ndots:5"}));
  EXPECT_TRUE(out.warnings.empty());
}

TEST(DnsTest, ClusterFirstWithoutClusterDnsFallsBackToHostWithWarning) {
  PodDnsInput in;
  in.host.nameservers = {"192.0.2.1"};
  auto out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"192.0.2.1"}));
  ASSERT_EQ(out.warnings.size(), 1u);
}

TEST(DnsTest, HostNetworkClusterFirstUsesHost) {
  PodDnsInput in;
  in.hostNetwork = true;
  in.clusterDNS = {"10.96.0.10"};
  in.host.nameservers = {"192.0.2.1"};
  EXPECT_EQ(computePodDns(in).conf.nameservers, (V{"192.0.2.1"}));
  in.dnsPolicy = "ClusterFirstWithHostNet";
  EXPECT_EQ(computePodDns(in).conf.nameservers, (V{"10.96.0.10"}));
}

TEST(DnsTest, NoneWithDnsConfigMerges) {
  PodDnsInput in;
  in.dnsPolicy = "None";
  in.host.nameservers = {"192.0.2.1"};
  in.configNameservers = {"1.2.3.4"};
  in.configSearches = {"ns1.svc.example"};
  in.configOptions = {{"ndots", "2"}, {"edns0", ""}};
  auto out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"1.2.3.4"}));
  EXPECT_EQ(out.conf.searches, (V{"ns1.svc.example"}));
  EXPECT_EQ(out.conf.options, (V{"ndots:2", "edns0"}));
}

TEST(DnsTest, DnsConfigOptionOverridesPolicyOption) {
  PodDnsInput in;
  in.clusterDNS = {"10.96.0.10"};
  in.clusterDomain = "cluster.local";
  in.configOptions = {{"ndots", "1"}};
  EXPECT_EQ(computePodDns(in).conf.options, (V{"ndots:1"}));
}

}  // namespace
}  // namespace network

#include "network/dns.h"

#include <gtest/gtest.h>

namespace network {
namespace {

using V = std::vector<std::string>;

// --- parseResolvConf --------------------------------------------------------

struct ParseCase {
  std::string name;
  std::string content;
  V nameservers;
  V searches;
  V options;
};

void PrintTo(const ParseCase& c, std::ostream* os) { *os << c.name; }

class ParseResolvConfTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseResolvConfTest, ParsesAsTheKubelet) {
  const ParseCase& c = GetParam();
  ResolvConf rc = parseResolvConf(c.content);
  EXPECT_EQ(rc.nameservers, c.nameservers);
  EXPECT_EQ(rc.searches, c.searches);
  EXPECT_EQ(rc.options, c.options);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseResolvConfTest,
    ::testing::Values(
        ParseCase{"Empty", "", {}, {}, {}},
        ParseCase{"Typical",
                  "# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n"
                  "search a.example b.example\noptions ndots:2 edns0\n",
                  {"10.0.0.2", "10.0.0.3"},
                  {"a.example", "b.example"},
                  {"ndots:2", "edns0"}},
        // Only the first word after "nameserver" counts; a bare keyword adds nothing.
        ParseCase{"NameserverExtraFieldsAndBare",
                  "nameserver 10.0.0.2 # trailing\nnameserver\n",
                  {"10.0.0.2"},
                  {},
                  {}},
        ParseCase{"LastSearchAndOptionsLineWins",
                  "search one.example\noptions a\nsearch two.example three.example\noptions b c\n",
                  {},
                  {"two.example", "three.example"},
                  {"b", "c"}},
        ParseCase{"TrailingDotsTrimmedLoneDotKept",
                  "search a.example. b.example .\n",
                  {},
                  {"a.example", "b.example", "."},
                  {}},
        // The kubelet ignores "domain" lines (the resolver's alternative to search).
        ParseCase{"DomainIgnored", "domain corp.example\n", {}, {}, {}},
        ParseCase{"IndentedCommentAndWhitespace",
                  "   # comment\n\tnameserver   192.0.2.1  \r\n\n  search\tx.example\r\n",
                  {"192.0.2.1"},
                  {"x.example"},
                  {}},
        // Only a leading '#' makes a comment: ';' lines and inline '#' are not
        // comments to the kubelet (the ';' line has no keyword; the '#' words stay).
        ParseCase{"SemicolonAndInlineHashNotComments",
                  "; nameserver 10.9.9.9\nsearch a.example #note\n",
                  {},
                  {"a.example", "#note"},
                  {}},
        ParseCase{"NoTrailingNewline", "nameserver 10.0.0.9", {"10.0.0.9"}, {}, {}}),
    [](const ::testing::TestParamInfo<ParseCase>& i) { return i.param.name; });

// --- computePodDns: policies -------------------------------------------------

PodDnsInput baseInput() {
  PodDnsInput in;
  in.podNamespace = "web";
  in.podFullName = "api-0_web(1234)";
  in.clusterDNS = {"10.96.0.10"};
  in.clusterDomain = "cluster.local";
  in.host.nameservers = {"192.0.2.1", "192.0.2.2"};
  in.host.searches = {"corp.example", "cluster.local"};
  in.host.options = {"ndots:1", "timeout:2"};
  return in;
}

const V kClusterSearches = {"web.svc.cluster.local", "svc.cluster.local", "cluster.local",
                            "corp.example"};
const ResolvConf kHost = {
    {"192.0.2.1", "192.0.2.2"}, {"corp.example", "cluster.local"}, {"ndots:1", "timeout:2"}};
const ResolvConf kCluster = {{"10.96.0.10"}, kClusterSearches, {"ndots:5"}};

struct PolicyCase {
  std::string name;
  std::string policy;
  bool hostNetwork;
  ResolvConf want;
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.name; }

class DnsPolicyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(DnsPolicyTest, PicksTheKubeletsBase) {
  const PolicyCase& c = GetParam();
  PodDnsInput in = baseInput();
  in.dnsPolicy = c.policy;
  in.hostNetwork = c.hostNetwork;
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, c.want.nameservers);
  EXPECT_EQ(out.conf.searches, c.want.searches);
  EXPECT_EQ(out.conf.options, c.want.options);
  EXPECT_TRUE(out.warnings.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Policies, DnsPolicyTest,
    ::testing::Values(
        PolicyCase{"ClusterFirst", "ClusterFirst", false, kCluster},
        PolicyCase{"ClusterFirstHostNetworkUsesHost", "ClusterFirst", true, kHost},
        PolicyCase{"ClusterFirstWithHostNet", "ClusterFirstWithHostNet", true, kCluster},
        PolicyCase{"ClusterFirstWithHostNetPodNetwork", "ClusterFirstWithHostNet", false, kCluster},
        PolicyCase{"Default", "Default", false, kHost},
        PolicyCase{"DefaultHostNetwork", "Default", true, kHost},
        PolicyCase{"None", "None", false, ResolvConf{}},
        // The API server rejects other values; the kubelet uses ClusterFirst.
        PolicyCase{"InvalidIsClusterFirst", "Bogus", false, kCluster}),
    [](const ::testing::TestParamInfo<PolicyCase>& i) { return i.param.name; });

TEST(DnsTest, ClusterFirstWithoutClusterDomainKeepsHostSearches) {
  PodDnsInput in = baseInput();
  in.clusterDomain = "";
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"10.96.0.10"}));
  EXPECT_EQ(out.conf.searches, (V{"corp.example", "cluster.local"}));
  EXPECT_EQ(out.conf.options, (V{"ndots:5"}));
}

TEST(DnsTest, ClusterFirstWithoutClusterDnsWarnsAndFallsBackToHost) {
  PodDnsInput in = baseInput();
  in.clusterDNS.clear();
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, kHost.nameservers);
  EXPECT_EQ(out.conf.searches, kHost.searches);
  EXPECT_EQ(out.conf.options, kHost.options);
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0].reason, "MissingClusterDNS");
  EXPECT_EQ(out.warnings[0].message,
            "pod: \"api-0_web(1234)\". kubelet does not have ClusterDNS IP configured and cannot "
            "create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.");
}

TEST(DnsTest, DefaultWithoutClusterDnsDoesNotWarn) {
  PodDnsInput in = baseInput();
  in.clusterDNS.clear();
  in.dnsPolicy = "Default";
  EXPECT_TRUE(computePodDns(in).warnings.empty());
}

// --- computePodDns: dnsConfig merge -----------------------------------------

TEST(DnsTest, NoneWithDnsConfigIsExactlyTheConfig) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  in.configNameservers = {"1.2.3.4", "1.2.3.4"};
  in.configSearches = {"ns1.svc.example"};
  in.configOptions = {{"ndots", "2"}, {"edns0", std::nullopt}};
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"1.2.3.4"}));
  EXPECT_EQ(out.conf.searches, (V{"ns1.svc.example"}));
  EXPECT_EQ(out.conf.options, (V{"ndots:2", "edns0"}));
}

TEST(DnsTest, DnsConfigAppendsWithoutDuplicatesAndMergesOptionsInPlace) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "Default";
  in.hasDnsConfig = true;
  in.configNameservers = {"192.0.2.2", "198.51.100.1"};
  in.configSearches = {"corp.example", "extra.example"};
  // timeout overridden in place; ndots loses its value ("" and nullopt both mean the
  // bare name); rotate is new and goes last.
  in.configOptions = {{"timeout", "5"}, {"rotate", std::nullopt}, {"ndots", ""}};
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"192.0.2.1", "192.0.2.2", "198.51.100.1"}));
  EXPECT_EQ(out.conf.searches, (V{"corp.example", "cluster.local", "extra.example"}));
  EXPECT_EQ(out.conf.options, (V{"ndots", "timeout:5", "rotate"}));
}

TEST(DnsTest, DnsConfigOptionOverridesClusterFirstNdots) {
  PodDnsInput in = baseInput();
  in.hasDnsConfig = true;
  in.configOptions = {{"ndots", "1"}, {"single-request-reopen", std::nullopt}};
  EXPECT_EQ(computePodDns(in).conf.options, (V{"ndots:1", "single-request-reopen"}));
}

TEST(DnsTest, HostDuplicateOptionsCollapseWhenMerged) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "Default";
  in.host.options = {"ndots:1", "edns0", "ndots:3"};
  in.hasDnsConfig = true;  // an empty dnsConfig still runs the merge
  EXPECT_EQ(computePodDns(in).conf.options, (V{"ndots:3", "edns0"}));
}

TEST(DnsTest, ConfigFieldsIgnoredWithoutDnsConfig) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.configNameservers = {"1.2.3.4"};
  PodDns out = computePodDns(in);
  EXPECT_TRUE(out.conf.nameservers.empty());
}

// --- computePodDns: limits ---------------------------------------------------

TEST(DnsLimitsTest, MoreThanThreeNameserversAreCut) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  in.configNameservers = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0].reason, "DNSConfigForming");
  EXPECT_EQ(out.warnings[0].message,
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
            "nameserver line is: 10.0.0.1 10.0.0.2 10.0.0.3");
}

TEST(DnsLimitsTest, ThreeNameserversAndThirtyTwoSearchesFit) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  in.configNameservers = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
  for (int i = 0; i < 32; ++i) in.configSearches.push_back("d" + std::to_string(i) + ".example");
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers.size(), 3u);
  EXPECT_EQ(out.conf.searches.size(), 32u);
  EXPECT_TRUE(out.warnings.empty());
}

TEST(DnsLimitsTest, MoreThanThirtyTwoSearchesAreCut) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  V want;
  for (int i = 0; i < 33; ++i) in.configSearches.push_back("d" + std::to_string(i) + ".example");
  want.assign(in.configSearches.begin(), in.configSearches.begin() + 32);
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.searches, want);
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0].reason, "DNSConfigForming");
  std::string line;
  for (const auto& s : want) line += (line.empty() ? "" : " ") + s;
  EXPECT_EQ(out.warnings[0].message,
            "Search Line limits were exceeded, some search paths have been omitted, the applied "
            "search line is: " +
                line);
}

TEST(DnsLimitsTest, SearchDomainsLongerThan253AreDropped) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  std::string longest(253, 'a');
  in.configSearches = {"a.example", std::string(254, 'b'), longest, "c.example"};
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.searches, (V{"a.example", longest, "c.example"}));
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0].message,
            "Search Line limits were exceeded, some search paths have been omitted, the applied "
            "search line is: a.example " +
                longest + " c.example");
}

TEST(DnsLimitsTest, SearchLineOver2048CharactersIsCutFromTheEnd) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  // Ten distinct 250-character domains: 2509 characters joined. Cutting the last
  // (251 with its space) leaves 2258, the next 2007: eight remain.
  for (char c = 'a'; c < 'a' + 10; ++c) in.configSearches.push_back(std::string(250, c));
  PodDns out = computePodDns(in);
  ASSERT_EQ(out.conf.searches.size(), 8u);
  EXPECT_EQ(out.conf.searches.back(), std::string(250, 'h'));
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0].reason, "DNSConfigForming");
}

TEST(DnsLimitsTest, SearchLineOfExactly2048CharactersFits) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "None";
  in.hasDnsConfig = true;
  // 8 * 253 + 7 spaces = 2031; a ninth domain of 16 characters makes 2048.
  for (char c = 'a'; c < 'a' + 8; ++c) in.configSearches.push_back(std::string(253, c));
  in.configSearches.push_back(std::string(16, 'z'));
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.searches.size(), 9u);
  EXPECT_TRUE(out.warnings.empty());
}

TEST(DnsLimitsTest, BothLimitsGiveTwoWarningsNameserversFirst) {
  PodDnsInput in = baseInput();
  in.hasDnsConfig = true;
  in.configNameservers = {"10.0.0.2", "10.0.0.3", "10.0.0.4"};
  for (int i = 0; i < 40; ++i) in.configSearches.push_back("d" + std::to_string(i) + ".example");
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers, (V{"10.96.0.10", "10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(out.conf.searches.size(), 32u);
  EXPECT_EQ(out.conf.searches[0], "web.svc.cluster.local");
  ASSERT_EQ(out.warnings.size(), 2u);
  EXPECT_TRUE(out.warnings[0].message.starts_with("Nameserver limits"));
  EXPECT_TRUE(out.warnings[1].message.starts_with("Search Line limits"));
}

TEST(DnsLimitsTest, HostFileOverLimitsIsCutForDefaultPods) {
  PodDnsInput in = baseInput();
  in.dnsPolicy = "Default";
  in.host.nameservers = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
  PodDns out = computePodDns(in);
  EXPECT_EQ(out.conf.nameservers.size(), 3u);
  ASSERT_EQ(out.warnings.size(), 1u);
}

// --- formatResolvConf --------------------------------------------------------

TEST(FormatResolvConfTest, WritesContainerdsLayout) {
  ResolvConf conf{{"10.96.0.10", "10.96.0.11"},
                  {"web.svc.cluster.local", "cluster.local"},
                  {"ndots:5", "edns0"}};
  EXPECT_EQ(formatResolvConf(conf),
            "search web.svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\n"
            "nameserver 10.96.0.11\n"
            "options ndots:5 edns0\n");
}

TEST(FormatResolvConfTest, OmitsEmptyLines) {
  EXPECT_EQ(formatResolvConf({{"192.0.2.1"}, {}, {}}), "nameserver 192.0.2.1\n");
  EXPECT_EQ(formatResolvConf({{}, {"a.example"}, {}}), "search a.example\n");
  EXPECT_EQ(formatResolvConf({}), "");
}

TEST(FormatResolvConfTest, RoundTripsThroughParse) {
  ResolvConf conf{{"10.96.0.10"}, {"a.example", "b.example"}, {"ndots:5"}};
  ResolvConf back = parseResolvConf(formatResolvConf(conf));
  EXPECT_EQ(back.nameservers, conf.nameservers);
  EXPECT_EQ(back.searches, conf.searches);
  EXPECT_EQ(back.options, conf.options);
}

}  // namespace
}  // namespace network

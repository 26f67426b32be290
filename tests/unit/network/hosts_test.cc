#include "network/hosts.h"

#include <gtest/gtest.h>

namespace network {
namespace {

constexpr char kLocalLines[] =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n";

std::string managed(const std::string& tail) {
  return std::string("# Kubernetes-managed hosts file.\n") + kLocalLines + tail;
}

TEST(ManagedHostsFileTest, Ipv4) {
  EXPECT_EQ(managedHostsFile({"10.244.1.7"}, "api-0", "", {}), managed("10.244.1.7\tapi-0\n"));
}

TEST(ManagedHostsFileTest, DualStackOneLinePerIp) {
  EXPECT_EQ(managedHostsFile({"10.244.1.7", "fd00::7"}, "api-0", "", {}),
            managed("10.244.1.7\tapi-0\nfd00::7\tapi-0\n"));
}

TEST(ManagedHostsFileTest, SubdomainGivesFqdnThenShortName) {
  EXPECT_EQ(managedHostsFile({"10.244.1.7", "fd00::7"}, "api-0", "api.web.svc.cluster.local", {}),
            managed("10.244.1.7\tapi-0.api.web.svc.cluster.local\tapi-0\n"
                    "fd00::7\tapi-0.api.web.svc.cluster.local\tapi-0\n"));
}

TEST(ManagedHostsFileTest, NoPodIpsYet) {
  EXPECT_EQ(managedHostsFile({}, "api-0", "", {}), managed(""));
}

TEST(ManagedHostsFileTest, HostAliasesBlockOneLinePerIp) {
  std::vector<HostAliasEntry> aliases = {{"10.1.2.3", {"foo.local", "bar.local"}},
                                         {"fd00::1", {"v6.local"}}};
  EXPECT_EQ(managedHostsFile({"10.244.1.7"}, "api-0", "", aliases),
            managed("10.244.1.7\tapi-0\n"
                    "\n"
                    "# Entries added by HostAliases.\n"
                    "10.1.2.3\tfoo.local\tbar.local\n"
                    "fd00::1\tv6.local\n"));
}

TEST(HostNetworkHostsFileTest, NodeFileAsIsThenAliases) {
  std::string node = "127.0.0.1 localhost\n192.168.1.5 node1\n";
  EXPECT_EQ(hostNetworkHostsFile(node, {}),
            "# Kubernetes-managed hosts file (host network).\n" + node);
  EXPECT_EQ(hostNetworkHostsFile(node, {{"10.1.2.3", {"foo.local"}}}),
            "# Kubernetes-managed hosts file (host network).\n" + node +
                "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\n");
}

TEST(PodHostnameTest, PodNameWhenNoSpecHostname) {
  auto h = podHostnameAndDomain("api-0", "web", "", "", "cluster.local");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->hostname, "api-0");
  EXPECT_EQ(h->domain, "");
}

TEST(PodHostnameTest, SpecHostnameAndSubdomain) {
  auto h = podHostnameAndDomain("api-0", "web", "db", "backend", "cluster.local");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->hostname, "db");
  EXPECT_EQ(h->domain, "backend.web.svc.cluster.local");
}

TEST(PodHostnameTest, LongPodNameTruncatedTo63WithoutTrailingDashOrDot) {
  // 62 characters, then "-.", then more: the cut at 63 ends in "-", which goes.
  std::string name = std::string(62, 'a') + "-.bbbb";
  auto h = podHostnameAndDomain(name, "web", "", "", "cluster.local");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->hostname, std::string(62, 'a'));

  std::string exact(63, 'c');
  h = podHostnameAndDomain(exact, "web", "", "", "cluster.local");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->hostname, exact);

  h = podHostnameAndDomain(std::string(70, 'd'), "web", "", "", "cluster.local");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->hostname, std::string(63, 'd'));
}

TEST(PodHostnameTest, NameOfOnlyDashesAndDotsIsAnError) {
  std::string name(70, '-');
  auto h = podHostnameAndDomain(name, "web", "", "", "cluster.local");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "hostname for pod \"" + name + "\" was invalid: \"" + name + "\"");
}

constexpr char kLabelRegexMsg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

struct InvalidLabelCase {
  std::string name;
  std::string hostname;
  std::string subdomain;
  std::string want;
};

void PrintTo(const InvalidLabelCase& c, std::ostream* os) { *os << c.name; }

class InvalidLabelTest : public ::testing::TestWithParam<InvalidLabelCase> {};

TEST_P(InvalidLabelTest, NamesFieldAndReason) {
  const InvalidLabelCase& c = GetParam();
  auto h = podHostnameAndDomain("api-0", "web", c.hostname, c.subdomain, "cluster.local");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.status().message(), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidLabelTest,
    ::testing::Values(
        InvalidLabelCase{
            "UpperCase", "Web", "",
            std::string("pod Hostname \"Web\" is not a valid DNS label: ") + kLabelRegexMsg},
        InvalidLabelCase{"Dots", "a.b", "",
                         "pod Hostname \"a.b\" is not a valid DNS label: must not contain dots"},
        InvalidLabelCase{
            "TrailingDash", "", "sub-",
            std::string("pod Subdomain \"sub-\" is not a valid DNS label: ") + kLabelRegexMsg},
        InvalidLabelCase{"TooLongAndBad", std::string(64, 'a') + "_", "",
                         "pod Hostname \"" + std::string(64, 'a') +
                             "_\" is not a valid DNS label: must be no more than 63 "
                             "characters;" +
                             kLabelRegexMsg},
        InvalidLabelCase{"TooLongOnly", std::string(64, 'a'), "",
                         "pod Hostname \"" + std::string(64, 'a') +
                             "\" is not a valid DNS label: must be no more than 63 characters"}),
    [](const ::testing::TestParamInfo<InvalidLabelCase>& i) { return i.param.name; });

TEST(KernelHostnameTest, ShortNameUnlessFqdnRequestedAndDomainSet) {
  PodHostname h{"api-0", "api.web.svc.cluster.local"};
  EXPECT_EQ(*kernelHostname(h, false), "api-0");
  EXPECT_EQ(*kernelHostname(h, true), "api-0.api.web.svc.cluster.local");
  EXPECT_EQ(*kernelHostname({"api-0", ""}, true), "api-0");
}

TEST(KernelHostnameTest, FqdnOver64CharactersIsAnError) {
  PodHostname fits{std::string(30, 'a'), std::string(33, 'b')};  // 30 + 1 + 33 = 64
  ASSERT_TRUE(kernelHostname(fits, true).ok());
  PodHostname over{std::string(30, 'a'), std::string(34, 'b')};
  auto r = kernelHostname(over, true);
  ASSERT_FALSE(r.ok());
  std::string fqdn = std::string(30, 'a') + "." + std::string(34, 'b');
  EXPECT_EQ(r.status().message(),
            "failed to construct FQDN from pod hostname and cluster domain, FQDN " + fqdn +
                " is too long (64 characters is the max, 65 characters requested)");
}

}  // namespace
}  // namespace network

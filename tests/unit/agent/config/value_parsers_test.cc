// Value syntaxes of kubelet flags and config fields: Go durations, booleans and integers,
// node labels, taints and key=value lists.
#include "agent/config/value_parsers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace agent::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

struct DurationCase {
  std::string_view text;
  Duration want;
};

TEST(ParseGoDuration, AcceptsGoSyntax) {
  const DurationCase cases[] = {
      {"0", Duration(0)},
      {"0s", Duration(0)},
      {"10s", seconds(10)},
      {"1m30s", seconds(90)},
      {"300ms", milliseconds(300)},
      {"2h", hours(2)},
      {"2h45m", minutes(165)},
      {"1.5s", milliseconds(1500)},
      {".5m", seconds(30)},
      {"1.s", seconds(1)},
      {"+5s", seconds(5)},
      {"-1m", minutes(-1)},
      {"1500us", milliseconds(1)},
      {"1500\xC2\xB5s", milliseconds(1)},
      {"1500\xCE\xBCs", milliseconds(1)},
      {"2000000ns", milliseconds(2)},
      {"1h1m1s1ms", milliseconds(3'661'001)},
      {"4h0m0s", hours(4)},
  };
  for (const DurationCase& c : cases) {
    auto d = parseGoDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ParseGoDuration, RejectsMalformed) {
  for (std::string_view bad :
       {"", "abc", "10", "1x", "s", ".s", "1.2.3s", "-", "1 s", "10S", "1m 30s", "9999999999h"}) {
    auto d = parseGoDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(d.status().message(), HasSubstr("invalid duration \"" + std::string(bad) + "\""));
  }
  EXPECT_THAT(parseGoDuration("10").status().message(), HasSubstr("missing unit"));
  EXPECT_THAT(parseGoDuration("1x").status().message(), HasSubstr("unknown unit \"x\""));
}

TEST(FormatDuration, RendersLikeGo) {
  EXPECT_EQ(formatDuration(Duration(0)), "0s");
  EXPECT_EQ(formatDuration(milliseconds(300)), "300ms");
  EXPECT_EQ(formatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(formatDuration(hours(1)), "1h0m0s");
  EXPECT_EQ(formatDuration(seconds(-5)), "-5s");
}

TEST(ParseGoBool, AcceptsStrconvForms) {
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    EXPECT_EQ(parseGoBool(t).value_or(false), true) << t;
  }
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    EXPECT_EQ(parseGoBool(f).value_or(true), false) << f;
  }
  for (std::string_view bad : {"", "yes", "no", "on", "tRUE", "2"}) {
    EXPECT_FALSE(parseGoBool(bad).ok()) << bad;
  }
}

TEST(ParseGoInt, AcceptsBasePrefixesAndChecksRange) {
  constexpr int64_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(parseGoInt("110", kMin, kMax).value(), 110);
  EXPECT_EQ(parseGoInt("-1", kMin, kMax).value(), -1);
  EXPECT_EQ(parseGoInt("+7", kMin, kMax).value(), 7);
  EXPECT_EQ(parseGoInt("0x10", kMin, kMax).value(), 16);
  EXPECT_EQ(parseGoInt("0o17", kMin, kMax).value(), 15);
  EXPECT_EQ(parseGoInt("017", kMin, kMax).value(), 15);
  EXPECT_EQ(parseGoInt("0b101", kMin, kMax).value(), 5);
  EXPECT_EQ(parseGoInt("0", kMin, kMax).value(), 0);
  EXPECT_EQ(parseGoInt("-2147483648", kMin, kMax).value(), kMin);
  EXPECT_EQ(parseGoInt("-9223372036854775808", std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max())
                .value(),
            std::numeric_limits<int64_t>::min());
  EXPECT_THAT(parseGoInt("2147483648", kMin, kMax).status().message(), HasSubstr("out of range"));
  EXPECT_THAT(parseGoInt("-2147483649", kMin, kMax).status().message(), HasSubstr("out of range"));
  for (std::string_view bad : {"", "abc", "1.5", "10k", "--1", "0x", "08"}) {
    EXPECT_FALSE(parseGoInt(bad, kMin, kMax).ok()) << bad;
  }
}

TEST(ParseNodeLabels, ParsesAndMerges) {
  std::map<std::string, std::string> labels = {{"existing", "1"}};
  ASSERT_TRUE(
      parseNodeLabels("a=b, example.com/role = worker,,empty=,bare,node.kubernetes.io/x=y", labels)
          .ok());
  std::map<std::string, std::string> want = {
      {"existing", "1"}, {"a", "b"},   {"example.com/role", "worker"},
      {"empty", ""},     {"bare", ""}, {"node.kubernetes.io/x", "y"}};
  EXPECT_EQ(labels, want);
}

TEST(ParseNodeLabels, RejectsInvalidKeysValuesAndRestrictedNamespaces) {
  struct Case {
    std::string input;
    std::string_view wantError;
  };
  const Case cases[] = {
      {"-bad=x", "invalid key \"-bad\""},
      {"a/b/c=x", "invalid key \"a/b/c\""},
      {"UPPER.com/x=y", "invalid key \"UPPER.com/x\""},
      {"=x", "invalid key \"\""},
      {"k=has space", "invalid value \"has space\""},
      {"k=" + std::string(64, 'a'), "at most 63"},
      {"kubernetes.io/role=master", "kubernetes.io/k8s.io namespace"},
      {"node-role.kubernetes.io/worker=", "kubernetes.io/k8s.io namespace"},
      {"foo.k8s.io/x=y", "kubernetes.io/k8s.io namespace"},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> labels;
    absl::Status s = parseNodeLabels(c.input, labels);
    ASSERT_FALSE(s.ok()) << c.input;
    EXPECT_THAT(s.message(), HasSubstr(c.wantError)) << c.input;
  }
  // The ones a node may set on itself.
  std::map<std::string, std::string> labels;
  EXPECT_TRUE(parseNodeLabels("kubernetes.io/hostname=n1,topology.kubernetes.io/zone=z,"
                              "kubelet.kubernetes.io/x=1,a.node.kubernetes.io/y=2",
                              labels)
                  .ok());
}

TEST(ParseTaints, ParsesKubeletSyntax) {
  auto taints =
      parseTaints("dedicated=gpu:NoSchedule,example.com/spot:PreferNoSchedule,x=:NoExecute");
  ASSERT_TRUE(taints.ok()) << taints.status();
  std::vector<Taint> want = {{"dedicated", "gpu", "NoSchedule"},
                             {"example.com/spot", "", "PreferNoSchedule"},
                             {"x", "", "NoExecute"}};
  EXPECT_EQ(*taints, want);
  EXPECT_TRUE(parseTaints("").value().empty());
}

TEST(ParseTaints, RejectsMalformed) {
  struct Case {
    std::string_view input, wantError;
  };
  const Case cases[] = {
      {"key=value", "missing effect"},
      {"key=value:Sometimes", "invalid effect \"Sometimes\""},
      {"key=value:noschedule", "invalid effect"},
      {"a=b=c:NoSchedule", "expected key=value:Effect"},
      {"a:b:NoSchedule", "expected key=value:Effect"},
      {"dedicated-", "removal"},
      {"bad key=v:NoSchedule", "invalid key"},
      {"k=bad value:NoSchedule", "invalid value"},
      {"ok=1:NoSchedule,", "invalid taint \"\""},
  };
  for (const Case& c : cases) {
    auto t = parseTaints(c.input);
    ASSERT_FALSE(t.ok()) << c.input;
    EXPECT_THAT(t.status().message(), HasSubstr(c.wantError)) << c.input;
  }
}

TEST(ParseKeyValueList, ParsesEqualsAndLangleForms) {
  std::map<std::string, std::string> m;
  ASSERT_TRUE(parseKeyValueList("cpu=200m, memory=1Gi", '=', m).ok());
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"cpu", "200m"}, {"memory", "1Gi"}}));
  std::map<std::string, std::string> eviction;
  ASSERT_TRUE(parseKeyValueList("memory.available<100Mi,nodefs.available<10%", '<', eviction).ok());
  EXPECT_EQ(eviction, (std::map<std::string, std::string>{{"memory.available", "100Mi"},
                                                          {"nodefs.available", "10%"}}));
  EXPECT_THAT(parseKeyValueList("cpu", '=', m).message(), HasSubstr("malformed item \"cpu\""));
  EXPECT_THAT(parseKeyValueList("memory.available=1Gi", '<', m).message(),
              HasSubstr("expected key<value"));
}

TEST(ParseFeatureGates, ParsesBools) {
  std::map<std::string, bool> gates = {{"Keep", true}};
  ASSERT_TRUE(parseFeatureGates("A=true,B=false", gates).ok());
  EXPECT_EQ(gates, (std::map<std::string, bool>{{"A", true}, {"B", false}, {"Keep", true}}));
  EXPECT_THAT(parseFeatureGates("A=maybe", gates).message(), HasSubstr("A: invalid boolean"));
  EXPECT_FALSE(parseFeatureGates("A", gates).ok());
}

TEST(IPAddresses, RecognizesLiteralsAndLoopback) {
  EXPECT_TRUE(isIPAddress("10.0.0.1"));
  EXPECT_TRUE(isIPAddress("fd00::1"));
  EXPECT_FALSE(isIPAddress("10.0.0"));
  EXPECT_FALSE(isIPAddress("node1"));
  EXPECT_TRUE(isLoopbackIP("127.0.0.1"));
  EXPECT_TRUE(isLoopbackIP("127.1.2.3"));
  EXPECT_TRUE(isLoopbackIP("::1"));
  EXPECT_FALSE(isLoopbackIP("10.0.0.1"));
}

}  // namespace
}  // namespace agent::config

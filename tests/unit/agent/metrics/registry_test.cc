// The metrics registry and the text exposition: byte-exact output as the Go
// client writes it (escaping, sorting, histogram buckets, float format), and
// concurrent updates from many threads.
#include "agent/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace cubelet::testing {
namespace {

using namespace agent::metrics;

TEST(MetricsFormatFloatTest, MatchesGoShortestG) {
  struct Case {
    double v;
    const char* want;
  };
  const Case cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {2, "2"},
      {0.005, "0.005"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {0.1 + 0.2, "0.30000000000000004"},
      {100, "100"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1048576, "1.048576e+06"},
      {1234567, "1.234567e+06"},
      {1.79149107691e+09, "1.79149107691e+09"},
      {18446744073709551615.0, "1.8446744073709552e+19"},
      {1e21, "1e+21"},
      {1.5e-7, "1.5e-07"},
      {-2.5, "-2.5"},
      {1e100, "1e+100"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases) EXPECT_EQ(formatFloat(c.v), c.want) << c.want;
}

TEST(MetricsBucketsTest, ExponentialAsGoComputesThem) {
  // ExponentialBuckets(.005, 2.5, 14): repeated multiplication, printed shortest.
  std::vector<double> b = exponentialBuckets(.005, 2.5, 14);
  ASSERT_EQ(b.size(), 14u);
  EXPECT_EQ(formatFloat(b[0]), "0.005");
  EXPECT_EQ(formatFloat(b[1]), "0.0125");
  EXPECT_EQ(formatFloat(b[2]), "0.03125");
  EXPECT_EQ(formatFloat(b[13]), "745.0580596923828");
  EXPECT_EQ(exponentialBuckets(1, 2, 5), (std::vector<double>{1, 2, 4, 8, 16}));
  EXPECT_EQ(defaultBuckets().size(), 11u);
  EXPECT_EQ(linearBuckets(1, 2, 3), (std::vector<double>{1, 3, 5}));
}

TEST(MetricsRegistryTest, ExpositionIsSortedAndEscaped) {
  CounterVec requests(
      MetricOpts{"zz_requests_total", "Help with \\ and\nnewline.", StabilityLevel::kStable, {}},
      {"path", "code"});
  GaugeMetric up(MetricOpts{"aa_up", "Whether it is up.", StabilityLevel::kRaw, {}});
  CounterVec empty(MetricOpts{"mm_never_used_total", "Never touched.", StabilityLevel::kAlpha, {}},
                   {"x"});
  requests.with({"/b", "200"}).inc();
  requests.with({"/a\"q\\\n", "500"}).inc(2.5);
  requests.with({"/a", "200"}).inc(3);
  requests.with({"/b", "200"}).inc(-7);  // ignored: counters only go up
  up.set(1);

  Registry r;
  r.add(requests);
  r.add(empty);
  r.add(up);
  EXPECT_EQ(r.render(),
            "# HELP aa_up Whether it is up.\n"
            "# TYPE aa_up gauge\n"
            "aa_up 1\n"
            "# HELP zz_requests_total [STABLE] Help with \\\\ and\\nnewline.\n"
            "# TYPE zz_requests_total counter\n"
            "zz_requests_total{code=\"200\",path=\"/a\"} 3\n"
            "zz_requests_total{code=\"200\",path=\"/b\"} 1\n"
            "zz_requests_total{code=\"500\",path=\"/a\\\"q\\\\\\n\"} 2.5\n");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  HistogramVec h(
      MetricOpts{"op_duration_seconds", "Op latency.", StabilityLevel::kAlpha, {0.125, 1, 10}},
      {"op"});
  Histogram& x = h.with({"x"});
  for (double v : {0.0625, 0.125, 0.5, 1.0, 3.0, 100.0}) x.observe(v);
  HistogramMetric plain(
      MetricOpts{"plain_seconds", "Never observed.", StabilityLevel::kAlpha, {0.5}});

  Registry r;
  r.add(h);
  r.add(plain);
  EXPECT_EQ(r.render(),
            "# HELP op_duration_seconds [ALPHA] Op latency.\n"
            "# TYPE op_duration_seconds histogram\n"
            "op_duration_seconds_bucket{op=\"x\",le=\"0.125\"} 2\n"
            "op_duration_seconds_bucket{op=\"x\",le=\"1\"} 4\n"
            "op_duration_seconds_bucket{op=\"x\",le=\"10\"} 5\n"
            "op_duration_seconds_bucket{op=\"x\",le=\"+Inf\"} 6\n"
            "op_duration_seconds_sum{op=\"x\"} 104.6875\n"
            "op_duration_seconds_count{op=\"x\"} 6\n"
            "# HELP plain_seconds [ALPHA] Never observed.\n"
            "# TYPE plain_seconds histogram\n"
            "plain_seconds_bucket{le=\"0.5\"} 0\n"
            "plain_seconds_bucket{le=\"+Inf\"} 0\n"
            "plain_seconds_sum 0\n"
            "plain_seconds_count 0\n");
  EXPECT_EQ(x.count(), 6u);
}

TEST(MetricsRegistryTest, TimestampsAndRemoval) {
  std::vector<FamilySnapshot> fams;
  FamilySnapshot f{"t_bytes", "T.", MetricType::kGauge, {}};
  Sample s;
  s.labels = {{"pod", "b"}, {"namespace", "ns"}};
  s.value = 1e6;
  s.timestampMs = 1700000000123;
  f.samples.push_back(s);
  s.labels = {{"pod", "a"}, {"namespace", "ns"}};
  s.value = 7;
  f.samples.push_back(s);
  fams.push_back(f);
  EXPECT_EQ(renderText(fams),
            "# HELP t_bytes T.\n"
            "# TYPE t_bytes gauge\n"
            "t_bytes{namespace=\"ns\",pod=\"a\"} 7 1700000000123\n"
            "t_bytes{namespace=\"ns\",pod=\"b\"} 1e+06 1700000000123\n");

  GaugeVec g(MetricOpts{"g", "G.", StabilityLevel::kAlpha, {}}, {"pod", "uid"});
  g.with({"a", "1"}).set(1);
  g.with({"a", "2"}).set(2);
  g.with({"b", "3"}).set(3);
  EXPECT_EQ(g.removeMatching({{"pod", "a"}}), 2u);
  EXPECT_EQ(g.removeMatching({{"nope", "a"}}), 0u);
  EXPECT_TRUE(g.remove({"b", "3"}));
  EXPECT_FALSE(g.remove({"b", "3"}));
  EXPECT_EQ(g.size(), 0u);
  // A wrong number of label values is padded, not a crash.
  g.with({"only-one"}).set(5);
  EXPECT_EQ(g.with({"only-one", ""}).value(), 5);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreNotLost) {
  CounterVec c(MetricOpts{"c_total", "C.", StabilityLevel::kAlpha, {}}, {"op"});
  HistogramMetric h(MetricOpts{"h_seconds", "H.", StabilityLevel::kAlpha, {0.5}});
  GaugeMetric g(MetricOpts{"g", "G.", StabilityLevel::kAlpha, {}});
  Registry r;
  r.add(c);
  r.add(h);
  r.add(g);
  constexpr int kThreads = 8;
  constexpr int kIters = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        c.with({t % 2 ? "odd" : "even"}).inc();
        h.observe(i % 2 ? 0.25 : 1.0);
        g.inc();
        g.dec();
        if (i % 1000 == 0) (void)r.render();  // scrapes race with updates
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.with({"even"}).value(), kThreads / 2 * kIters);
  EXPECT_EQ(c.with({"odd"}).value(), kThreads / 2 * kIters);
  EXPECT_EQ(h.count(), static_cast<uint64_t>(kThreads * kIters));
  EXPECT_DOUBLE_EQ(h.sum(), kThreads * kIters / 2 * (0.25 + 1.0));
  EXPECT_EQ(g.value(), 0);
  std::string text = r.render();
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.5\"} 20000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 40000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace cubelet::testing

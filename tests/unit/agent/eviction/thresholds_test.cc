#include "agent/eviction/thresholds.h"

#include <gtest/gtest.h>

namespace agent::eviction {
namespace {

using Map = std::map<std::string, std::string>;

TEST(FormatQuantity, PrintsAsGoResourceQuantity) {
  struct Case {
    int64_t value;
    QuantityFormat format;
    const char* want;
  } cases[] = {
      {0, QuantityFormat::kBinarySI, "0"},
      {52428800, QuantityFormat::kBinarySI, "50Mi"},
      {104857600, QuantityFormat::kBinarySI, "100Mi"},
      {1024, QuantityFormat::kBinarySI, "1Ki"},
      {1023, QuantityFormat::kBinarySI, "1023"},       // below 1024: DecimalSI
      {1536, QuantityFormat::kBinarySI, "1536"},       // not a multiple of 1024
      {1049600, QuantityFormat::kBinarySI, "1025Ki"},  // 1Mi + 1Ki
      {209715200, QuantityFormat::kBinarySI, "200Mi"},
      {5368709120, QuantityFormat::kBinarySI, "5Gi"},
      {123456789, QuantityFormat::kBinarySI, "123456789"},
      {5000000, QuantityFormat::kDecimalSI, "5M"},
      {1500, QuantityFormat::kDecimalSI, "1500"},
      {20000, QuantityFormat::kDecimalSI, "20k"},
      {-2048, QuantityFormat::kBinarySI, "-2Ki"},
      {3000, QuantityFormat::kDecimalExponent, "3e3"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(formatQuantity(c.value, c.format), c.want) << c.value;
  }
}

TEST(FormatQuantity, ParsedQuantitiesKeepTheirFormat) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {{"100Mi", "100Mi"}, {"1024Mi", "1Gi"},  {"0.5Gi", "512Mi"}, {"500M", "500M"},
               {"1e3", "1e3"},     {"1500m", "1500m"}, {"1G", "1G"},       {"2P", "2P"}};
  for (const auto& c : cases) {
    auto q = api::Quantity::parse(c.in);
    ASSERT_TRUE(q.ok()) << c.in;
    EXPECT_EQ(FormattedQuantity::fromApi(*q).str(), c.want) << c.in;
  }
}

TEST(ParseThresholds, DefaultsOfTheKubelet) {
  auto t = parseThresholds({{"memory.available", "100Mi"},
                            {"nodefs.available", "10%"},
                            {"nodefs.inodesFree", "5%"},
                            {"imagefs.available", "15%"}},
                           {}, {}, {});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 4u);
  // Ordered by signal name (the config map's order).
  EXPECT_EQ((*t)[0].signal, Signal::kImageFsAvailable);
  EXPECT_FLOAT_EQ((*t)[0].value.percentage, 0.15f);
  EXPECT_EQ((*t)[1].signal, Signal::kMemoryAvailable);
  ASSERT_TRUE((*t)[1].value.quantity.has_value());
  EXPECT_EQ((*t)[1].value.quantity->value(), 100 * 1024 * 1024);
  EXPECT_EQ((*t)[1].value.quantity->str(), "100Mi");
  EXPECT_TRUE((*t)[1].hard());
  EXPECT_FALSE((*t)[1].minReclaim.has_value());
  EXPECT_EQ((*t)[2].signal, Signal::kNodeFsAvailable);
  EXPECT_EQ((*t)[3].signal, Signal::kNodeFsInodesFree);
  EXPECT_FLOAT_EQ((*t)[3].value.percentage, 0.05f);
}

TEST(ParseThresholds, SoftWithGracePeriodAndMinReclaim) {
  auto t = parseThresholds({{"memory.available", "100Mi"}}, {{"memory.available", "300Mi"}},
                           {{"memory.available", "1m30s"}},
                           {{"memory.available", "50Mi"}, {"nodefs.available", "1%"}});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_TRUE((*t)[0].hard());
  EXPECT_FALSE((*t)[1].hard());
  EXPECT_EQ((*t)[1].gracePeriod, std::chrono::seconds(90));
  EXPECT_EQ((*t)[1].value.quantity->str(), "300Mi");
  // The minimum reclaim applies to the hard and the soft threshold alike.
  ASSERT_TRUE((*t)[0].minReclaim.has_value());
  ASSERT_TRUE((*t)[1].minReclaim.has_value());
  EXPECT_EQ((*t)[0].minReclaim->quantity->str(), "50Mi");
}

TEST(ParseThresholds, ZeroAndHundredPercentAreIgnored) {
  auto t = parseThresholds({{"nodefs.available", "0%"}, {"imagefs.available", "100%"}},
                           {{"memory.available", "0%"}}, {}, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->empty());  // and the ignored soft one needs no grace period
}

TEST(ParseThresholds, AllocatableCopiesHardMemoryThresholds) {
  auto t = parseThresholds({{"memory.available", "100Mi"}}, {{"memory.available", "200Mi"}},
                           {{"memory.available", "30s"}}, {}, /*enforceNodeAllocatablePods=*/true);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[2].signal, Signal::kAllocatableMemoryAvailable);
  EXPECT_EQ((*t)[2].value.quantity->str(), "100Mi");
  EXPECT_TRUE((*t)[2].hard());
}

TEST(ParseThresholds, ContainerFsSignalsAreDropped) {
  auto t =
      parseThresholds({{"containerfs.available", "10%"}, {"pid.available", "100"}}, {}, {}, {});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].signal, Signal::kPidAvailable);
}

TEST(ParseThresholds, Errors) {
  struct Case {
    const char* name;
    Map hard, soft, grace, reclaim;
    const char* want;
  } cases[] = {
      {"unknown hard signal",
       {{"memory.free", "1Gi"}},
       {},
       {},
       {},
       "evictionHard: unsupported eviction signal memory.free"},
      {"unknown soft signal",
       {},
       {{"swap.available", "1Gi"}},
       {},
       {},
       "evictionSoft: unsupported eviction signal swap.available"},
      {"unknown grace signal",
       {},
       {},
       {{"disk.available", "1m"}},
       {},
       "evictionSoftGracePeriod: unsupported eviction signal disk.available"},
      {"unknown reclaim signal",
       {},
       {},
       {},
       {{"foo", "1Gi"}},
       "evictionMinimumReclaim: unsupported eviction signal foo"},
      {"soft without grace",
       {},
       {{"memory.available", "1Gi"}},
       {},
       {},
       "evictionSoft: grace period must be specified for the soft eviction threshold "
       "memory.available"},
      {"percentage above 100",
       {{"nodefs.available", "101%"}},
       {},
       {},
       {},
       "evictionHard: eviction percentage threshold nodefs.available must be <= 100%: 101%"},
      {"negative percentage",
       {{"nodefs.available", "-5%"}},
       {},
       {},
       {},
       "evictionHard: eviction percentage threshold nodefs.available must be >= 0%: -5%"},
      {"bad percentage",
       {{"nodefs.available", "ten%"}},
       {},
       {},
       {},
       "evictionHard: strconv.ParseFloat: parsing \"ten\": invalid syntax"},
      {"zero quantity",
       {{"memory.available", "0"}},
       {},
       {},
       {},
       "evictionHard: eviction threshold memory.available must be positive: 0"},
      {"negative quantity",
       {{"memory.available", "-100Mi"}},
       {},
       {},
       {},
       "evictionHard: eviction threshold memory.available must be positive: -100Mi"},
      {"negative grace",
       {},
       {{"memory.available", "1Gi"}},
       {{"memory.available", "-1m"}},
       {},
       "evictionSoftGracePeriod: invalid eviction grace period specified: -1m, must be a "
       "positive value"},
      {"zero percent reclaim",
       {},
       {},
       {},
       {{"nodefs.available", "0%"}},
       "evictionMinimumReclaim: eviction percentage minimum reclaim nodefs.available must be "
       "positive: 0%"},
      {"negative reclaim",
       {},
       {},
       {},
       {{"memory.available", "-1Mi"}},
       "evictionMinimumReclaim: negative eviction minimum reclaim specified for memory.available"},
  };
  for (const auto& c : cases) {
    auto t = parseThresholds(c.hard, c.soft, c.grace, c.reclaim);
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_EQ(t.status().message(), c.want) << c.name;
  }
}

TEST(ParseThresholds, BadQuantityAndDurationNameTheField) {
  auto q = parseThresholds({{"memory.available", "lots"}}, {}, {}, {});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(std::string(q.status().message()).rfind("evictionHard: memory.available: ", 0), 0u)
      << q.status();
  auto d = parseThresholds({}, {{"memory.available", "1Gi"}}, {{"memory.available", "soon"}}, {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(std::string(d.status().message()).rfind("evictionSoftGracePeriod: ", 0), 0u)
      << d.status();
}

TEST(ThresholdQuantity, PercentageOfCapacity) {
  ThresholdValue v;
  v.percentage = 0.1f;
  FormattedQuantity q = thresholdQuantity(v, 10LL * 1024 * 1024 * 1024);
  // float32(0.1) × 10Gi, truncated: the kubelet's arithmetic.
  EXPECT_EQ(q.value(), static_cast<int64_t>(10.0 * 1024 * 1024 * 1024 * static_cast<double>(0.1f)));
  EXPECT_EQ(q.format, QuantityFormat::kBinarySI);
}

}  // namespace
}  // namespace agent::eviction

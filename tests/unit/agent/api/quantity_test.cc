// Resource quantities: the apimachinery grammar, exact scaling with rounding up, and
// saturation.
#include "agent/api/quantity.h"

#include <gtest/gtest.h>

#include <limits>

namespace agent::api {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

struct GoodCase {
  std::string text;
  int64_t milli;
  int64_t value;
};

class QuantityParseTest : public testing::TestWithParam<GoodCase> {};

TEST_P(QuantityParseTest, ScalesExactly) {
  auto q = Quantity::parse(GetParam().text);
  ASSERT_TRUE(q.ok()) << GetParam().text << ": " << q.status();
  EXPECT_EQ(q->milliValue(), GetParam().milli) << GetParam().text;
  EXPECT_EQ(q->value(), GetParam().value) << GetParam().text;
  EXPECT_EQ(q->str(), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Quantities, QuantityParseTest,
    testing::Values(
        GoodCase{"0", 0, 0}, GoodCase{"100m", 100, 1}, GoodCase{"1", 1000, 1},
        GoodCase{"1.5", 1500, 2}, GoodCase{"0.1", 100, 1}, GoodCase{".5", 500, 1},
        GoodCase{"5.", 5000, 5}, GoodCase{"+2", 2000, 2}, GoodCase{"-1.5", -1500, -2},
        GoodCase{"-100m", -100, -1}, GoodCase{"007", 7000, 7},
        GoodCase{"500k", 500'000'000, 500'000}, GoodCase{"1M", 1'000'000'000, 1'000'000},
        GoodCase{"1G", 1'000'000'000'000, 1'000'000'000},
        GoodCase{"2T", 2'000'000'000'000'000, 2'000'000'000'000},
        GoodCase{"1P", 1'000'000'000'000'000'000, 1'000'000'000'000'000},
        GoodCase{"1E", kMax, 1'000'000'000'000'000'000}, GoodCase{"1Ki", 1024000, 1024},
        GoodCase{"128Mi", 134'217'728'000, 134'217'728},
        GoodCase{"1.5Gi", 1'610'612'736'000, 1'610'612'736},
        GoodCase{"1Ti", 1'099'511'627'776'000, 1'099'511'627'776},
        GoodCase{"1Ei", kMax, 1'152'921'504'606'846'976}, GoodCase{"1e3", 1'000'000, 1000},
        GoodCase{"1E3", 1'000'000, 1000}, GoodCase{"1e+3", 1'000'000, 1000},
        GoodCase{"15e-1", 1500, 2}, GoodCase{"1e-3", 1, 1}, GoodCase{"1e-9", 1, 1},
        GoodCase{"-1e-9", -1, -1}, GoodCase{"1.0001m", 2, 1}, GoodCase{"0.000m", 0, 0},
        GoodCase{"9223372036854775807", kMax, kMax}, GoodCase{"99999999999999999999", kMax, kMax},
        GoodCase{"-99999999999999999999", -kMax, -kMax}, GoodCase{"1e1000000000", kMax, kMax},
        GoodCase{"1e-1000000000", 1, 1}, GoodCase{"0.0000000000000000000000000001Ei", 1, 1}));

class QuantityBadTest : public testing::TestWithParam<std::string> {};

TEST_P(QuantityBadTest, IsRejected) {
  auto q = Quantity::parse(GetParam());
  ASSERT_FALSE(q.ok()) << GetParam();
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("invalid quantity \"" + GetParam() + "\""), std::string::npos)
      << q.status();
}

INSTANTIATE_TEST_SUITE_P(Quantities, QuantityBadTest,
                         testing::Values("", "abc", "1.2.3", "1Mi5", "1K", "1mi", "1KI", "1e",
                                         "1e+", "1 Mi", " 1", ".", "+", "--1", "1i", "1Mb", "1e3.5",
                                         "0x10", "1,5"));

TEST(QuantityTest, DefaultIsZero) {
  Quantity q;
  EXPECT_TRUE(q.isZero());
  EXPECT_EQ(q.milliValue(), 0);
  EXPECT_EQ(q.str(), "0");
  EXPECT_FALSE(Quantity::parse("1m")->isZero());
  EXPECT_TRUE(Quantity::parse("0Gi")->isZero());
}

TEST(QuantityTest, EqualityComparesValues) {
  EXPECT_EQ(*Quantity::parse("1Gi"), *Quantity::parse("1073741824"));
  EXPECT_EQ(*Quantity::parse("0.5"), *Quantity::parse("500m"));
  EXPECT_FALSE(*Quantity::parse("1G") == *Quantity::parse("1Gi"));
}

TEST(QuantityTest, DecodesFromJsonStringsAndNumbers) {
  nlohmann::json doc = nlohmann::json::parse(
      R"({"cpu": "250m", "memory": 1024, "half": 0.5, "bad": "1x", "wrong": true})");
  core::JsonField root(doc);
  Quantity cpu, memory, half, unset;
  ASSERT_TRUE(root["cpu"].get(cpu).ok());
  ASSERT_TRUE(root["memory"].get(memory).ok());
  ASSERT_TRUE(root["half"].get(half).ok());
  ASSERT_TRUE(root["absent"].get(unset).ok());
  EXPECT_EQ(cpu.milliValue(), 250);
  EXPECT_EQ(memory.value(), 1024);
  EXPECT_EQ(half.milliValue(), 500);
  EXPECT_TRUE(unset.isZero());

  Quantity q;
  absl::Status bad = root["bad"].get(q);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(bad.message()).rfind("bad: invalid quantity \"1x\"", 0), 0u) << bad;
  EXPECT_EQ(root["wrong"].get(q).message(),
            "wrong: expected quantity (string or number), got boolean true");
}

}  // namespace
}  // namespace agent::api

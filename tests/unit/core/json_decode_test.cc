// Typed decoding with field paths: strict types, ranges, null/absent handling, and
// the paths errors name.
#include "core/json_decode.h"

#include <gtest/gtest.h>

namespace demo {

struct Port {
  std::string name;
  int32_t containerPort = 0;
};

struct Container {
  std::string name;
  std::vector<Port> ports;
  std::optional<bool> tty;
  std::map<std::string, std::string> env;
};

struct Spec {
  std::vector<Container> containers;
  int64_t grace = 30;
};

absl::Status decodeJson(const core::JsonField& f, Port& out) {
  return core::decodeObject(f, "name", out.name, "containerPort", out.containerPort);
}

absl::Status decodeJson(const core::JsonField& f, Container& out) {
  return core::decodeObject(f, "name", out.name, "ports", out.ports, "tty", out.tty, "env",
                            out.env);
}

absl::Status decodeJson(const core::JsonField& f, Spec& out) {
  return core::decodeObject(f, "containers", out.containers, "grace", out.grace);
}

}  // namespace demo

namespace core {
namespace {

using nlohmann::json;

absl::Status decodeSpec(const json& doc, demo::Spec& spec) {
  JsonField root(doc);
  return root["spec"].get(spec);
}

TEST(JsonDecodeTest, DecodesNestedStructs) {
  json doc = json::parse(R"({"spec": {"containers": [
      {"name": "a", "ports": [{"name": "http", "containerPort": 80}], "tty": true,
       "env": {"X": "1"}, "unknown": [1, 2]},
      {"name": "b"}], "grace": 5}})");
  demo::Spec spec;
  ASSERT_TRUE(decodeSpec(doc, spec).ok());
  ASSERT_EQ(spec.containers.size(), 2u);
  EXPECT_EQ(spec.containers[0].name, "a");
  ASSERT_EQ(spec.containers[0].ports.size(), 1u);
  EXPECT_EQ(spec.containers[0].ports[0].containerPort, 80);
  EXPECT_EQ(spec.containers[0].tty, true);
  EXPECT_EQ(spec.containers[0].env.at("X"), "1");
  EXPECT_EQ(spec.containers[1].tty, std::nullopt);
  EXPECT_EQ(spec.grace, 5);
}

TEST(JsonDecodeTest, NullAndAbsentKeepDefaults) {
  json doc = json::parse(R"({"spec": {"containers": null, "grace": null}})");
  demo::Spec spec;
  ASSERT_TRUE(decodeSpec(doc, spec).ok());
  EXPECT_TRUE(spec.containers.empty());
  EXPECT_EQ(spec.grace, 30);
  ASSERT_TRUE(decodeSpec(json::object(), spec).ok());
  EXPECT_EQ(spec.grace, 30);
}

struct ErrorCase {
  std::string doc;
  std::string message;
};

class JsonDecodeErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(JsonDecodeErrorTest, NamesFieldPath) {
  demo::Spec spec;
  absl::Status s = decodeSpec(json::parse(GetParam().doc), spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, JsonDecodeErrorTest,
    testing::Values(
        ErrorCase{
            R"({"spec": {"containers": [{"name": "a"},
                   {"name": "b", "ports": [{"containerPort": "80a"}]}]}})",
            R"(spec.containers[1].ports[0].containerPort: expected integer, got string "80a")"},
        ErrorCase{R"({"spec": {"containers": [{"ports": [{"containerPort": 1.5}]}]}})",
                  "spec.containers[0].ports[0].containerPort: expected integer, got number 1.5"},
        ErrorCase{R"({"spec": {"containers": [{"ports": [{"containerPort": 2147483648}]}]}})",
                  "spec.containers[0].ports[0].containerPort: value 2147483648 out of range "
                  "for int32"},
        ErrorCase{R"({"spec": {"containers": [{"ports": [{"containerPort": -2147483649}]}]}})",
                  "spec.containers[0].ports[0].containerPort: value -2147483649 out of range "
                  "for int32"},
        ErrorCase{R"({"spec": {"grace": 18446744073709551615}})",
                  "spec.grace: value 18446744073709551615 out of range for int64"},
        ErrorCase{R"({"spec": {"containers": {"name": "a"}}})",
                  "spec.containers: expected array, got object"},
        ErrorCase{R"({"spec": {"containers": ["a"]}})",
                  R"(spec.containers[0]: expected object, got string "a")"},
        ErrorCase{R"({"spec": {"containers": [{"name": 5}]}})",
                  "spec.containers[0].name: expected string, got number 5"},
        ErrorCase{R"({"spec": {"containers": [{"tty": "yes"}]}})",
                  R"(spec.containers[0].tty: expected boolean, got string "yes")"},
        ErrorCase{R"({"spec": {"containers": [{"env": {"X": 1}}]}})",
                  "spec.containers[0].env[X]: expected string, got number 1"},
        ErrorCase{R"({"spec": {"containers": [{"env": ["X"]}]}})",
                  "spec.containers[0].env: expected object, got array"},
        ErrorCase{R"({"spec": [1]})", "spec: expected object, got array"},
        ErrorCase{R"({"spec": {"grace": true}})",
                  "spec.grace: expected integer, got boolean true"}));

TEST(JsonDecodeTest, FirstErrorWins) {
  json doc = json::parse(R"({"spec": {"containers": [{"name": 1, "tty": 2}]}})");
  demo::Spec spec;
  EXPECT_EQ(decodeSpec(doc, spec).message(),
            "spec.containers[0].name: expected string, got number 1");
}

TEST(JsonDecodeTest, RootErrorsHaveNoPath) {
  json doc = json::parse("[1]");
  JsonField root(doc);
  EXPECT_EQ(root.expectObject().message(), "expected object, got array");
  EXPECT_TRUE(root.expectArray().ok());
  EXPECT_EQ(root.error("boom").message(), "boom");
}

TEST(JsonDecodeTest, ScalarsAndOptionals) {
  json doc = json::parse(R"({"s": "x", "b": false, "i": -3, "l": 9000000000, "d": 2,
                             "n": null, "raw": {"k": [1]}})");
  JsonField root(doc);
  std::string s;
  bool b = true;
  int32_t i = 0;
  int64_t l = 0;
  double d = 0;
  std::optional<int32_t> missing, nulled;
  std::optional<std::string> present;
  json raw;
  ASSERT_TRUE(decodeObject(root, "s", s, "b", b, "i", i, "l", l, "d", d, "missing", missing, "n",
                           nulled, "s", present, "raw", raw)
                  .ok());
  EXPECT_EQ(s, "x");
  EXPECT_FALSE(b);
  EXPECT_EQ(i, -3);
  EXPECT_EQ(l, 9000000000);
  EXPECT_EQ(d, 2.0);
  EXPECT_FALSE(missing.has_value());
  EXPECT_FALSE(nulled.has_value());
  EXPECT_EQ(present, "x");
  EXPECT_EQ(raw, json::parse(R"({"k": [1]})"));
  EXPECT_EQ(root["l"].get(i).message(), "l: value 9000000000 out of range for int32");
}

TEST(JsonDecodeTest, PathsOfMissingMembersStillRender) {
  json doc = json::object();
  JsonField root(doc);
  JsonField deep = root["a"]["b"].at(3)["c"];
  EXPECT_FALSE(deep.isSet());
  EXPECT_EQ(deep.path(), "a.b[3].c");
  EXPECT_EQ(deep.typeError("string").message(), "a.b[3].c: expected string, got nothing");
}

TEST(JsonDecodeTest, LongStringsAreCutInMessages) {
  json doc = json::object();
  doc["n"] = std::string(200, 'x');
  int32_t n = 0;
  std::string msg{JsonField(doc)["n"].get(n).message()};
  EXPECT_EQ(msg, "n: expected integer, got string \"" + std::string(64, 'x') + "\"...");
  EXPECT_EQ(describeJson(json(nullptr)), "null");
  EXPECT_EQ(describeJson(json::parse(R"("a\"b")")), R"(string "a\"b")");
}

}  // namespace
}  // namespace core

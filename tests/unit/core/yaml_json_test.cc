// The YAML/JSON parse edge: scalar resolution as Kubernetes reads YAML, JSON as YAML, document
// counting, and errors that carry the source and position.
#include "core/yaml_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace core {
namespace {

using nlohmann::json;

json parseOk(const std::string& text) {
  auto j = parseYamlOrJson(text, "test.yaml");
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : json();
}

struct ScalarCase {
  std::string yaml;
  json expected;
};

class PlainScalarTest : public testing::TestWithParam<ScalarCase> {};

TEST_P(PlainScalarTest, ResolvesAsKubernetesDoes) {
  json doc = parseOk("v: " + GetParam().yaml);
  ASSERT_TRUE(doc.contains("v"));
  EXPECT_EQ(doc["v"], GetParam().expected) << GetParam().yaml;
  EXPECT_EQ(doc["v"].type(), GetParam().expected.type()) << GetParam().yaml;
}

INSTANTIATE_TEST_SUITE_P(
    Scalars, PlainScalarTest,
    testing::Values(
        ScalarCase{"", json(nullptr)}, ScalarCase{"~", json(nullptr)},
        ScalarCase{"null", json(nullptr)}, ScalarCase{"NULL", json(nullptr)},
        ScalarCase{"true", json(true)}, ScalarCase{"True", json(true)},
        ScalarCase{"TRUE", json(true)}, ScalarCase{"false", json(false)},
        ScalarCase{"False", json(false)},
        // YAML 1.1 booleans, as Kubernetes' decoder reads them.
        ScalarCase{"yes", json(true)}, ScalarCase{"On", json(true)}, ScalarCase{"y", json(true)},
        ScalarCase{"off", json(false)}, ScalarCase{"NO", json(false)},
        ScalarCase{"tRUE", json("tRUE")}, ScalarCase{"yES", json("yES")},
        ScalarCase{"42", json(42)}, ScalarCase{"-7", json(-7)}, ScalarCase{"+7", json(7)},
        ScalarCase{"1_000", json(1000)}, ScalarCase{"0", json(0)},
        // A leading zero is octal, as in Go: file modes mean what users expect.
        ScalarCase{"0644", json(420)}, ScalarCase{"-010", json(-8)}, ScalarCase{"08", json(8.0)},
        ScalarCase{"0x1F", json(31)}, ScalarCase{"-0x10", json(-16)}, ScalarCase{"0o17", json(15)},
        ScalarCase{"0b101", json(5)}, ScalarCase{"0o19", json("0o19")},
        ScalarCase{"0xZ", json("0xZ")}, ScalarCase{"9223372036854775807", json(INT64_MAX)},
        ScalarCase{"-9223372036854775808", json(INT64_MIN)},
        ScalarCase{"18446744073709551615", json(UINT64_MAX)},
        ScalarCase{"18446744073709551616", json(18446744073709551616.0)},
        ScalarCase{"1.5", json(1.5)}, ScalarCase{".5", json(0.5)}, ScalarCase{"-.5", json(-0.5)},
        ScalarCase{"-2.", json(-2.0)}, ScalarCase{"1e3", json(1000.0)},
        ScalarCase{"1.5E-2", json(0.015)}, ScalarCase{"1e999", json("1e999")},
        ScalarCase{"80a", json("80a")}, ScalarCase{"1.2.3", json("1.2.3")},
        ScalarCase{"10.0.0.1", json("10.0.0.1")}, ScalarCase{"-x", json("-x")},
        ScalarCase{"hello world", json("hello world")}, ScalarCase{"\"80\"", json("80")},
        ScalarCase{"'true'", json("true")}, ScalarCase{"\"yes\"", json("yes")},
        ScalarCase{"\"0644\"", json("0644")}, ScalarCase{"\"null\"", json("null")},
        ScalarCase{"\"\"", json("")}, ScalarCase{"!!str 80", json("80")},
        ScalarCase{"!!int \"42\"", json(42)}, ScalarCase{"!!float 1", json(1.0)},
        ScalarCase{"!!bool 'true'", json(true)}));

TEST(YamlJsonTest, InfinityAndNaN) {
  json doc = parseOk("a: .inf\nb: -.Inf\nc: .nan\nd: +.INF");
  EXPECT_TRUE(std::isinf(doc["a"].get<double>()) && doc["a"].get<double>() > 0);
  EXPECT_TRUE(std::isinf(doc["b"].get<double>()) && doc["b"].get<double>() < 0);
  EXPECT_TRUE(std::isnan(doc["c"].get<double>()));
  EXPECT_TRUE(std::isinf(doc["d"].get<double>()));
}

TEST(YamlJsonTest, NestedStructures) {
  json doc = parseOk(R"(
apiVersion: v1
kind: Pod
metadata:
  labels: {app: web, tier: "1"}
spec:
  containers:
  - name: a
    args: [x, 1, true]
  - name: b
)");
  EXPECT_EQ(doc["metadata"]["labels"], json({{"app", "web"}, {"tier", "1"}}));
  ASSERT_EQ(doc["spec"]["containers"].size(), 2u);
  EXPECT_EQ(doc["spec"]["containers"][0]["args"], json::parse(R"(["x", 1, true])"));
  EXPECT_EQ(doc["spec"]["containers"][1]["name"], "b");
}

TEST(YamlJsonTest, JsonIsParsedAsYaml) {
  const std::string text =
      "{\n\t\"kind\": \"Pod\",\n\t\"spec\": {\"containers\": [{\"name\": \"x\", \"port\": 80, "
      "\"tty\": false, \"cmd\": null}]}\n}\n";
  json doc = parseOk(text);
  EXPECT_EQ(doc, json::parse(text));
}

TEST(YamlJsonTest, AliasesAreExpanded) {
  json doc = parseOk("base: &b {x: 1}\ncopy: *b\n");
  EXPECT_EQ(doc["copy"], json({{"x", 1}}));
}

TEST(YamlJsonTest, NonStringKeysBecomeStrings) {
  json doc = parseOk("1: a\ntrue: b\n");
  EXPECT_EQ(doc["1"], "a");
  EXPECT_EQ(doc["true"], "b");
}

TEST(YamlJsonTest, EmptyInputIsNull) {
  EXPECT_TRUE(parseOk("").is_null());
  EXPECT_TRUE(parseOk("# only a comment\n").is_null());
  EXPECT_TRUE(parseOk("---\n---\n").is_null());
}

TEST(YamlJsonTest, EmptyDocumentsAroundOneAreIgnored) {
  EXPECT_EQ(parseOk("---\na: 1\n---\n"), json({{"a", 1}}));
}

TEST(YamlJsonTest, MultipleDocumentsAreAnError) {
  auto j = parseYamlOrJson("a: 1\n---\nb: 2\n", "two.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(j.status().message(), "two.yaml: multiple YAML documents; expected exactly one");
}

TEST(YamlJsonTest, DocumentsVariantReturnsEach) {
  auto docs = parseYamlDocuments("a: 1\n---\n---\nb: 2\n", "s");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0], json({{"a", 1}}));
  EXPECT_EQ((*docs)[1], json({{"b", 2}}));
}

TEST(YamlJsonTest, SyntaxErrorNamesSourceLineAndColumn) {
  auto j = parseYamlOrJson("kind: Pod\nspec:\n  containers: [a, b\nother: 1\n", "/m/web.yaml");
  ASSERT_FALSE(j.ok());
  std::string msg(j.status().message());
  EXPECT_EQ(msg.rfind("/m/web.yaml:", 0), 0u) << msg;
  // The error is reported at or after the unterminated sequence on line 3.
  EXPECT_TRUE(msg.find("/m/web.yaml:3:") == 0 || msg.find("/m/web.yaml:4:") == 0) << msg;
}

TEST(YamlJsonTest, BadIndentationIsReportedWithLine) {
  auto j = parseYamlOrJson("a:\n  b: 1\n c: 2\n", "x.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(std::string(j.status().message()).rfind("x.yaml:3:", 0), 0u) << j.status();
}

TEST(YamlJsonTest, MalformedJsonIsAnError) {
  auto j = parseYamlOrJson("{\"a\": [1, 2}", "x.json");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(std::string(j.status().message()).rfind("x.json:1:", 0), 0u) << j.status();
}

TEST(YamlJsonTest, ComplexKeysAreAnError) {
  auto j = parseYamlOrJson("? [a, b]\n: c\n", "k.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("mapping keys must be scalars"), std::string::npos);
}

TEST(YamlJsonTest, BadExplicitTagIsAnError) {
  auto j = parseYamlOrJson("a: !!int abc\n", "t.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "t.yaml:1:4: cannot decode \"abc\" as !!int");
}

TEST(YamlJsonTest, AliasBombIsRefused) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  auto j = parseYamlOrJson(text, "bomb.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("document too large"), std::string::npos) << j.status();
}

}  // namespace
}  // namespace core

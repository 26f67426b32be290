#include "agent/api/config_objects.h"

#include <gtest/gtest.h>

namespace agent::api {
namespace {

using nlohmann::json;

TEST(ConfigObjectsTest, ConfigMapDecodesDataAndBinaryData) {
  auto cm = decodeConfigMap(json::parse(R"({
    "kind": "ConfigMap", "apiVersion": "v1",
    "metadata": {"name": "cfg", "namespace": "ns", "uid": "u1", "resourceVersion": "7"},
    "data": {"a": "1", "b": "two"},
    "binaryData": {"bin": "AAEC/w=="},
    "immutable": true})"));
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(cm->metadata.name, "cfg");
  EXPECT_EQ(cm->metadata.namespace_, "ns");
  EXPECT_EQ(cm->metadata.resourceVersion, "7");
  EXPECT_EQ(cm->data, (std::map<std::string, std::string>{{"a", "1"}, {"b", "two"}}));
  EXPECT_EQ(cm->binaryData.at("bin"), std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(cm->immutable, true);
}

TEST(ConfigObjectsTest, SecretDecodesBase64AndDefaultsType) {
  auto s = decodeSecret(json::parse(R"({
    "metadata": {"name": "s", "namespace": "ns"},
    "data": {"user": "YWRtaW4=", "pw": "MWYyZDFlMmU2N2Rm", "empty": "", "wrapped": "YWJj\nZGVm"}})"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type, "Opaque");
  EXPECT_EQ(s->data.at("user"), "admin");
  EXPECT_EQ(s->data.at("pw"), "1f2d1e2e67df");
  EXPECT_EQ(s->data.at("empty"), "");
  EXPECT_EQ(s->data.at("wrapped"), "abcdef");  // newlines are skipped, as Go does
}

TEST(ConfigObjectsTest, SecretStringDataWinsOverData) {
  auto s = decodeSecret(json::parse(R"({
    "metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson",
    "data": {"k": "YQ==", "other": "Yg=="}, "stringData": {"k": "plain"}})"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type, kSecretTypeDockerConfigJson);
  EXPECT_EQ(s->data.at("k"), "plain");
  EXPECT_EQ(s->data.at("other"), "b");
}

TEST(ConfigObjectsTest, ErrorsNameTheField) {
  struct Case {
    const char* name;
    std::function<absl::Status(const json&)> decode;
    const char* in;
    const char* want;
  } cases[] = {
      {"bad base64 char", [](const json& j) { return decodeSecret(j).status(); },
       R"({"data": {"tls.crt": "YW*j"}})", "data[tls.crt]: illegal base64 data at input byte 2"},
      {"truncated base64", [](const json& j) { return decodeSecret(j).status(); },
       R"({"data": {"k": "YWJjZA"}})", "data[k]: illegal base64 data at input byte 4"},
      {"data after padding", [](const json& j) { return decodeSecret(j).status(); },
       R"({"data": {"k": "YQ==YQ=="}})", "data[k]: illegal base64 data at input byte 4"},
      {"binaryData", [](const json& j) { return decodeConfigMap(j).status(); },
       R"({"binaryData": {"b": "!!!!"}})", "binaryData[b]: illegal base64 data at input byte 0"},
      {"data not string", [](const json& j) { return decodeConfigMap(j).status(); },
       R"({"data": {"a": 1}})", "data[a]: expected string, got number 1"},
      {"wrong kind", [](const json& j) { return decodeConfigMap(j).status(); },
       R"({"kind": "Secret"})", "kind: Unsupported value: \"Secret\": expected \"ConfigMap\""},
      {"wrong version", [](const json& j) { return decodeService(j).status(); },
       R"({"apiVersion": "v2"})", "apiVersion: Unsupported value: \"v2\": expected \"v1\""},
      {"port type", [](const json& j) { return decodeService(j).status(); },
       R"({"spec": {"ports": [{"port": "80"}]}})",
       "spec.ports[0].port: expected integer, got string \"80\""},
      {"not an object", [](const json& j) { return decodeSecret(j).status(); }, R"([])",
       "expected a Secret object, got array"},
  };
  for (const auto& c : cases) {
    absl::Status s = c.decode(json::parse(c.in));
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.message(), c.want) << c.name;
  }
}

TEST(ConfigObjectsTest, ServiceDecodesPortsAndClusterIP) {
  auto svc = decodeService(json::parse(R"({
    "kind": "Service", "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "ns"},
    "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.11", "clusterIPs": ["10.0.0.11"],
             "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                       {"port": 53, "protocol": "UDP"}, {"name": "x", "port": 9}]}})"));
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ(svc->clusterIP, "10.0.0.11");
  EXPECT_TRUE(svc->hasClusterIP());
  ASSERT_EQ(svc->ports.size(), 3u);
  EXPECT_EQ(svc->ports[0].name, "http");
  EXPECT_EQ(svc->ports[0].port, 80);
  EXPECT_EQ(svc->ports[1].protocol, "UDP");
  EXPECT_EQ(svc->ports[2].protocol, "TCP");  // defaulted

  for (const char* ip : {"None", ""}) {
    auto headless = decodeService(json{{"spec", {{"clusterIP", ip}}}});
    ASSERT_TRUE(headless.ok());
    EXPECT_FALSE(headless->hasClusterIP()) << ip;
  }
}

}  // namespace
}  // namespace agent::api

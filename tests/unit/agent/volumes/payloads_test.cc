#include "agent/volumes/payloads.h"

#include <gtest/gtest.h>

#include "agent/api/pod_decode.h"

namespace agent::volumes {
namespace {

using nlohmann::json;
using ::volumes::FileProjection;
using ::volumes::Payload;

api::KeyToPath item(std::string key, std::string path, std::optional<int32_t> mode = {}) {
  return api::KeyToPath{std::move(key), std::move(path), mode};
}

api::ConfigMap configMap() {
  api::ConfigMap cm;
  cm.metadata.name = "cm";
  cm.data = {{"a", "1"}, {"b", "2"}};
  cm.binaryData = {{"bin", std::string("\x00\xff", 2)}};
  return cm;
}

TEST(PayloadsConfigMap, EveryKeyWithoutItems) {
  api::ConfigMap cm = configMap();
  auto p = configMapPayload({}, &cm, 0640, false, "configMap");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (Payload{{"a", {"1", 0640, std::nullopt}},
                         {"b", {"2", 0640, std::nullopt}},
                         {"bin", {std::string("\x00\xff", 2), 0640, std::nullopt}}}));
}

TEST(PayloadsConfigMap, ItemsPickKeysPathsAndModes) {
  api::ConfigMap cm = configMap();
  auto p = configMapPayload({item("a", "dir/a.conf", 0400), item("bin", "x//./bin")}, &cm, 0644,
                            false, "configMap");
  ASSERT_TRUE(p.ok()) << p.status();
  // Paths are cleaned as the atomic writer cleans them; `b` is not projected.
  EXPECT_EQ(*p, (Payload{{"dir/a.conf", {"1", 0400, std::nullopt}},
                         {"x/bin", {std::string("\x00\xff", 2), 0644, std::nullopt}}}));
}

TEST(PayloadsConfigMap, MissingKey) {
  api::ConfigMap cm = configMap();
  auto p = configMapPayload({item("a", "a"), item("nope", "n")}, &cm, 0644, false, "configMap");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "configmap references non-existent config key: nope");

  // Optional: the missing key is skipped, the rest projected.
  p = configMapPayload({item("a", "a"), item("nope", "n")}, &cm, 0644, true, "configMap");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (Payload{{"a", {"1", 0644, std::nullopt}}}));
}

TEST(PayloadsConfigMap, MissingOptionalObjectIsEmpty) {
  auto p = configMapPayload({item("a", "a")}, nullptr, 0644, true, "configMap");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->empty());
}

TEST(PayloadsConfigMap, BadItemModeNamesTheField) {
  api::ConfigMap cm = configMap();
  for (int32_t mode : {-1, 01000}) {
    auto p = configMapPayload({item("a", "a"), item("b", "b", mode)}, &cm, 0644, false,
                              "projected.sources[1].configMap");
    ASSERT_FALSE(p.ok()) << mode;
    EXPECT_EQ(
        p.status().message(),
        "projected.sources[1].configMap.items[1].mode: Invalid value: " + std::to_string(mode) +
            ": must be a number between 0 and 0777 (octal), both inclusive");
  }
  // The edges are fine.
  auto p = configMapPayload({item("a", "a", 0), item("b", "b", 0777)}, &cm, 0644, false, "c");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("a").mode, 0);
  EXPECT_EQ(p->at("b").mode, 0777);
}

TEST(PayloadsConfigMap, BadItemPath) {
  api::ConfigMap cm = configMap();
  auto p = configMapPayload({item("a", "../etc/passwd")}, &cm, 0644, false, "configMap");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "invalid path: must not contain '..': ../etc/passwd");
}

TEST(PayloadsSecret, KeysModesAndMissingKey) {
  api::Secret s;
  s.data = {{"tls.crt", "CERT"}, {"tls.key", "KEY"}};
  auto p = secretPayload({}, &s, 0400, false, "secret");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (Payload{{"tls.crt", {"CERT", 0400, std::nullopt}},
                         {"tls.key", {"KEY", 0400, std::nullopt}}}));

  p = secretPayload({item("tls.key", "key.pem", 0600)}, &s, 0644, false, "secret");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (Payload{{"key.pem", {"KEY", 0600, std::nullopt}}}));

  p = secretPayload({item("ca.crt", "ca")}, &s, 0644, false, "secret");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "references non-existent secret key: ca.crt");

  p = secretPayload({item("ca.crt", "ca")}, nullptr, 0644, true, "secret");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->empty());
}

TEST(PayloadsPath, AtomicWriterRules) {
  struct Case {
    std::string path;
    std::string error;  // "" = valid
  } cases[] = {
      {"key", ""},
      {"dir/key", ""},
      {"a..b", ""},
      {"dir/..hidden", ""},
      {"./key", ""},
      {"", "invalid path: must not be empty: \"\""},
      {"/etc/passwd", "invalid path: must be relative path: /etc/passwd"},
      {"..", "invalid path: must not contain '..': .."},
      {"a/../../b", "invalid path: must not contain '..': a/../../b"},
      {"..data", "invalid path: must not start with '..': ..data"},
      {".", "invalid path: must name a file: ."},
      {std::string(256, 'x'),
       "invalid path: filenames must be less than or equal to 255 characters"},
      {std::string(4097, '/'), "invalid path: must be relative path: " + std::string(4097, '/')},
  };
  for (const Case& c : cases) {
    absl::Status s = checkPayloadPath(c.path);
    if (c.error.empty()) {
      EXPECT_TRUE(s.ok()) << c.path << ": " << s;
    } else {
      EXPECT_EQ(s.message(), c.error) << c.path;
    }
  }
  std::string longPath;
  for (int i = 0; i < 20; ++i) longPath += std::string(250, 'a') + "/";
  EXPECT_EQ(checkPayloadPath(longPath).message(),
            "invalid path: must be less than or equal to 4096 characters");

  EXPECT_EQ(cleanPayloadPath("a//b/./c/"), "a/b/c");
  EXPECT_EQ(cleanPayloadPath("./key"), "key");
}

api::Pod downwardPod() {
  json j = {
      {"metadata",
       {{"name", "web"},
        {"namespace", "ns"},
        {"uid", "uid-1"},
        {"labels", {{"b", "2"}, {"a", "1"}}},
        {"annotations", {{"note", "hi \"there\""}}}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "app"},
                       {"image", "busybox"},
                       {"resources",
                        {{"limits", {{"memory", "64Mi"}}}, {"requests", {{"cpu", "250m"}}}}}}})}}}};
  auto pod = api::decodePod(j);
  EXPECT_TRUE(pod.ok()) << pod.status();
  api::applyPodDefaults(*pod);
  return *pod;
}

api::DownwardAPIVolumeFile fieldItem(std::string path, std::string fieldPath,
                                     std::optional<int32_t> mode = {}) {
  api::DownwardAPIVolumeFile f;
  f.path = std::move(path);
  f.fieldRef = api::ObjectFieldSelector{"v1", std::move(fieldPath)};
  f.mode = mode;
  return f;
}

api::DownwardAPIVolumeFile resourceItem(std::string path, std::string container,
                                        std::string resource, std::string divisor = "") {
  api::DownwardAPIVolumeFile f;
  f.path = std::move(path);
  api::ResourceFieldSelector sel;
  sel.containerName = std::move(container);
  sel.resource = std::move(resource);
  if (!divisor.empty()) sel.divisor = *api::Quantity::parse(divisor);
  f.resourceFieldRef = sel;
  return f;
}

TEST(PayloadsDownwardAPI, FieldsAndResources) {
  api::Pod pod = downwardPod();
  std::map<std::string, api::Quantity> allocatable = {{"cpu", *api::Quantity::parse("4")}};
  auto p = downwardAPIPayload(
      {fieldItem("name", "metadata.name"), fieldItem("ns", "metadata.namespace", 0400),
       fieldItem("uid", "metadata.uid"), fieldItem("labels", "metadata.labels"),
       fieldItem("annotations", "metadata.annotations"),
       fieldItem("meta/a", "metadata.labels['a']"),
       fieldItem("meta/none", "metadata.annotations['none']"),
       resourceItem("mem", "app", "limits.memory", "1Mi"),
       resourceItem("cpu_limit", "app", "limits.cpu", "1m"),
       resourceItem("cpu_request", "app", "requests.cpu", "1m")},
      pod, allocatable, 0644, "downwardAPI");
  ASSERT_TRUE(p.ok()) << p.status();
  auto data = [&](const std::string& k) { return p->at(k).data; };
  EXPECT_EQ(data("name"), "web");
  EXPECT_EQ(data("ns"), "ns");
  EXPECT_EQ(p->at("ns").mode, 0400);
  EXPECT_EQ(p->at("name").mode, 0644);
  EXPECT_EQ(data("uid"), "uid-1");
  EXPECT_EQ(data("labels"), "a=\"1\"\nb=\"2\"");
  EXPECT_EQ(data("annotations"), "note=\"hi \\\"there\\\"\"");
  EXPECT_EQ(data("meta/a"), "1");
  EXPECT_EQ(data("meta/none"), "");
  EXPECT_EQ(data("mem"), "64");
  EXPECT_EQ(data("cpu_limit"), "4000");  // no limit: the node's allocatable
  EXPECT_EQ(data("cpu_request"), "250");
  EXPECT_EQ(p->size(), 10u);
}

TEST(PayloadsDownwardAPI, ErrorsAreAggregated) {
  api::Pod pod = downwardPod();
  auto p = downwardAPIPayload({fieldItem("node", "spec.nodeName")}, pod, {}, 0644, "downwardAPI");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "unsupported fieldPath: spec.nodeName");

  p = downwardAPIPayload(
      {fieldItem("node", "spec.nodeName"), resourceItem("mem", "sidecar", "limits.memory"),
       fieldItem("ok", "metadata.name"), fieldItem("../x", "metadata.name")},
      pod, {}, 0644, "downwardAPI");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "[unsupported fieldPath: spec.nodeName, container sidecar not found, invalid path: "
            "must not contain '..': ../x]");
}

TEST(PayloadsDownwardAPI, BadItemMode) {
  api::Pod pod = downwardPod();
  auto p =
      downwardAPIPayload({fieldItem("name", "metadata.name", 01777)}, pod, {}, 0644, "downwardAPI");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "downwardAPI.items[0].mode: Invalid value: 1023: must be a number between 0 and 0777 "
            "(octal), both inclusive");
}

TEST(PayloadsAggregate, GoAggregateFormat) {
  EXPECT_EQ(aggregateErrors({}), "");
  EXPECT_EQ(aggregateErrors({"a"}), "a");
  EXPECT_EQ(aggregateErrors({"a", "b"}), "[a, b]");
  EXPECT_EQ(aggregateErrors({"a", "a"}), "a");
  EXPECT_EQ(aggregateErrors({"a", "b", "a"}), "[a, b]");
}

}  // namespace
}  // namespace agent::volumes

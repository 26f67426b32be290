#include "agent/runtime/pull_secrets.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "agent/api/pod_decode.h"

namespace agent::runtime {
namespace {

using nlohmann::json;

std::string b64(const std::string& s) { return absl::Base64Escape(s); }

// "user@key" for each credential, to compare orders at a glance.
std::vector<std::string> users(const std::vector<::runtime::v1::AuthConfig>& auths) {
  std::vector<std::string> out;
  for (const auto& a : auths) out.push_back(a.username());
  return out;
}

json entry(const std::string& user) { return {{"username", user}, {"password", "pw-" + user}}; }

TEST(PullSecretsTest, KeyMatching) {
  struct Case {
    const char* key;
    const char* image;
    bool want;
  } cases[] = {
      {"registry.example.com", "registry.example.com/foo/bar", true},
      {"registry.example.com", "other.example.com/foo", false},
      {"*.example.com", "registry.example.com/foo", true},
      {"*.example.com", "a.b.example.com/foo", false},  // parts must line up
      {"*.example.com", "example.com/foo", false},
      {"reg?.example.com", "reg1.example.com/x", true},
      {"*.*.io", "quay.eu.io/x", true},
      {"registry.example.com:5000", "registry.example.com:5000/x", true},
      {"registry.example.com:5000", "registry.example.com/x", false},
      {"registry.example.com", "registry.example.com:5000/x", false},
      {"quay.io/coreos", "quay.io/coreos/etcd", true},
      {"quay.io/coreos", "quay.io/other/etcd", false},
      {"quay.io/core", "quay.io/coreos/etcd", true},  // a string prefix, as upstream
      {"docker.io", "docker.io/library/busybox", true},
      {"[fd00::1]:5000", "[fd00::1]:5000/x", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(registryKeyMatches(c.key, c.image), c.want) << c.key << " vs " << c.image;
  }
}

TEST(PullSecretsTest, MostSpecificKeyFirstThenFallback) {
  DockerKeyring k;
  json auths = {{"auths",
                 {{"quay.io", entry("host")},
                  {"https://quay.io/coreos", entry("path")},
                  {"quay.io/coreos/etcd", entry("deeper")},
                  {"*.quay.io", entry("glob")},
                  {"gcr.io", entry("gcr")}}}};
  ASSERT_TRUE(k.add(auths.dump(), false).ok());
  EXPECT_EQ(users(k.lookup("quay.io/coreos/etcd:v3")),
            (std::vector<std::string>{"deeper", "path", "host"}));
  EXPECT_EQ(users(k.lookup("quay.io/other/x")), (std::vector<std::string>{"host"}));
  EXPECT_EQ(users(k.lookup("eu.quay.io/x")), (std::vector<std::string>{"glob"}));
  EXPECT_TRUE(k.lookup("busybox").empty());
  EXPECT_TRUE(k.lookup("example.com/x").empty());
}

TEST(PullSecretsTest, DockerHubNormalisation) {
  struct Case {
    const char* key;
    const char* image;
    bool want;
  } cases[] = {
      {"https://index.docker.io/v1/", "busybox", true},
      {"https://index.docker.io/v1/", "docker.io/library/busybox:1.36", true},
      {"index.docker.io", "someuser/app", true},
      {"index.docker.io", "index.docker.io/someuser/app", true},
      {"docker.io", "busybox", true},  // busybox is docker.io/library/busybox
      {"docker.io", "quay.io/x", false},
      {"registry-1.docker.io", "busybox", true},
      {"index.docker.io", "quay.io/x", false},
      {"index.docker.io", "localhost:5000/x", false},
  };
  for (const auto& c : cases) {
    DockerKeyring k;
    ASSERT_TRUE(k.add(json({{"auths", {{c.key, entry("u")}}}}).dump(), false).ok());
    EXPECT_EQ(!k.lookup(c.image).empty(), c.want) << c.key << " for " << c.image;
  }
}

TEST(PullSecretsTest, AuthFieldSplitsIntoUserAndPassword) {
  DockerKeyring k;
  json cfg = {{"auths",
               {{"r.example.com",
                 {{"auth", b64("alice:pa:ss")}, {"identitytoken", "idt"}, {"email", "a@b"}}}}}};
  ASSERT_TRUE(k.add(cfg.dump(), false).ok());
  auto got = k.lookup("r.example.com/app");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].username(), "alice");
  EXPECT_EQ(got[0].password(), "pa:ss");  // split at the first ':'
  EXPECT_EQ(got[0].identity_token(), "idt");
  EXPECT_EQ(got[0].auth(), "");
  EXPECT_EQ(got[0].server_address(), "");  // containerd drops creds whose address differs
}

TEST(PullSecretsTest, BadContent) {
  struct Case {
    const char* json;
    bool legacy;
    const char* error;
  } cases[] = {
      {"{", false, "not valid JSON"},
      {"[]", false, "expected a JSON object"},
      {R"({"auths": []})", false, "auths: expected object"},
      {R"({"auths": {"r": {"username": 1}}})", false, "auths[r].username: expected string"},
      {R"({"auths": {"r": {"auth": "bm9jb2xvbg=="}}})", false,
       "auths[r].auth: unable to parse auth field, must be formatted as base64(username:password)"},
      {R"({"auths": {"r": 5}})", false, "auths[r]: expected object"},
      {R"("x")", true, "expected a JSON object"},
  };
  for (const auto& c : cases) {
    DockerKeyring k;
    absl::Status s = k.add(c.json, c.legacy);
    EXPECT_EQ(s.message(), c.error) << c.json;
    EXPECT_TRUE(k.empty());
  }
}

std::shared_ptr<const api::Secret> pullSecret(const std::string& name, const std::string& type,
                                              const std::string& key, const std::string& content) {
  auto s = std::make_shared<api::Secret>();
  s->metadata.name = name;
  s->metadata.namespace_ = "ns";
  s->type = type;
  s->data[key] = content;
  return s;
}

TEST(PullSecretsTest, PodPullSecretsInOrderWithWarnings) {
  auto pod = api::decodePod(json::parse(R"({
    "metadata": {"name": "p", "namespace": "ns"},
    "spec": {"containers": [{"name": "c", "image": "r.example.com/app"}],
             "imagePullSecrets": [{"name": "json"}, {"name": ""}, {"name": "legacy"},
                                  {"name": "broken"}, {"name": "opaque"}, {"name": "missing"},
                                  {"name": "unsynced"}]}})"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pullSecretNames(*pod), (std::vector<std::string>{"json", "legacy", "broken", "opaque",
                                                             "missing", "unsynced"}));

  EnvSources src;
  src.apiAvailable = true;
  src.secrets["json"] =
      pullSecret("json", "kubernetes.io/dockerconfigjson", ".dockerconfigjson",
                 json({{"auths", {{"r.example.com", entry("from-json")}}}}).dump());
  src.secrets["legacy"] =
      pullSecret("legacy", "kubernetes.io/dockercfg", ".dockercfg",
                 json({{"https://r.example.com", entry("from-legacy")}}).dump());
  src.secrets["broken"] =
      pullSecret("broken", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", "not json");
  src.secrets["opaque"] = pullSecret("opaque", "Opaque", ".dockerconfigjson",
                                     json({{"auths", {{"r.example.com", entry("no")}}}}).dump());
  src.secrets["missing"] = nullptr;

  PullCredentials creds = pullCredentials(*pod, &src, "r.example.com/app:1");
  EXPECT_EQ(users(creds.auths), (std::vector<std::string>{"from-json", "from-legacy"}));
  ASSERT_EQ(creds.warnings.size(), 2u);
  EXPECT_EQ(creds.warnings[0].reason, "FailedToRetrieveImagePullSecret");
  EXPECT_EQ(creds.warnings[0].message, "secret ns/broken: .dockerconfigjson: not valid JSON");
  EXPECT_EQ(creds.warnings[1].message,
            "Unable to retrieve some image pull secrets (missing, unsynced); attempting to pull "
            "the image may not succeed.");

  // Another registry: no credentials (pull anonymously).
  EXPECT_TRUE(pullCredentials(*pod, &src, "busybox").auths.empty());
  // No snapshot: every secret is missing.
  PullCredentials none = pullCredentials(*pod, nullptr, "r.example.com/app");
  EXPECT_TRUE(none.auths.empty());
  EXPECT_EQ(none.warnings.size(), 1u);
}

TEST(PullSecretsTest, NoPullSecretsNoWarnings) {
  api::Pod pod;
  PullCredentials creds = pullCredentials(pod, nullptr, "busybox");
  EXPECT_TRUE(creds.auths.empty());
  EXPECT_TRUE(creds.warnings.empty());
}

}  // namespace
}  // namespace agent::runtime

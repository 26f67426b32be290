// Kubeconfig loading: every field, inline data vs files, relative paths, the
// current-context rules, and errors that name the file and the field.
#include "agent/kubeapi/kubeconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"

namespace agent::kubeapi {
namespace {

using ::testing::HasSubstr;

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cubelet-kc-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

constexpr char kCa[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN EC PRIVATE KEY-----\nKEY\n-----END EC PRIVATE KEY-----\n";

TEST_F(KubeconfigTest, InlineDataAndEveryField) {
  std::string text = R"(apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://10.9.9.9:6443"}
- name: kubernetes
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: )" +
                     absl::Base64Escape(kCa) + R"(
    tls-server-name: kubernetes.default
    insecure-skip-tls-verify: false
users:
- name: system:node:n1
  user:
    client-certificate-data: )" +
                     absl::Base64Escape(kCert) + R"(
    client-key-data: )" +
                     absl::Base64Escape(kKey) +
                     R"(
contexts:
- name: other
  context: {cluster: other, user: system:node:n1}
- name: system:node:n1@kubernetes
  context:
    cluster: kubernetes
    user: system:node:n1
    namespace: kube-system
current-context: system:node:n1@kubernetes
)";
  auto kc = loadKubeconfig(write("kubelet.conf", text));
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_EQ(kc->server, "https://10.0.0.1:6443");
  EXPECT_EQ(kc->clusterName, "kubernetes");
  EXPECT_EQ(kc->userName, "system:node:n1");
  EXPECT_EQ(kc->contextName, "system:node:n1@kubernetes");
  EXPECT_EQ(kc->namespace_, "kube-system");
  EXPECT_EQ(kc->tlsServerName, "kubernetes.default");
  EXPECT_FALSE(kc->insecureSkipTlsVerify);
  EXPECT_EQ(kc->caPem, kCa);
  EXPECT_EQ(kc->caFile, "");
  EXPECT_EQ(kc->clientCertPem, kCert);
  EXPECT_EQ(kc->clientKeyPem, kKey);
  EXPECT_EQ(kc->clientCertFile, "");
  EXPECT_TRUE(kc->hasClientCert());
  EXPECT_EQ(kc->token, "");
}

TEST_F(KubeconfigTest, FilesResolveAgainstTheKubeconfigsDirectory) {
  write("conf/pki/ca.crt", kCa);
  std::string pem = write("pki/kubelet-client-current.pem", std::string(kCert) + kKey);
  std::string path = write("conf/kubelet.conf", R"(
clusters:
- name: c
  cluster: {server: "https://api:6443", certificate-authority: pki/ca.crt}
users:
- name: u
  user:
    client-certificate: )" + pem + R"(
    client-key: ../pki/kubelet-client-current.pem
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
)");
  auto kc = loadKubeconfig(path);
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_EQ(kc->caFile, dir_ + "/conf/pki/ca.crt");
  EXPECT_EQ(kc->caPem, kCa);
  EXPECT_EQ(kc->clientCertFile, pem);
  EXPECT_EQ(kc->clientKeyFile, dir_ + "/conf/../pki/kubelet-client-current.pem");
  EXPECT_EQ(kc->clientCertPem, std::string(kCert) + kKey);
  EXPECT_EQ(kc->clientKeyPem, std::string(kCert) + kKey);

  // A rotation writes new PEMs; reloading picks them up.
  write("pki/kubelet-client-current.pem", "rotated");
  ASSERT_TRUE(reloadClientCertificate(*kc).ok());
  EXPECT_EQ(kc->clientCertPem, "rotated");
  EXPECT_EQ(kc->clientKeyPem, "rotated");
}

TEST_F(KubeconfigTest, TokenAndTokenFile) {
  write("token", "  abc.def\n");
  auto kc = loadKubeconfig(write("bootstrap.conf", R"(
clusters: [{name: c, cluster: {server: "https://1.2.3.4", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)"));
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_EQ(kc->token, "abc.def");
  EXPECT_EQ(kc->tokenFile, dir_ + "/token");
  EXPECT_TRUE(kc->insecureSkipTlsVerify);
  EXPECT_FALSE(kc->hasClientCert());

  auto inline_ = parseKubeconfig(R"(
clusters: [{name: c, cluster: {server: "https://1.2.3.4"}}]
users: [{name: u, user: {token: tok, tokenFile: /nonexistent}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)",
                                 "");
  ASSERT_TRUE(inline_.ok()) << inline_.status();
  EXPECT_EQ(inline_->token, "tok");  // the inline token is the first value
  EXPECT_EQ(inline_->tokenFile, "/nonexistent");
}

TEST_F(KubeconfigTest, CurrentContextRules) {
  const std::string body = R"(
clusters: [{name: c, cluster: {server: "https://1.2.3.4"}}, {name: d, cluster: {server: "https://5.6.7.8"}}]
contexts: [{name: ctx-x, context: {cluster: c}}, {name: ctx-y, context: {cluster: d}}]
)";
  auto two = parseKubeconfig(body, "/k.conf");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().message(),
            "/k.conf: current-context: required when there is more than one context");

  auto picked = parseKubeconfig(body + "current-context: ctx-y\n", "/k.conf");
  ASSERT_TRUE(picked.ok()) << picked.status();
  EXPECT_EQ(picked->server, "https://5.6.7.8");
  EXPECT_EQ(picked->token, "");

  auto one = parseKubeconfig(R"(
clusters: [{name: c, cluster: {server: "https://1.2.3.4"}}]
contexts: [{name: only, context: {cluster: c}}]
)",
                             "/k.conf");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->contextName, "only");

  auto missing = parseKubeconfig(body + "current-context: ctx-z\n", "/k.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "/k.conf: current-context: context \"ctx-z\" not found in contexts");
}

TEST_F(KubeconfigTest, ErrorsNameTheFileAndTheField) {
  struct Case {
    std::string text;
    std::string want;
  };
  const std::string ctx = "contexts: [{name: x, context: {cluster: c, user: u}}]\n";
  const std::string cluster = "clusters: [{name: c, cluster: {server: \"https://1.2.3.4\"}}]\n";
  std::vector<Case> cases = {
      {cluster + ctx + "users: [{name: u, user: {client-certificate: /x.crt, client-key: /x}}]\n",
       "users[0].user.client-certificate: read /x.crt: No such file or directory"},
      {cluster + ctx + "users: [{name: u, user: {client-certificate-data: " +
           absl::Base64Escape(kCert) + ", client-key: missing.key}}]\n",
       "users[0].user.client-key: read " + dir_ + "/missing.key: No such file or directory"},
      {cluster + ctx + "users: [{name: v, user: {}}, {name: u, user: {client-key-data: '!!'}}]\n",
       "users[1].user.client-key-data: invalid base64"},
      {cluster + ctx + "users: [{name: u, user: {client-certificate-data: " +
           absl::Base64Escape(kCert) + "}}]\n",
       "users[0].user.client-key: required with client-certificate"},
      {cluster + ctx + "users: [{name: u, user: {exec: {command: aws}}}]\n",
       "users[0].user.exec: credential plugins are not supported"},
      {cluster + ctx + "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
       "users[0].user.auth-provider: credential plugins are not supported"},
      {cluster + ctx + "users: [{name: u, user: {username: a, password: b}}]\n",
       "users[0].user.username: basic authentication is not supported"},
      {cluster + ctx + "users: [{name: u, user: {tokenFile: nope}}]\n",
       "users[0].user.tokenFile: read " + dir_ + "/nope: No such file or directory"},
      {cluster + ctx + "users: [{name: u, user: {token: 5}}]\n",
       "users[0].user.token: expected string"},
      {cluster + ctx, "contexts[0].context.user: user \"u\" not found in users"},
      {ctx, "contexts[0].context.cluster: cluster \"c\" not found in clusters"},
      {"clusters: [{name: c, cluster: {certificate-authority: ca.crt}}]\n" + ctx,
       "clusters[0].cluster.server: required"},
      {"clusters: [{name: c, cluster: {server: \"10.0.0.1:6443\"}}]\n" + ctx,
       "clusters[0].cluster.server: \"10.0.0.1:6443\" is not an http(s) URL"},
      {"clusters: [{name: c, cluster: {server: \"https://a\", certificate-authority: ca.crt}}]\n" +
           ctx,
       "clusters[0].cluster.certificate-authority: read " + dir_ +
           "/ca.crt: No such file or directory"},
      {"contexts: {x: 1}\n", "contexts: expected array"},
      {"", "empty kubeconfig"},
      {"clusters: [\n", "kubelet.conf:"},
  };
  for (const Case& c : cases) {
    std::string path = write("kubelet.conf", c.text);
    auto kc = loadKubeconfig(path);
    ASSERT_FALSE(kc.ok()) << c.text;
    EXPECT_THAT(std::string(kc.status().message()), HasSubstr(path + ":")) << c.text;
    EXPECT_THAT(std::string(kc.status().message()), HasSubstr(c.want)) << c.text;
  }
  auto nofile = loadKubeconfig(dir_ + "/absent.conf");
  ASSERT_FALSE(nofile.ok());
  EXPECT_EQ(nofile.status().message(), "read " + dir_ + "/absent.conf: No such file or directory");
}

}  // namespace
}  // namespace agent::kubeapi

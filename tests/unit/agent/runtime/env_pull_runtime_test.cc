// The runtime manager's use of EnvSources against a real gRPC CRI double: the
// container gets the API-derived environment, pull secrets' credentials are tried in
// order, and config errors become CreateContainerConfigError with the kubelet's text.
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "agent/api/pod_decode.h"
#include "agent/runtime/runtime_manager.h"
#include "cri/grpc_runtime_client.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/cubelet_process.h"
#include "tests/support/fake_cri_env.h"

namespace agent::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class EnvPullRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("env-pull");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    runtime_ = std::make_unique<RuntimeManager>(*client_, *client_,
                                                cubelet::testing::testRuntimeOptions(dir_));
  }

  std::shared_ptr<const api::Pod> pod(json container, json specExtra = json::object()) {
    container["name"] = "c";
    json j = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u1"}}},
              {"spec", {{"nodeName", "node-1"}, {"containers", {container}}}}};
    j["spec"].update(specExtra);
    auto p = api::decodePod(j);
    EXPECT_TRUE(p.ok()) << p.status();
    api::applyPodDefaults(*p);
    return std::make_shared<const api::Pod>(std::move(*p));
  }

  SyncResult sync(std::shared_ptr<const api::Pod> p, EnvSourcesPtr sources) {
    SyncRequest req;
    req.pod = p;
    req.status.uid = p->metadata.uid;
    req.actions = computePodActions(*p, req.status);
    for (size_t i : req.actions.containersToStart) req.starts.push_back({i, false});
    req.envSources = std::move(sources);
    return runtime_->syncPod(req);
  }

  // The sandbox adds warnings of its own (DNS); look for ours among them.
  static bool hasWarning(const SyncResult& res, const std::string& want) {
    for (const auto& w : res.warnings) {
      if (w == want) return true;
    }
    ADD_FAILURE() << "warnings: " << testing::PrintToString(res.warnings);
    return false;
  }

  std::string dir_;
  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  std::unique_ptr<RuntimeManager> runtime_;
};

TEST_F(EnvPullRuntimeTest, ContainerGetsEnvironmentFromSnapshot) {
  cri_->addImage("busybox:1.35");
  auto src = std::make_shared<EnvSources>();
  src->apiAvailable = true;
  src->servicesSynced = true;
  auto cm = std::make_shared<api::ConfigMap>();
  cm->data = {{"K", "v"}, {"bad key", "x"}};
  src->configMaps["cm"] = cm;
  src->hostIPs = {"192.168.5.5"};
  auto p =
      pod({{"image", "busybox:1.35"},
           {"envFrom", {{{"configMapRef", {{"name", "cm"}}}}}},
           {"env",
            {{{"name", "H"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}}}}}});
  SyncResult res = sync(p, src);
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, "") << res.starts[0].message;
  ASSERT_EQ(cri_->containerIds().size(), 1u);
  auto config = cri_->containerConfig(cri_->containerIds()[0]);
  ASSERT_TRUE(config.has_value());
  std::map<std::string, std::string> env;
  for (const auto& kv : config->envs()) env[kv.key()] = kv.value();
  EXPECT_EQ(env["K"], "v");
  EXPECT_EQ(env["H"], "192.168.5.5");
  EXPECT_EQ(env.count("bad key"), 0u);
  EXPECT_TRUE(hasWarning(res,
                         "InvalidEnvironmentVariableNames: Keys [bad key] from the EnvFrom "
                         "configMap ns/cm were skipped since they are considered invalid "
                         "environment variable names."));
}

TEST_F(EnvPullRuntimeTest, MissingConfigMapIsCreateContainerConfigError) {
  cri_->addImage("busybox:1.35");
  auto src = std::make_shared<EnvSources>();
  src->apiAvailable = true;
  src->servicesSynced = true;
  src->configMaps["cm"] = nullptr;
  auto p = pod(
      {{"image", "busybox:1.35"},
       {"env",
        {{{"name", "V"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cm"}, {"key", "k"}}}}}}}}});
  SyncResult res = sync(p, src);
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, kCreateContainerConfigError);
  EXPECT_EQ(res.starts[0].message, "configmap \"cm\" not found");
  EXPECT_TRUE(cri_->containerIds().empty());
}

TEST_F(EnvPullRuntimeTest, PullCredentialsTriedInOrder) {
  auto src = std::make_shared<EnvSources>();
  src->apiAvailable = true;
  src->servicesSynced = true;
  auto secret = std::make_shared<api::Secret>();
  secret->type = "kubernetes.io/dockerconfigjson";
  secret->data[".dockerconfigjson"] =
      json({{"auths",
             {{"reg.example.com/team", {{"auth", absl::Base64Escape("a:1")}}},
              {"reg.example.com", {{"username", "b"}, {"password", "2"}}}}}})
          .dump();
  src->secrets["regcred"] = secret;
  auto p = pod({{"image", "reg.example.com/team/app:1"}},
               {{"imagePullSecrets", {{{"name", "regcred"}}, {{"name", "gone"}}}}});
  // The first credential is refused; the second works.
  cri_->failWith("PullImage", grpc::Status(grpc::StatusCode::UNKNOWN, "401 Unauthorized"), 1);
  SyncResult res = sync(p, src);
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, "") << res.starts[0].message;
  EXPECT_EQ(cri_->callCount("PullImage"), 2);
  EXPECT_TRUE(hasWarning(res,
                         "FailedToRetrieveImagePullSecret: Unable to retrieve some image "
                         "pull secrets (gone); attempting to pull the image may not succeed."));
}

TEST_F(EnvPullRuntimeTest, AllCredentialsFailingJoinsErrors) {
  auto src = std::make_shared<EnvSources>();
  src->apiAvailable = true;
  src->servicesSynced = true;
  auto secret = std::make_shared<api::Secret>();
  secret->type = "kubernetes.io/dockercfg";
  secret->data[".dockercfg"] =
      json({{"reg.example.com", {{"username", "a"}, {"password", "1"}}},
            {"https://reg.example.com/v1/", {{"username", "b"}, {"password", "2"}}}})
          .dump();
  src->secrets["regcred"] = secret;
  auto p =
      pod({{"image", "reg.example.com/app:1"}}, {{"imagePullSecrets", {{{"name", "regcred"}}}}});
  cri_->failWith("PullImage", grpc::Status(grpc::StatusCode::UNKNOWN, "denied"), 2);
  SyncResult res = sync(p, src);
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, kErrImagePull);
  EXPECT_EQ(cri_->callCount("PullImage"), 2);  // no anonymous fallback
  EXPECT_NE(res.starts[0].message.find("["), std::string::npos) << res.starts[0].message;
}

}  // namespace
}  // namespace agent::runtime

// Bad input never stops the agent or the good pods: broken manifests, missing
// images and commands, duplicate pods, a missing runtime socket, bad flags.
#include <filesystem>
#include <set>
#include <thread>

#include "tests/support/agent_test_fixture.h"
#include "tests/support/run_command.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class BadInputTest : public AgentTest {
 protected:
  bool logHas(const std::string& text, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (cubelet_->log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

TEST_F(BadInputTest, BrokenManifestsAreReportedAndGoodPodsRun) {
  startCubelet();
  std::string dir = cubelet_->manifestDir();
  cubelet_->writeManifest("good.yaml", podManifest("good", "sleep 1000"));
  cubelet_->writeManifest("malformed.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n");
  cubelet_->writeManifest("wrongtype.yaml",
                          "apiVersion: v1\nkind: Pod\nmetadata: {name: wt}\nspec:\n  containers: "
                          "\"not a list\"\n");
  cubelet_->writeManifest("noimage.yaml",
                          "apiVersion: v1\nkind: Pod\nmetadata: {name: ni}\nspec:\n  containers:\n"
                          "  - name: c\n");
  cubelet_->writeManifest("notpod.json", R"({"apiVersion": "v1", "kind": "Service"})");
  cubelet_->writeManifest(".hidden.yaml", "this is ignored: [");
  ASSERT_TRUE(cubelet_->waitForPhase("good", "Running", 60s)) << cubelet_->log();

  EXPECT_TRUE(logHas(dir + "/malformed.yaml:4:1: ")) << cubelet_->log();  // line:column
  EXPECT_TRUE(logHas(dir + "/wrongtype.yaml: spec.containers: expected")) << cubelet_->log();
  EXPECT_TRUE(logHas(dir + "/noimage.yaml: spec.containers[0].image: Required value"))
      << cubelet_->log();
  EXPECT_TRUE(logHas(dir + "/notpod.json: ")) << cubelet_->log();
  EXPECT_EQ(cubelet_->log().find(".hidden.yaml"), std::string::npos);
  EXPECT_EQ(cubelet_->pods()->at("items").size(), 1u);
  // Fixing a file brings its pod up; errors are not repeated on every rescan.
  cubelet_->writeManifest("noimage.yaml", podManifest("ni", "sleep 1000"));
  ASSERT_TRUE(cubelet_->waitForPhase("ni", "Running", 60s));
  std::string log = cubelet_->log();
  size_t first = log.find("malformed.yaml:4");
  EXPECT_EQ(log.find("malformed.yaml:4", first + 1), std::string::npos) << "error logged twice";
  EXPECT_TRUE(cubelet_->running());
}

TEST_F(BadInputTest, DuplicatePodNameKeepsTheFirst) {
  startCubelet();
  cubelet_->writeManifest("a.yaml", podManifest("dup", "sleep 1000"));
  ASSERT_TRUE(cubelet_->waitForPhase("dup", "Running", 60s));
  std::string uid = (*cubelet_->pod("dup"))["metadata"]["uid"];
  cubelet_->writeManifest("b.yaml", podManifest("dup", "echo other; sleep 1000"));
  EXPECT_TRUE(logHas("b.yaml")) << cubelet_->log();
  EXPECT_NE(cubelet_->log().find("a.yaml"), std::string::npos);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ((*cubelet_->pod("dup"))["metadata"]["uid"], uid);
  EXPECT_EQ(sandboxesOf("dup-it-node").size(), 1u);
}

TEST_F(BadInputTest, MissingImageGivesErrImagePullThenBackOff) {
  startCubelet();
  cubelet_->writeManifest("good.yaml", podManifest("good", "sleep 1000"));
  cubelet_->writeManifest("noimg.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: noimg}
spec:
  containers:
  - {name: c, image: "localhost/cubelet/does-not-exist:1.0", imagePullPolicy: IfNotPresent}
)Y");
  std::set<std::string> reasons;
  ASSERT_TRUE(cubelet_->waitForPod(
      "noimg",
      [&](const std::optional<json>& p) {
        if (p) reasons.insert(stateSummary(containerStatus(*p, "c")));
        return reasons.count("waiting:ErrImagePull") && reasons.count("waiting:ImagePullBackOff");
      },
      60s))
      << cubelet_->pods()->dump();
  json pod = *cubelet_->pod("noimg");
  EXPECT_EQ(pod["status"]["phase"], "Pending");
  EXPECT_TRUE(cubelet_->waitForPhase("good", "Running", 30s));
}

TEST_F(BadInputTest, NeverPullPolicyWithoutImage) {
  startCubelet();
  cubelet_->writeManifest("never.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  containers:
  - {name: c, image: "localhost/cubelet/absent:2", imagePullPolicy: Never}
)Y");
  ASSERT_TRUE(cubelet_->waitForPod(
      "never",
      [](const std::optional<json>& p) {
        return p && stateSummary(containerStatus(*p, "c")) == "waiting:ErrImageNeverPull";
      },
      60s))
      << cubelet_->pods()->dump();
}

TEST_F(BadInputTest, MissingCommandIsAContainerErrorNotAnAgentError) {
  startCubelet();
  cubelet_->writeManifest("good.yaml", podManifest("good", "sleep 1000"));
  cubelet_->writeManifest("nocmd.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: nocmd}
spec:
  containers:
  - {name: c, image: localhost/cubelet/busybox:1.35, command: ["/no/such/command"]}
)Y");
  std::set<std::string> reasons;
  ASSERT_TRUE(cubelet_->waitForPod(
      "nocmd",
      [&](const std::optional<json>& p) {
        if (p) reasons.insert(stateSummary(containerStatus(*p, "c")));
        return reasons.count("waiting:RunContainerError") ||
               reasons.count("waiting:CrashLoopBackOff");
      },
      60s))
      << cubelet_->pods()->dump();
  EXPECT_TRUE(cubelet_->waitForPhase("good", "Running", 30s));
  EXPECT_TRUE(cubelet_->running());
}

TEST_F(BadInputTest, MissingRuntimeSocketKeepsAgentUp) {
  cubelet_ = std::make_unique<CubeletProcess>(
      dir_, std::vector<std::string>{"--container-runtime-endpoint=unix://" + dir_ + "/none.sock"});
  ASSERT_TRUE(cubelet_->start().ok()) << cubelet_->log();
  cubelet_->writeManifest("p.yaml", podManifest("p", "sleep 1000"));
  EXPECT_TRUE(logHas("PLEG relist failed")) << cubelet_->log();
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(cubelet_->running());
  auto p = cubelet_->pod("p");
  ASSERT_TRUE(p.has_value()) << "the pod is known even while the runtime is down";
}

TEST(CubeletFlagsTest, UnknownFlagAndBadConfigFailClearly) {
  const std::string bin = CUBELET_BINARY_DIR "/agent/cubelet";
  auto r = runCommand({bin, "--no-such-flag=1"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exitCode, 0);
  EXPECT_NE(r->output.find("--no-such-flag"), std::string::npos) << r->output;

  std::string dir = makeTempDir("cubelet-flags");
  std::string cfg = dir + "/config.yaml";
  FILE* f = std::fopen(cfg.c_str(), "w");
  std::fputs(
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nnotAField: 1\n", f);
  std::fclose(f);
  r = runCommand({bin, "--config=" + cfg});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exitCode, 0);
  EXPECT_NE(r->output.find(cfg), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("notAField"), std::string::npos) << r->output;

  r = runCommand({bin, "--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exitCode, 0);
  EXPECT_NE(r->output.find("--pod-manifest-path"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cubelet::testing

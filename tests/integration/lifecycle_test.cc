// Pod lifecycle with a real containerd: manifest update and removal with the
// grace period, agent restarts that leave pods alone, runtime restarts.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string readAll(const std::string& dir) {
  std::string out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    out += ss.str();
  }
  return out;
}

class LifecycleTest : public AgentTest {};

TEST_F(LifecycleTest, ChangedManifestReplacesPod) {
  startCubelet();
  cubelet_->writeManifest("p.yaml", podManifest("p", "echo v1; sleep 1000"));
  ASSERT_TRUE(cubelet_->waitForPhase("p", "Running", 60s));
  std::string uid1 = (*cubelet_->pod("p"))["metadata"]["uid"];
  cubelet_->writeManifest("p.yaml", podManifest("p", "echo v2; sleep 1000"));
  ASSERT_TRUE(cubelet_->waitForPod(
      "p",
      [&](const std::optional<json>& p) {
        return p && (*p)["metadata"]["uid"] != uid1 &&
               (*p)["status"].value("phase", "") == "Running";
      },
      60s))
      << cubelet_->pods()->dump();
  // The old pod's sandbox and containers are gone from the runtime.
  ASSERT_TRUE(cubelet_->waitForPod(
      "p", [&](const std::optional<json>&) { return sandboxesOf("p-it-node").size() == 1; }, 30s));
  auto containers = containersOf("p-it-node");
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_NE(containers[0].labels().at("io.kubernetes.pod.uid"), uid1);
}

TEST_F(LifecycleTest, RemovedManifestStopsPodWithGracePeriod) {
  startCubelet();
  // Traps SIGTERM, says so on stdout, and takes a second to exit cleanly.
  cubelet_->writeManifest("graceful.yaml",
                          podManifest("graceful",
                                      "trap 'echo got SIGTERM; sleep 1; exit 0' TERM; echo ready; "
                                      "while true; do sleep 0.1; done",
                                      "Always", "  terminationGracePeriodSeconds: 10\n"));
  // Ignores SIGTERM (PID 1 without a handler): only SIGKILL after the grace period ends it.
  cubelet_->writeManifest("stubborn.yaml", podManifest("stubborn", "exec sleep 1000", "Always",
                                                       "  terminationGracePeriodSeconds: 3\n"));
  ASSERT_TRUE(cubelet_->waitForPhase("graceful", "Running", 60s));
  ASSERT_TRUE(cubelet_->waitForPhase("stubborn", "Running", 60s));
  std::string gracefulLogs = cubelet_->podLogsDir();
  auto t0 = std::chrono::steady_clock::now();
  cubelet_->removeManifest("graceful.yaml");
  cubelet_->removeManifest("stubborn.yaml");

  bool sawTerm = false;
  std::chrono::steady_clock::duration gracefulGone{}, stubbornGone{};
  while (std::chrono::steady_clock::now() - t0 < 30s) {
    if (readAll(gracefulLogs).find("stdout F got SIGTERM") != std::string::npos) sawTerm = true;
    auto now = std::chrono::steady_clock::now() - t0;
    if (gracefulGone == gracefulGone.zero() && sandboxesOf("graceful-it-node").empty()) {
      gracefulGone = now;
    }
    if (stubbornGone == stubbornGone.zero() && sandboxesOf("stubborn-it-node").empty()) {
      stubbornGone = now;
    }
    if (gracefulGone != gracefulGone.zero() && stubbornGone != stubbornGone.zero()) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(sawTerm) << "the container's SIGTERM handler never ran";
  ASSERT_NE(stubbornGone, stubbornGone.zero()) << "stubborn pod never removed";
  ASSERT_NE(gracefulGone, gracefulGone.zero()) << "graceful pod never removed";
  // SIGKILL came only after the 3 s grace period; the graceful one did not wait 10 s.
  EXPECT_GE(stubbornGone, 3s);
  EXPECT_LT(gracefulGone, 9s);
  EXPECT_FALSE(cubelet_->pod("graceful").has_value());
  EXPECT_TRUE(containersOf("graceful-it-node").empty());
  // The pods' logs and directories are cleaned up with them.
  EXPECT_TRUE(std::filesystem::is_empty(cubelet_->podLogsDir()));
}

TEST_F(LifecycleTest, AgentRestartRestartsNoContainer) {
  startCubelet();
  cubelet_->writeManifest("a.yaml", podManifest("a", "sleep 1000"));
  cubelet_->writeManifest("b.yaml", podManifest("b", "sleep 1000"));
  ASSERT_TRUE(cubelet_->waitForPhase("a", "Running", 60s));
  ASSERT_TRUE(cubelet_->waitForPhase("b", "Running", 60s));
  auto before = containersOf("a-it-node");
  auto sandboxesBefore = sandboxesOf("a-it-node");
  ASSERT_EQ(before.size(), 1u);

  auto rc = cubelet_->stop();
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);
  // The pods keep running while the agent is away.
  auto st = cri_->containerStatus(before[0].id(), false);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->status().state(), runtime::v1::CONTAINER_RUNNING);

  startCubelet();
  ASSERT_TRUE(cubelet_->waitForPhase("a", "Running", 30s));
  std::this_thread::sleep_for(4s);  // several relists and syncs
  auto after = containersOf("a-it-node");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id(), before[0].id());
  auto sandboxesAfter = sandboxesOf("a-it-node");
  ASSERT_EQ(sandboxesAfter.size(), 1u);
  EXPECT_EQ(sandboxesAfter[0].id(), sandboxesBefore[0].id());
  EXPECT_EQ(containerStatus(*cubelet_->pod("a"), "main")["restartCount"], 0);
  EXPECT_EQ(containersOf("b-it-node").size(), 1u);
}

TEST_F(LifecycleTest, RuntimeOutageKeepsAgentAndPodsRunning) {
  startCubelet();
  cubelet_->writeManifest("a.yaml", podManifest("a", "sleep 1000"));
  ASSERT_TRUE(cubelet_->waitForPhase("a", "Running", 60s));
  auto before = containersOf("a-it-node");
  ASSERT_EQ(before.size(), 1u);

  ASSERT_TRUE(containerd().kill().ok());
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(cubelet_->running()) << "cubelet died with the runtime";
  // A pod added during the outage waits for the runtime.
  cubelet_->writeManifest("late.yaml", podManifest("late", "sleep 1000"));
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(containerd().startAgain().ok());

  ASSERT_TRUE(cubelet_->waitForPhase("late", "Running", 60s)) << cubelet_->pods()->dump();
  auto after = containersOf("a-it-node");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id(), before[0].id()) << "a running container was restarted";
  EXPECT_NE(cubelet_->log().find("PLEG relist failed"), std::string::npos);
}

}  // namespace
}  // namespace cubelet::testing

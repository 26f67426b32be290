// Sidecar containers (init containers with restartPolicy Always) on a real
// containerd: a sidecar starts in order between two regular init containers,
// outlives the init sequence and runs next to the app container, is restarted when
// its process dies (the regular init containers are not run again), stops after
// the app container when the pod goes away, and is stopped when the app container
// of a restartPolicy Never pod completes, which then ends Succeeded. The containers
// append what they do to a file on a hostPath volume, in the order they do it.
#include <algorithm>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/strings/str_join.h"
#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class SidecarTest : public AgentTest {
 protected:
  std::string marks() const { return dir_ + "/marks"; }

  // The lines of the marks file, in the order they were written.
  std::vector<std::string> lines() {
    std::ifstream in(marks() + "/log");
    std::vector<std::string> out;
    std::string l;
    while (std::getline(in, l)) {
      if (!l.empty()) out.push_back(l);
    }
    return out;
  }
  std::string joined() { return absl::StrJoin(lines(), ","); }
  int count(const std::string& line) {
    auto ls = lines();
    return static_cast<int>(std::count(ls.begin(), ls.end(), line));
  }
  // Index of the first occurrence of `line`, or -1.
  int indexOf(const std::string& line) {
    auto ls = lines();
    auto it = std::find(ls.begin(), ls.end(), line);
    return it == ls.end() ? -1 : static_cast<int>(it - ls.begin());
  }

  static bool pollUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return pred();
  }

  // The runtime's running container `name` of pod `pod` ("" when none).
  std::string runningId(const std::string& pod, const std::string& name) {
    for (const auto& c : containersOf(pod + "-it-node")) {
      if (c.labels().at("io.kubernetes.container.name") == name &&
          c.state() == runtime::v1::CONTAINER_RUNNING)
        return c.id();
    }
    return "";
  }

  json container(const std::string& name, const std::string& script) {
    return {{"name", name},
            {"image", kBusyboxImage},
            {"command", json::array({"sh", "-c", script})},
            {"volumeMounts", json::array({{{"name", "marks"}, {"mountPath", "/marks"}}})}};
  }

  json pod(const std::string& name, const std::string& policy, const json& inits,
           const json& apps) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"restartPolicy", policy},
              {"terminationGracePeriodSeconds", 20},
              {"volumes",
               json::array({{{"name", "marks"},
                             {"hostPath", {{"path", marks()}, {"type", "DirectoryOrCreate"}}}}})},
              {"initContainers", inits},
              {"containers", apps}}}};
  }

  std::string dump() {
    auto p = cubelet_->pods();
    return (p.ok() ? p->dump(1) : std::string(p.status().message())) + "\nmarks: " + joined();
  }
};

// Writes `start`, then idles until SIGTERM; on SIGTERM waits `termDelay` seconds,
// writes `term` and exits 0.
std::string idler(const std::string& start, const std::string& term, int termDelay = 0) {
  std::string onTerm = (termDelay ? "sleep " + std::to_string(termDelay) + "; " : "") + "echo " +
                       term + " >> /marks/log; exit 0";
  return "trap '" + onTerm + "' TERM; echo " + start + " >> /marks/log; sleep 100000 & wait";
}

TEST_F(SidecarTest, SidecarRunsBesideAppRestartsAndStopsLast) {
  startCubelet({"--v=3"});
  json sidecar = container("s", idler("S-start", "S-term"));
  sidecar["restartPolicy"] = "Always";
  json p = pod("sc", "Always",
               json::array({container("a", "echo A-done >> /marks/log"), sidecar,
                            // B gives the sidecar's first write a moment.
                            container("b",
                                      "for i in 1 2 3 4 5 6 7 8 9 10; do grep -q S-start "
                                      "/marks/log && break; sleep 0.2; done; "
                                      "echo B-done >> /marks/log")}),
               // The app takes 2 s to stop: the sidecar must not get SIGTERM before.
               json::array({container("c", idler("C-start", "C-term", 2))}));
  cubelet_->writeManifest("sc.yaml", p.dump(2));
  ASSERT_TRUE(cubelet_->waitForPhase("sc", "Running", 90s)) << dump();
  ASSERT_TRUE(pollUntil([&] { return indexOf("C-start") >= 0; }, 30s)) << dump();
  EXPECT_EQ(joined(), "A-done,S-start,B-done,C-start");

  // Initialized, with the sidecar running, started and ready next to the app.
  ASSERT_TRUE(cubelet_->waitForPod(
      "sc",
      [&](const std::optional<json>& j) {
        if (!j) return false;
        json s = containerStatus(*j, "s", true);
        return stateSummary(s) == "running" && s.value("started", false) && s.value("ready", false);
      },
      30s))
      << dump();
  json sc = *cubelet_->pod("sc");
  EXPECT_EQ(stateSummary(containerStatus(sc, "a", true)), "terminated:Completed:0");
  EXPECT_EQ(stateSummary(containerStatus(sc, "b", true)), "terminated:Completed:0");
  EXPECT_EQ(stateSummary(containerStatus(sc, "c")), "running");
  for (const auto& c : sc["status"]["conditions"]) {
    if (c["type"] == "Initialized" || c["type"] == "Ready") {
      EXPECT_EQ(c["status"], "True") << c;
    }
  }

  // The sidecar's process dies: it is started again, the app keeps running and the
  // regular init containers do not run again.
  std::string s1 = runningId("sc", "s");
  std::string c1 = runningId("sc", "c");
  ASSERT_FALSE(s1.empty());
  auto killed = cri_->execSync(s1, {"killall", "sleep"}, 10);
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_TRUE(pollUntil(
      [&] {
        std::string s2 = runningId("sc", "s");
        return !s2.empty() && s2 != s1 && count("S-start") == 2;
      },
      60s))
      << dump();
  ASSERT_TRUE(cubelet_->waitForPod(
      "sc",
      [&](const std::optional<json>& j) {
        return j && containerStatus(*j, "s", true).value("restartCount", 0) == 1 &&
               stateSummary(containerStatus(*j, "s", true)) == "running";
      },
      30s))
      << dump();
  EXPECT_EQ(runningId("sc", "c"), c1) << "the app container was restarted";
  EXPECT_EQ(count("A-done"), 1);
  EXPECT_EQ(count("B-done"), 1);
  EXPECT_EQ((*cubelet_->pod("sc"))["status"]["phase"], "Running");

  // Removed: the app container stops first (taking 2 s), then the sidecar.
  cubelet_->removeManifest("sc.yaml");
  ASSERT_TRUE(pollUntil([&] { return sandboxesOf("sc-it-node").empty(); }, 60s)) << dump();
  int cTerm = indexOf("C-term"), sTerm = indexOf("S-term");
  ASSERT_GE(cTerm, 0) << joined();
  ASSERT_GE(sTerm, 0) << joined();
  EXPECT_LT(cTerm, sTerm) << "the sidecar stopped before the app container: " << joined();
}

TEST_F(SidecarTest, NeverPodWithCompletedAppSucceedsAndStopsTheSidecar) {
  startCubelet({"--v=3"});
  json sidecar = container("s", idler("S-start", "S-term"));
  sidecar["restartPolicy"] = "Always";
  json p = pod("done", "Never", json::array({sidecar}),
               json::array({container("c", "sleep 2; echo C-done >> /marks/log")}));
  cubelet_->writeManifest("done.yaml", p.dump(2));
  ASSERT_TRUE(cubelet_->waitForPhase("done", "Succeeded", 90s)) << dump();
  json j = *cubelet_->pod("done");
  EXPECT_EQ(stateSummary(containerStatus(j, "c")), "terminated:Completed:0");
  std::string s = stateSummary(containerStatus(j, "s", true));
  EXPECT_EQ(s.rfind("terminated:", 0), 0u) << s;
  EXPECT_FALSE(containerStatus(j, "s", true).value("ready", true));
  // The sidecar got SIGTERM after the app was done, and nothing runs any more.
  EXPECT_EQ(joined(), "S-start,C-done,S-term");
  for (const auto& c : containersOf("done-it-node")) {
    EXPECT_NE(c.state(), runtime::v1::CONTAINER_RUNNING)
        << c.labels().at("io.kubernetes.container.name");
  }
  // It stays Succeeded: the sidecar is not started again.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ((*cubelet_->pod("done"))["status"]["phase"], "Succeeded");
  EXPECT_EQ(count("S-start"), 1);
}

}  // namespace
}  // namespace cubelet::testing

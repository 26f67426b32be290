// Static pods on real containerd: running, restart policies with backoff, init
// container order, CRI labels and annotations, container logs.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/runtime/labels.h"
#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class StaticPodsTest : public AgentTest {};

TEST_F(StaticPodsTest, PodRunsWithKubeletLabelsLogsAndStatus) {
  startCubelet();
  cubelet_->writeManifest("web.yaml", R"Y(apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  containers:
  - name: httpd
    image: localhost/cubelet/busybox:1.35
    command: ["sh", "-c", "echo starting $(WHO) on $(PORT); exec httpd -f -p $(PORT)"]
    env:
    - {name: PORT, value: "8080"}
    - {name: WHO, value: "web-$(PORT)"}
    ports: [{containerPort: 8080}]
)Y");
  ASSERT_TRUE(cubelet_->waitForPhase("web", "Running", 60s)) << cubelet_->pods()->dump();
  json pod = *cubelet_->pod("web");
  EXPECT_EQ(pod["metadata"]["namespace"], "demo");
  std::string uid = pod["metadata"]["uid"];
  EXPECT_EQ(uid.size(), 32u);
  EXPECT_EQ(pod["metadata"]["annotations"]["kubernetes.io/config.hash"], uid);
  EXPECT_EQ(pod["metadata"]["annotations"]["kubernetes.io/config.source"], "file");
  EXPECT_TRUE(pod["metadata"]["annotations"].contains("kubernetes.io/config.seen"));
  json cs = containerStatus(pod, "httpd");
  EXPECT_EQ(stateSummary(cs), "running");
  EXPECT_EQ(cs["ready"], true);
  EXPECT_EQ(cs["restartCount"], 0);
  EXPECT_FALSE(pod["status"].value("podIP", "").empty()) << pod.dump();
  EXPECT_EQ(pod["status"]["hostIP"], "127.0.0.1");

  // What crictl and log shippers see.
  auto sandboxes = sandboxesOf("web-it-node");
  ASSERT_EQ(sandboxes.size(), 1u);
  const auto& sl = sandboxes[0].labels();
  EXPECT_EQ(sl.at(agent::runtime::kPodNamespaceLabel), "demo");
  EXPECT_EQ(sl.at(agent::runtime::kPodUidLabel), uid);
  EXPECT_EQ(sl.at("app"), "web");
  EXPECT_EQ(sandboxes[0].metadata().name(), "web-it-node");
  auto containers = containersOf("web-it-node");
  ASSERT_EQ(containers.size(), 1u);
  const auto& c = containers[0];
  EXPECT_EQ(c.labels().at(agent::runtime::kContainerNameLabel), "httpd");
  EXPECT_EQ(c.annotations().at(agent::runtime::kContainerRestartCountAnnotation), "0");
  EXPECT_FALSE(c.annotations().at(agent::runtime::kContainerHashAnnotation).empty());
  EXPECT_EQ(c.annotations().at(agent::runtime::kTerminationMessagePathAnnotation),
            "/dev/termination-log");
  EXPECT_EQ(c.annotations().at(agent::runtime::kPodTerminationGracePeriodAnnotation), "30");
  EXPECT_EQ(cs["containerID"], "containerd://" + c.id());

  // Log file in the kubelet's layout, CRI format, with $(VAR) expanded; and the symlink.
  std::string logPath = cubelet_->podLogsDir() + "/demo_web-it-node_" + uid + "/httpd/0.log";
  std::string content;
  for (int i = 0; i < 50 && content.find("starting") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    content = readFile(logPath);
  }
  EXPECT_NE(content.find(" stdout F starting web-8080 on 8080"), std::string::npos) << content;
  std::string link = cubelet_->linkDir() + "/web-it-node_demo_httpd-" + c.id() + ".log";
  ASSERT_TRUE(std::filesystem::is_symlink(link)) << link;
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), logPath);
}

TEST_F(StaticPodsTest, HostNetworkPodRuns) {
  startCubelet();
  cubelet_->writeManifest("hn.yaml",
                          podManifest("hn", "sleep 1000", "Always", "  hostNetwork: true\n"));
  ASSERT_TRUE(cubelet_->waitForPhase("hn", "Running", 60s)) << cubelet_->pods()->dump();
  EXPECT_EQ((*cubelet_->pod("hn"))["status"]["podIP"], "127.0.0.1");
}

TEST_F(StaticPodsTest, AlwaysRestartsWithGrowingBackoff) {
  startCubelet();
  cubelet_->writeManifest("crash.yaml", podManifest("crash", "echo run; exit 3"));
  // Backoff base is 1 s here: restarts at ~0 s, 1 s, 2 s, 4 s after each exit.
  bool sawBackOff = false;
  ASSERT_TRUE(cubelet_->waitForPod(
      "crash",
      [&](const std::optional<json>& p) {
        if (!p) return false;
        json cs = containerStatus(*p, "main");
        if (stateSummary(cs) == "waiting:CrashLoopBackOff") sawBackOff = true;
        return cs.value("restartCount", 0) >= 3;
      },
      60s));
  EXPECT_TRUE(sawBackOff);
  json pod = *cubelet_->pod("crash");
  EXPECT_EQ(pod["status"]["phase"], "Running");
  json cs = containerStatus(pod, "main");
  EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 3);
  EXPECT_EQ(cs["lastState"]["terminated"]["reason"], "Error");

  // The kubelet's GC keeps one dead instance per container (plus the current one);
  // the attempt number (metadata.attempt) carries the restart count.
  EXPECT_TRUE(cubelet_->waitForPod(
      "crash", [&](const auto&) { return containersOf("crash-it-node").size() <= 2; }, 10s));
  int maxAttempt = 0;
  for (const auto& c : containersOf("crash-it-node")) {
    maxAttempt = std::max<int>(maxAttempt, static_cast<int>(c.metadata().attempt()));
  }
  EXPECT_GE(maxAttempt, 3);
}

TEST_F(StaticPodsTest, BackoffDelaysRestartsExponentially) {
  startCubelet();
  cubelet_->writeManifest("crash.yaml", podManifest("crash", "exit 1"));
  // Record when each restart count is first seen.
  std::map<int, std::chrono::steady_clock::time_point> seen;
  cubelet_->waitForPod(
      "crash",
      [&](const std::optional<json>& p) {
        if (!p) return false;
        int rc = containerStatus(*p, "main").value("restartCount", 0);
        if (!seen.count(rc)) seen[rc] = std::chrono::steady_clock::now();
        return rc >= 4;
      },
      60s);
  ASSERT_TRUE(seen.count(4)) << "restart counts seen: " << seen.size();
  auto gap = [&](int a, int b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(seen[b] - seen[a]).count();
  };
  // base 1 s: restart 1 immediately, 2 after 1 s, 3 after 2 s, 4 after 4 s.
  EXPECT_GE(gap(3, 4), 3000) << "restart 3->4 should wait about 4 s";
  EXPECT_GT(gap(3, 4), gap(1, 2));
}

TEST_F(StaticPodsTest, OnFailureAndNeverPolicies) {
  startCubelet();
  cubelet_->writeManifest("ok.yaml", podManifest("ok", "echo done", "OnFailure"));
  cubelet_->writeManifest("fail-retry.yaml", podManifest("fail-retry", "exit 2", "OnFailure"));
  cubelet_->writeManifest("fail-never.yaml", podManifest("fail-never", "exit 2", "Never"));
  cubelet_->writeManifest("ok-never.yaml", podManifest("ok-never", "true", "Never"));
  ASSERT_TRUE(cubelet_->waitForPhase("ok", "Succeeded", 60s)) << cubelet_->pods()->dump();
  ASSERT_TRUE(cubelet_->waitForPhase("fail-never", "Failed", 60s)) << cubelet_->pods()->dump();
  ASSERT_TRUE(cubelet_->waitForPhase("ok-never", "Succeeded", 60s)) << cubelet_->pods()->dump();
  ASSERT_TRUE(cubelet_->waitForPod(
      "fail-retry",
      [](const std::optional<json>& p) {
        return p && containerStatus(*p, "main").value("restartCount", 0) >= 2;
      },
      60s))
      << cubelet_->pods()->dump();
  // The finished pods are not restarted.
  std::this_thread::sleep_for(3s);
  for (const char* name : {"ok", "fail-never", "ok-never"}) {
    json cs = containerStatus(*cubelet_->pod(name), "main");
    EXPECT_EQ(cs["restartCount"], 0) << name;
    EXPECT_EQ(containersOf(std::string(name) + "-it-node").size(), 1u) << name;
  }
  EXPECT_EQ(stateSummary(containerStatus(*cubelet_->pod("fail-never"), "main")),
            "terminated:Error:2");
  EXPECT_EQ(stateSummary(containerStatus(*cubelet_->pod("ok"), "main")), "terminated:Completed:0");
  // A finished pod's sandbox is stopped.
  for (const auto& s : sandboxesOf("ok-it-node"))
    EXPECT_EQ(s.state(), runtime::v1::SANDBOX_NOTREADY);
}

TEST_F(StaticPodsTest, InitContainersRunInOrderBeforeAppContainers) {
  startCubelet();
  cubelet_->writeManifest("init.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  restartPolicy: Never
  initContainers:
  - {name: first, image: localhost/cubelet/busybox:1.35, command: ["sh", "-c", "sleep 1"]}
  - {name: second, image: localhost/cubelet/busybox:1.35, command: ["sh", "-c", "sleep 1"]}
  containers:
  - {name: app, image: localhost/cubelet/busybox:1.35, command: ["sh", "-c", "echo app"]}
)Y");
  bool sawPodInitializing = false;
  ASSERT_TRUE(cubelet_->waitForPod(
      "init",
      [&](const std::optional<json>& p) {
        if (!p) return false;
        if (stateSummary(containerStatus(*p, "app")) == "waiting:PodInitializing") {
          sawPodInitializing = true;
        }
        return p->contains("status") && (*p)["status"].value("phase", "") == "Succeeded";
      },
      60s))
      << cubelet_->pods()->dump();
  EXPECT_TRUE(sawPodInitializing);
  // Each container started after the previous one finished (runtime timestamps, ns).
  std::map<std::string, std::pair<int64_t, int64_t>> times;
  for (const auto& c : containersOf("init-it-node")) {
    auto st = cri_->containerStatus(c.id(), false);
    ASSERT_TRUE(st.ok());
    times[c.metadata().name()] = {st->status().started_at(), st->status().finished_at()};
  }
  ASSERT_EQ(times.size(), 3u);
  EXPECT_GE(times["second"].first, times["first"].second);
  EXPECT_GE(times["app"].first, times["second"].second);
  json pod = *cubelet_->pod("init");
  EXPECT_EQ(stateSummary(containerStatus(pod, "first", true)), "terminated:Completed:0");
  EXPECT_EQ(stateSummary(containerStatus(pod, "second", true)), "terminated:Completed:0");
}

TEST_F(StaticPodsTest, FailingInitContainerBlocksAppAndRestarts) {
  startCubelet();
  cubelet_->writeManifest("badinit.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: badinit}
spec:
  initContainers:
  - {name: init, image: localhost/cubelet/busybox:1.35, command: ["sh", "-c", "exit 1"]}
  containers:
  - {name: app, image: localhost/cubelet/busybox:1.35, command: ["sleep", "1000"]}
)Y");
  ASSERT_TRUE(cubelet_->waitForPod(
      "badinit",
      [](const std::optional<json>& p) {
        return p && containerStatus(*p, "init", true).value("restartCount", 0) >= 2;
      },
      60s))
      << cubelet_->pods()->dump();
  json pod = *cubelet_->pod("badinit");
  EXPECT_EQ(pod["status"]["phase"], "Pending");
  EXPECT_EQ(stateSummary(containerStatus(pod, "app")), "waiting:PodInitializing");
  for (const auto& c : containersOf("badinit-it-node")) EXPECT_NE(c.metadata().name(), "app");
}

}  // namespace
}  // namespace cubelet::testing

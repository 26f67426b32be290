// The real cubelet confines itself with its seccomp filter (the default) and still
// does its whole job: a networked pod with a disk and a tmpfs emptyDir, an HTTP
// readiness probe and an exec probe runs, becomes Ready, and is torn down (volumes
// unmounted) when its manifest goes; the agent exits cleanly. --self-seccomp=false
// leaves it unconfined.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A field of /proc/<pid>/status, or "".
std::string procStatusField(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string v = line.substr(name.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

// Every thread of the process, each with its own Seccomp field.
std::vector<std::string> threadSeccompModes(pid_t pid) {
  std::vector<std::string> modes;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(t.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Seccomp:", 0) == 0)
        modes.push_back(line.substr(line.find_last_of(" \t") + 1));
    }
  }
  return modes;
}

bool mounted(const std::string& path) {
  std::ifstream in("/proc/self/mounts");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" " + path + " ") != std::string::npos) return true;
  }
  return false;
}

class SelfSeccompTest : public AgentTest {};

TEST_F(SelfSeccompTest, ConfinedAgentRunsNetworkedPodWithVolumesAndProbes) {
  startCubelet();
  cubelet_->writeManifest("web.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: disk, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  containers:
  - name: main
    image: localhost/cubelet/busybox:1.35
    command: ["sh", "-c", "echo ok > /mem/index.html; echo hi > /disk/f; exec httpd -f -p 8080 -h /mem"]
    ports: [{containerPort: 8080}]
    volumeMounts: [{name: disk, mountPath: /disk}, {name: mem, mountPath: /mem}]
    readinessProbe:
      httpGet: {path: /index.html, port: 8080}
      periodSeconds: 1
    livenessProbe:
      exec: {command: ["cat", "/disk/f"]}
      periodSeconds: 1
)Y");
  ASSERT_TRUE(cubelet_->waitForPod(
      "web",
      [](const std::optional<json>& p) {
        return p && containerStatus(*p, "main").value("ready", false);
      },
      90s))
      << cubelet_->pods()->dump() << "\n"
      << cubelet_->log();

  // The filter is on, on every thread of the agent, with no_new_privs.
  const pid_t pid = cubelet_->pid();
  EXPECT_EQ(procStatusField(pid, "Seccomp"), "2");
  EXPECT_EQ(procStatusField(pid, "NoNewPrivs"), "1");
  std::vector<std::string> modes = threadSeccompModes(pid);
  EXPECT_GT(modes.size(), 1u);
  for (const std::string& m : modes) EXPECT_EQ(m, "2");
  EXPECT_NE(cubelet_->log().find("Self seccomp filter installed"), std::string::npos)
      << cubelet_->log();

  json pod = *cubelet_->pod("web");
  EXPECT_FALSE(pod["status"].value("podIP", "").empty()) << pod.dump();
  EXPECT_NE(pod["status"]["podIP"], "127.0.0.1");
  EXPECT_EQ(containerStatus(pod, "main")["restartCount"], 0);
  const std::string uid = pod["metadata"]["uid"];
  const std::string memDir =
      cubelet_->rootDir() + "/pods/" + uid + "/volumes/kubernetes.io~empty-dir/mem";
  EXPECT_TRUE(mounted(memDir)) << memDir;

  // Teardown: containers stopped, sandbox removed, the tmpfs unmounted.
  cubelet_->removeManifest("web.yaml");
  ASSERT_TRUE(cubelet_->waitForPod(
      "web", [](const std::optional<json>& p) { return !p.has_value(); }, 60s))
      << cubelet_->log();
  for (int i = 0; i < 100 && (mounted(memDir) || !sandboxesOf("web-it-node").empty()); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(mounted(memDir)) << cubelet_->log();
  EXPECT_TRUE(sandboxesOf("web-it-node").empty());

  // Nothing the agent did was refused.
  EXPECT_EQ(cubelet_->log().find("Operation not permitted"), std::string::npos) << cubelet_->log();
  auto exit = cubelet_->stop();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0) << cubelet_->log();
}

TEST_F(SelfSeccompTest, SwitchedOffTheAgentRunsUnconfined) {
  const std::string before = procStatusField(::getpid(), "Seccomp");
  startCubelet({"--self-seccomp=false"});
  cubelet_->writeManifest("hn.yaml",
                          podManifest("hn", "sleep 1000", "Always", "  hostNetwork: true\n"));
  ASSERT_TRUE(cubelet_->waitForPhase("hn", "Running", 60s)) << cubelet_->log();
  // The same mode as the test itself (0, unless the machine confines us all).
  EXPECT_EQ(procStatusField(cubelet_->pid(), "Seccomp"), before);
  EXPECT_NE(cubelet_->log().find("Self seccomp filter disabled"), std::string::npos);
}

}  // namespace
}  // namespace cubelet::testing

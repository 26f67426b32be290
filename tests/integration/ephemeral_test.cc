// Ephemeral containers (kubectl debug) on a real containerd with the fake API server:
// one added through pods/ephemeralcontainers starts in the running pod without
// restarting its app container; with targetContainerName it shares the target's
// process namespace (its `ps` shows the target's `sleep 3601`); one without a target does
// not, and once it exits it is not started again. ephemeralContainerStatuses report
// them (never ready), while the pod stays Running and Ready.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "tests/support/cluster_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr char kStrategic[] = "application/strategic-merge-patch+json";

json ephemeralStatus(const json& pod, const std::string& name) {
  if (!pod.contains("status")) return json();
  for (const auto& cs : pod["status"].value("ephemeralContainerStatuses", json::array())) {
    if (cs.value("name", "") == name) return cs;
  }
  return json();
}

json appStatus(const json& pod) {
  if (!pod.contains("status")) return json();
  auto list = pod["status"].value("containerStatuses", json::array());
  return list.empty() ? json() : list[0];
}

bool podReady(const json& pod) {
  for (const auto& c : pod.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

class EphemeralTest : public ClusterTest {
 protected:
  std::string logOf(const json& pod, const std::string& container) {
    std::string path = cubelet_->podLogsDir() + "/default_" + pod["metadata"].value("name", "") +
                       "_" + pod["metadata"].value("uid", "") + "/" + container + "/0.log";
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Waits until the container's log contains `want`; returns the log.
  std::string waitForLog(const json& pod, const std::string& container, const std::string& want) {
    std::string log;
    for (int i = 0; i < 300 && log.find(want) == std::string::npos; ++i) {
      log = logOf(pod, container);
      std::this_thread::sleep_for(100ms);
    }
    return log;
  }
  int runtimeInstances(const std::string& pod, const std::string& name) {
    int n = 0;
    for (const auto& c : containersOf(pod)) {
      if (c.metadata().name() == name) ++n;
    }
    return n;
  }
};

TEST_F(EphemeralTest, DebugContainerJoinsRunningPodAndTargetsItsProcesses) {
  startJoined();
  json created = createPod(podObject("dbgpod", "sleep 3601"));
  json pod = waitForPodPhase("dbgpod", "Running");
  pod = waitForObject(podPath("dbgpod"), podReady);
  const std::string appId = appStatus(pod).value("containerID", "");
  ASSERT_FALSE(appId.empty());

  // kubectl debug -it dbgpod --image=busybox --target=main: a strategic-merge PATCH.
  json debugger = {{"name", "debugger"},
                   {"image", kBusyboxImage},
                   {"targetContainerName", "main"},
                   {"command", {"sh", "-c", "echo PS-START; ps; echo PS-END; sleep 3600"}}};
  auto patched = api_->patch(podPath("dbgpod") + "/ephemeralcontainers", kStrategic,
                             {{"spec", {{"ephemeralContainers", json::array({debugger})}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();

  pod = waitForObject(podPath("dbgpod"), [](const json& p) {
    json s = ephemeralStatus(p, "debugger");
    return s.is_object() && s["state"].contains("running");
  });
  json es = ephemeralStatus(pod, "debugger");
  ASSERT_TRUE(es.is_object()) << pod.dump();
  EXPECT_EQ(es.value("ready", true), false);
  EXPECT_EQ(es.value("restartCount", -1), 0);
  EXPECT_EQ(es.value("containerID", "").rfind("containerd://", 0), 0u);
  EXPECT_FALSE(es.value("imageID", "").empty());
  EXPECT_EQ(es.value("image", ""), kBusyboxImage);
  EXPECT_FALSE(es.contains("started"));

  // The app container was left alone, and the pod stays Running and Ready.
  json app = appStatus(pod);
  EXPECT_EQ(app.value("containerID", ""), appId);
  EXPECT_EQ(app.value("restartCount", -1), 0);
  EXPECT_EQ(pod["status"].value("phase", ""), "Running");
  EXPECT_TRUE(podReady(pod));

  // In the target's process namespace: its ps lists the app container's sleep.
  std::string log = waitForLog(created, "debugger", "PS-END");
  ASSERT_NE(log.find("PS-END"), std::string::npos) << log;
  EXPECT_NE(log.find("sleep 3601"), std::string::npos) << log;
  // The sandbox is the same: one of each container in the runtime.
  EXPECT_EQ(sandboxesOf("dbgpod").size(), 1u);
  EXPECT_EQ(runtimeInstances("dbgpod", "main"), 1);
  EXPECT_EQ(runtimeInstances("dbgpod", "debugger"), 1);

  // The Started event names the ephemeral container's field path.
  bool started = false;
  for (int i = 0; i < 100 && !started; ++i) {
    for (const auto& e : api_->list("/api/v1/namespaces/default/events")) {
      if (e["involvedObject"].value("fieldPath", "") == "spec.ephemeralContainers{debugger}" &&
          e.value("reason", "") == "Started") {
        started = true;
      }
    }
    if (!started) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(started);
}

TEST_F(EphemeralTest, UntargetedContainerHasItsOwnProcessesAndIsNotRestarted) {
  startJoined();
  json created = createPod(podObject("dbgpod2", "sleep 3601"));
  waitForPodPhase("dbgpod2", "Running");
  json pod = waitForObject(podPath("dbgpod2"), podReady);
  const std::string appId = appStatus(pod).value("containerID", "");

  // A PUT of the pod with the container added, as older clients do.
  json body = pod;
  body["metadata"].erase("resourceVersion");
  body["spec"]["ephemeralContainers"] = {
      {{"name", "once"},
       {"image", kBusyboxImage},
       {"command", {"sh", "-c", "echo PS-START; ps; echo PS-END; exit 3"}}}};
  auto put = api_->update(podPath("dbgpod2") + "/ephemeralcontainers", body);
  ASSERT_TRUE(put.ok()) << put.status();

  pod = waitForObject(podPath("dbgpod2"), [](const json& p) {
    json s = ephemeralStatus(p, "once");
    return s.is_object() && s["state"].contains("terminated");
  });
  json es = ephemeralStatus(pod, "once");
  ASSERT_TRUE(es.is_object()) << pod.dump();
  EXPECT_EQ(es["state"]["terminated"].value("exitCode", 0), 3);
  EXPECT_EQ(es["state"]["terminated"].value("reason", ""), "Error");
  std::string log = waitForLog(created, "once", "PS-END");
  ASSERT_NE(log.find("PS-END"), std::string::npos) << log;
  // Its own PID namespace: the app container's sleep is not there.
  EXPECT_EQ(log.find("sleep 3601"), std::string::npos) << log;

  // Never restarted, whatever the pod's restart policy (Always here); the app
  // container keeps running.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(runtimeInstances("dbgpod2", "once"), 1);
  pod = api_->get(podPath("dbgpod2")).value();
  es = ephemeralStatus(pod, "once");
  EXPECT_EQ(es.value("restartCount", -1), 0);
  EXPECT_TRUE(es["state"].contains("terminated")) << es.dump();
  EXPECT_EQ(appStatus(pod).value("containerID", ""), appId);
  EXPECT_EQ(appStatus(pod).value("restartCount", -1), 0);
  EXPECT_EQ(pod["status"].value("phase", ""), "Running");

  // Removing or changing it through the subresource is refused.
  json removal = pod;
  removal["metadata"].erase("resourceVersion");
  removal["spec"]["ephemeralContainers"] = json::array();
  auto refused = api_->update(podPath("dbgpod2") + "/ephemeralcontainers", removal);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("may not be removed"), std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace cubelet::testing

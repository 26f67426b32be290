// Pod spec features that reach the sandbox, with cubelet joined to the fake API
// server on the private containerd: securityContext.sysctls (the safe set and
// --allowed-unsafe-sysctls set inside the pod; others rejected with SysctlForbidden),
// runtimeClassName resolved through RuntimeClass objects to the CRI runtime handler
// (containerd's second handler "cubelet-test" from scripts/containerd.sh), a missing
// RuntimeClass keeping the pod Pending with the kubelet's event, and the pod overhead
// handed to the runtime.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/cluster_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using PodSpec = ClusterTest;

std::string execOut(cri::GrpcRuntimeClient& cri, const std::string& id,
                    const std::vector<std::string>& cmd) {
  auto r = cri.execSync(id, cmd, 10);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code(), 0) << r->stderr();
  return r->stdout();
}

// The events of pod `name` with `reason`, waiting up to `timeout` for one.
std::vector<json> eventsOf(fakeapi::FakeApiServer& api, const std::string& name,
                           const std::string& reason, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  std::vector<json> out;
  while (std::chrono::steady_clock::now() < end) {
    out.clear();
    for (const auto& e : api.list("/api/v1/namespaces/default/events")) {
      if (e["involvedObject"].value("name", "") == name && e.value("reason", "") == reason) {
        out.push_back(e);
      }
    }
    if (!out.empty()) return out;
    std::this_thread::sleep_for(200ms);
  }
  return out;
}

// The PodSandboxConfig containerd keeps for a sandbox (its verbose status info).
json sandboxConfig(cri::GrpcRuntimeClient& cri, const std::string& id) {
  auto st = cri.podSandboxStatus(id, true);
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok() || !st->info().count("info")) return json();
  json info = json::parse(st->info().at("info"), nullptr, false);
  return info.is_object() && info.contains("config") ? info["config"] : json();
}

json runtimeClass(const std::string& name, const std::string& handler) {
  return {{"apiVersion", "node.k8s.io/v1"},
          {"kind", "RuntimeClass"},
          {"metadata", {{"name", name}}},
          {"handler", handler}};
}

TEST_F(PodSpec, AllowedSysctlsAreSetInThePod) {
  startJoined({"--allowed-unsafe-sysctls=net.core.somaxconn"});
  json pod = podObject("sysctls", "sleep 3600");
  // The slash form is accepted and given to the runtime with dots.
  pod["spec"]["securityContext"]["sysctls"] = {
      {{"name", "kernel.shm_rmid_forced"}, {"value", "1"}},
      {{"name", "net/ipv4/ip_local_port_range"}, {"value", "20000 40000"}},
      {{"name", "net.core.somaxconn"}, {"value", "1234"}}};
  createPod(pod);
  waitForPodPhase("sysctls", "Running");
  std::string id = runningContainer("sysctls");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(execOut(*cri_, id, {"cat", "/proc/sys/kernel/shm_rmid_forced"}), "1\n");
  EXPECT_EQ(execOut(*cri_, id, {"cat", "/proc/sys/net/ipv4/ip_local_port_range"}),
            "20000\t40000\n");
  EXPECT_EQ(execOut(*cri_, id, {"cat", "/proc/sys/net/core/somaxconn"}), "1234\n");
  auto sandboxes = sandboxesOf("sysctls");
  ASSERT_EQ(sandboxes.size(), 1u);
  json config = sandboxConfig(*cri_, sandboxes[0].id());
  EXPECT_EQ(config["linux"]["sysctls"], (json{{"kernel.shm_rmid_forced", "1"},
                                              {"net.ipv4.ip_local_port_range", "20000 40000"},
                                              {"net.core.somaxconn", "1234"}}))
      << config.dump();
}

TEST_F(PodSpec, ForbiddenSysctlsRejectThePod) {
  startJoined();
  json unsafe = podObject("unsafe", "sleep 3600");
  unsafe["spec"]["securityContext"]["sysctls"] = {
      {{"name", "net.core.somaxconn"}, {"value", "1024"}}};
  createPod(unsafe);
  json hostNet = podObject("hostnet", "sleep 3600");
  hostNet["spec"]["hostNetwork"] = true;
  hostNet["spec"]["securityContext"]["sysctls"] = {
      {{"name", "net.ipv4.ip_local_port_range"}, {"value", "20000 40000"}}};
  createPod(hostNet);

  json a = waitForPodPhase("unsafe", "Failed");
  EXPECT_EQ(a["status"].value("reason", ""), "SysctlForbidden");
  EXPECT_EQ(a["status"].value("message", ""),
            "Pod was rejected: forbidden sysctl: \"net.core.somaxconn\" not allowlisted");
  json b = waitForPodPhase("hostnet", "Failed");
  EXPECT_EQ(b["status"].value("reason", ""), "SysctlForbidden");
  EXPECT_EQ(b["status"].value("message", ""),
            "Pod was rejected: forbidden sysctl: \"net.ipv4.ip_local_port_range\" not allowed "
            "with host net enabled");
  auto events = eventsOf(*api_, "unsafe", "SysctlForbidden", 10s);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].value("type", ""), "Warning");
  EXPECT_TRUE(sandboxesOf("unsafe").empty());
  EXPECT_TRUE(sandboxesOf("hostnet").empty());
}

TEST_F(PodSpec, RuntimeClassPicksTheRuntimeHandler) {
  ASSERT_TRUE(
      api_->create("/apis/node.k8s.io/v1/runtimeclasses", runtimeClass("test", "cubelet-test"))
          .ok());
  startJoined();
  json pod = podObject("rc", "sleep 3600");
  pod["spec"]["runtimeClassName"] = "test";
  // What the API server's RuntimeClass admission copies from overhead.podFixed.
  pod["spec"]["overhead"] = {{"cpu", "100m"}, {"memory", "16Mi"}};
  createPod(pod);
  waitForPodPhase("rc", "Running");
  auto sandboxes = sandboxesOf("rc");
  ASSERT_EQ(sandboxes.size(), 1u);
  EXPECT_EQ(sandboxes[0].runtime_handler(), "cubelet-test");
  // The overhead goes to the runtime on its own, as request and limit.
  json config = sandboxConfig(*cri_, sandboxes[0].id());
  EXPECT_EQ(config["linux"]["overhead"].value("memory_limit_in_bytes", 0), 16 << 20)
      << config.dump();
  EXPECT_EQ(config["linux"]["overhead"].value("cpu_shares", 0), 102) << config.dump();

  // A pod without a runtimeClassName gets the runtime's default handler.
  createPod(podObject("plain", "sleep 3600"));
  waitForPodPhase("plain", "Running");
  auto plain = sandboxesOf("plain");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].runtime_handler(), "");
}

TEST_F(PodSpec, MissingRuntimeClassKeepsThePodPending) {
  startJoined();
  json pod = podObject("norc", "sleep 3600");
  pod["spec"]["runtimeClassName"] = "missing";
  createPod(pod);
  auto events = eventsOf(*api_, "norc", "FailedCreatePodSandBox", 60s);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].value("type", ""), "Warning");
  EXPECT_EQ(events[0].value("message", ""),
            "Failed to create pod sandbox: runtimeclass.node.k8s.io \"missing\" not found");
  auto now = api_->get(podPath("norc"));
  ASSERT_TRUE(now.ok());
  EXPECT_EQ((*now)["status"].value("phase", ""), "Pending");
  EXPECT_TRUE(sandboxesOf("norc").empty());

  // Once the RuntimeClass exists the sandbox is created with its handler.
  ASSERT_TRUE(
      api_->create("/apis/node.k8s.io/v1/runtimeclasses", runtimeClass("missing", "cubelet-test"))
          .ok());
  waitForPodPhase("norc", "Running", 120s);
  auto sandboxes = sandboxesOf("norc");
  ASSERT_EQ(sandboxes.size(), 1u);
  EXPECT_EQ(sandboxes[0].runtime_handler(), "cubelet-test");
}

}  // namespace
}  // namespace cubelet::testing

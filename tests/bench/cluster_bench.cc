// cluster_bench: cubelet joined to the fake API server on a private containerd
// (the integration tests' harness), measuring what the cluster issue budgets.
// Prints one JSON line per measurement; asserts nothing about time.
//   api_pod_start: 30 pods created in the API one after the other, each timed from
//     the create call to its container's CRI started_at; beside it the baseline,
//     the same pods started by the runtime manager's CRI calls back to back.
//   idle_api_load: API requests per minute of a registered node with 10 running
//     pods, counted by the fake API server over 2 minutes.
// Run: build-dir/tests/bench/cluster_bench (as root; not part of ctest).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "agent/api/pod_decode.h"
#include "agent/runtime/labels.h"
#include "agent/runtime/pod_actions.h"
#include "agent/runtime/runtime_manager.h"
#include "tests/support/cluster_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

int64_t wallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json summary(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(ms.size()))) - 1;
    return ms[std::min(i, ms.size() - 1)];
  };
  return {{"p50_ms", pct(0.5)}, {"p99_ms", pct(0.99)}, {"max_ms", ms.back()}, {"n", ms.size()}};
}

// VmRSS and RssAnon (KiB) of the cubelet whose command line names `kubeconfig`.
json cubeletMemory(const std::string& kubeconfig) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmd(e.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    bool isCubelet = args.rfind("cubelet", 0) == 0 || args.find("/cubelet") != std::string::npos;
    if (args.find(kubeconfig) == std::string::npos || !isCubelet) continue;
    std::ifstream status(e.path() / "status");
    json out;
    for (std::string line; std::getline(status, line);) {
      for (const char* key : {"VmRSS", "RssAnon"}) {
        if (line.rfind(std::string(key) + ":", 0) == 0)
          out[std::string(key) + "_kib"] = std::stol(line.substr(strlen(key) + 1));
      }
    }
    if (!out.empty()) return out;
  }
  return json::object();
}

class ClusterBench : public ClusterTest {
 protected:
  // CRI started_at of the pod's first container, once it runs.
  int64_t startedAt(const std::string& podName) {
    for (int i = 0; i < 600; ++i) {
      for (const auto& c : containersOf(podName)) {
        auto st = cri_->containerStatus(c.id(), false);
        if (st.ok() && st->status().started_at() > 0) return st->status().started_at();
      }
      std::this_thread::sleep_for(5ms);
    }
    return 0;
  }
};

TEST_F(ClusterBench, ApiPodStart) {
  startJoined();
  waitForObject("/api/v1/nodes/it-node", [](const json& n) { return n.contains("status"); });
  std::vector<double> cubelet, baseline;
  for (int i = 0; i < 30; ++i) {
    std::string name = "bench-" + std::to_string(i);
    int64_t t0 = wallNs();
    createPod(podObject(name, "sleep 3600"));
    int64_t started = startedAt(name);
    ASSERT_GT(started, 0) << name;
    cubelet.push_back(static_cast<double>(started - t0) / 1e6);
  }
  // The baseline: the same pods, the runtime manager's CRI calls back to back,
  // with cubelet stopped (it would remove pods no source wants).
  auto rc = cubelet_->stop();
  ASSERT_TRUE(rc.ok()) << rc.status();
  agent::runtime::RuntimeOptions ro;
  ro.nodeName = "it-node";
  ro.rootDir = dir_ + "/baseline-root";
  ro.podLogsDir = dir_ + "/baseline-logs";
  ro.containerLogsLinkDir = dir_ + "/baseline-links";
  agent::runtime::RuntimeManager rm(*cri_, *cri_, ro);
  for (int i = 0; i < 30; ++i) {
    json j = podObject("base-" + std::to_string(i), "sleep 3600");
    j["metadata"]["uid"] = "baseline-uid-" + std::to_string(i);
    auto pod = agent::api::decodePod(j);
    ASSERT_TRUE(pod.ok());
    agent::api::applyPodDefaults(*pod);
    auto req = agent::runtime::SyncRequest{};
    req.pod = std::make_shared<const agent::api::Pod>(*pod);
    req.status.uid = pod->metadata.uid;
    req.actions = agent::runtime::computePodActions(*pod, req.status);
    for (size_t k : req.actions.containersToStart) req.starts.push_back({k, false});
    int64_t t0 = wallNs();
    auto res = rm.syncPod(req);
    int64_t started = startedAt(pod->metadata.name);
    ASSERT_GT(started, 0);
    baseline.push_back(static_cast<double>(started - t0) / 1e6);
  }
  json out = {{"benchmark", "api_pod_start"},
              {"cubelet", summary(cubelet)},
              {"baseline", summary(baseline)}};
  out["ratio_p50"] =
      out["cubelet"]["p50_ms"].get<double>() / out["baseline"]["p50_ms"].get<double>();
  std::cout << out.dump() << std::endl;
}

TEST_F(ClusterBench, IdleApiLoad) {
  startJoined();
  for (int i = 0; i < 10; ++i) createPod(podObject("idle-" + std::to_string(i), "sleep 3600"));
  for (int i = 0; i < 10; ++i) waitForPodPhase("idle-" + std::to_string(i), "Running");
  std::this_thread::sleep_for(20s);  // let start-up traffic settle
  api_->clearRequests();
  const auto window = 120s;
  std::this_thread::sleep_for(window);
  std::map<std::string, int> byKind;
  int total = 0;
  for (const auto& r : api_->requests()) {
    ++total;
    byKind[r.method + " " + r.path.substr(0, r.path.rfind('/'))]++;
  }
  double perMinute = total / (std::chrono::duration<double>(window).count() / 60.0);
  std::cout << json{{"benchmark", "idle_api_load"},
                    {"pods", 10},
                    {"window_s", 120},
                    {"requests", total},
                    {"requests_per_minute", perMinute},
                    {"by_kind", byKind},
                    {"memory", cubeletMemory(kubeconfig_)}}
                   .dump()
            << std::endl;
}

}  // namespace
}  // namespace cubelet::testing

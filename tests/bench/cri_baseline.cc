// The pod-start baseline: a minimal CRI client that makes the calls cubelet makes
// for a new pod (RunPodSandbox, PodSandboxStatus, ImageStatus, CreateContainer,
// StartContainer) back to back, with configs built by cubelet's own builders from
// the same manifest, so that the difference to cubelet is cubelet's own overhead.
// The probe's runtime polling runs beside it, as it does beside cubelet.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "agent/config/agent_config.h"
#include "agent/runtime/container_config.h"
#include "agent/runtime/runtime_options.h"
#include "agent/runtime/sandbox_config.h"
#include "agent/sources/static_pods.h"
#include "core/atomic_file.h"
#include "core/status.h"
#include "network/cni_config.h"
#include "network/dns.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/running_watch.h"

namespace cubelet::bench {
namespace {

namespace v1 = ::runtime::v1;
using agent::runtime::RuntimeOptions;

// The node settings cubelet derives from its flags, for the flags run.sh gives both.
absl::StatusOr<RuntimeOptions> runtimeOptions(const Options& opts) {
  agent::config::AgentConfig defaults;
  RuntimeOptions ro;
  ASSIGN_OR_RETURN(ro.nodeName, opts.get("node"));
  ASSIGN_OR_RETURN(ro.rootDir, opts.get("root-dir"));
  ASSIGN_OR_RETURN(ro.podLogsDir, opts.get("pod-logs-dir"));
  ASSIGN_OR_RETURN(ro.containerLogsLinkDir, opts.get("container-logs-link-dir"));
  ro.clusterDNS = defaults.clusterDNS;
  ro.clusterDomain = defaults.clusterDomain;
  if (!defaults.resolvConf.empty()) {
    std::ifstream in(defaults.resolvConf);
    std::stringstream text;
    text << in.rdbuf();
    ro.hostResolvConf = network::parseResolvConf(text.str());
  }
  return ro;
}

// An empty file for the container's termination message, where cubelet puts it.
absl::StatusOr<std::string> terminationLogFile(const RuntimeOptions& ro, const agent::api::Pod& pod,
                                               const agent::api::Container& c, int n) {
  std::string dir = ro.rootDir + "/pods/" + pod.metadata.uid + "/containers/" + c.name;
  RETURN_IF_ERROR(core::mkdirAll(dir, 0755));
  std::string path = dir + "/baseline" + std::to_string(n);
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) return core::errnoStatus(errno, "create " + path);
  ::close(fd);
  return path;
}

// Starts one pod; returns when its last container's StartContainer has returned.
absl::Status startPod(cri::GrpcRuntimeClient& cri, const RuntimeOptions& ro,
                      const agent::api::Pod& pod) {
  ASSIGN_OR_RETURN(v1::PodSandboxConfig sandbox,
                   agent::runtime::makeSandboxConfig(pod, 0, ro, nullptr));
  RETURN_IF_ERROR(core::mkdirAll(sandbox.log_directory(), 0755));
  ASSIGN_OR_RETURN(std::string sandboxId,
                   cri.runPodSandbox(sandbox, pod.spec.runtimeClassName.value_or("")));
  ASSIGN_OR_RETURN(v1::PodSandboxStatusResponse status, cri.podSandboxStatus(sandboxId, false));
  std::string ip = status.status().network().ip();
  int n = 0;
  for (const agent::api::Container& c : pod.spec.containers) {
    v1::ImageSpec image;
    image.set_image(c.image);
    ASSIGN_OR_RETURN(auto present, cri.imageStatus(image));
    if (!present) return absl::NotFoundError("image " + c.image + " is not present");
    agent::runtime::ContainerContext ctx;
    ctx.podIP = ip;
    if (!ip.empty()) ctx.podIPs = {ip};
    ASSIGN_OR_RETURN(ctx.terminationLogHostPath, terminationLogFile(ro, pod, c, n++));
    ASSIGN_OR_RETURN(v1::ContainerConfig config, agent::runtime::makeContainerConfig(pod, c, ctx));
    ASSIGN_OR_RETURN(std::string id, cri.createContainer(sandboxId, config, sandbox));
    RETURN_IF_ERROR(cri.startContainer(id));
  }
  return absl::OkStatus();
}

// The cubelet probe's polling of the runtime, run beside the baseline's calls so
// that containerd serves the same extra load in both measurements.
class Watch {
 public:
  Watch(cri::GrpcRuntimeClient& cri, std::set<std::string> pods)
      : thread_([this, &cri, pods = std::move(pods)] {
          status_ =
              waitRunning(cri, pods, std::chrono::steady_clock::now() + std::chrono::minutes(5),
                          &started_, &cancel_);
        }) {}
  ~Watch() {
    if (thread_.joinable()) join(true).IgnoreError();
  }
  // Waits for the watch to see every pod running (or stops it, when `cancel`).
  absl::Status join(bool cancel) {
    cancel_ = cancel;
    thread_.join();
    return status_;
  }
  const std::map<std::string, Started>& started() const { return started_; }

 private:
  std::atomic<bool> cancel_{false};
  std::map<std::string, Started> started_;
  absl::Status status_;
  std::thread thread_;  // last, so that it starts after the members it uses exist
};

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int runBaseline(const Options& opts) {
  auto fail = [](const absl::Status& s) {
    std::cerr << "cubelet_bench baseline: " << s.message() << "\n";
    return 1;
  };
  auto client = connect(opts);
  if (!client.ok()) return fail(client.status());
  auto ro = runtimeOptions(opts);
  if (!ro.ok()) return fail(ro.status());
  auto manifestDir = opts.get("manifest-dir");
  if (!manifestDir.ok()) return fail(manifestDir.status());
  auto cniDir = opts.get("cni-conf-dir");
  if (!cniDir.ok()) return fail(cniDir.status());
  auto from = opts.getInt("from", 1);
  if (!from.ok()) return fail(from.status());
  auto count = opts.getInt("count", 20);
  if (!count.ok()) return fail(count.status());
  auto threads = opts.getInt("threads", 1);
  if (!threads.ok()) return fail(threads.status());
  std::string prefix = opts.getOr("prefix", "baseline");
  std::string mode = opts.getOr("mode", "seq");
  if (mode != "seq" && mode != "burst") return fail(absl::InvalidArgumentError("--mode seq|burst"));

  // The same network config cubelet writes, so the baseline needs no cubelet run first.
  network::CniConfigResult cniResult;
  if (absl::Status s = network::ensureCniConfig(*cniDir, {}, &cniResult); !s.ok()) return fail(s);

  // The pods as cubelet's file source makes them (identity, defaults), built up front.
  std::vector<agent::api::Pod> pods;
  for (int i = *from; i < *from + *count; ++i) {
    std::string name = podName(prefix, i);
    auto pod = agent::sources::staticPodFromManifest(
        podManifest(name), *manifestDir + "/" + name + ".yaml", ro->nodeName);
    if (!pod.ok()) return fail(pod.status());
    agent::sources::setConfigSeen(*pod, std::chrono::system_clock::now());
    pods.push_back(std::move(*pod));
  }

  // Per pod: from just before its RunPodSandbox (a burst: the burst's start) to
  // StartContainer returned, and the wall-clock origin for started_at.
  std::vector<double> latencies(pods.size());
  std::vector<int64_t> origins(pods.size());
  std::map<std::string, Started> started;
  if (mode == "seq") {
    for (size_t i = 0; i < pods.size(); ++i) {
      Watch watch(**client, {pods[i].metadata.name});
      origins[i] = wallNowNs();
      auto t0 = std::chrono::steady_clock::now();
      absl::Status s = startPod(**client, *ro, pods[i]);
      latencies[i] = msSince(t0);
      if (absl::Status w = watch.join(!s.ok()); s.ok()) s = w;
      if (!s.ok()) return fail(s);
      started.insert(watch.started().begin(), watch.started().end());
    }
  } else {
    std::set<std::string> names;
    for (const auto& pod : pods) names.insert(pod.metadata.name);
    Watch watch(**client, names);
    // A fixed pool taking pods in order, like cubelet's worker pool.
    std::atomic<size_t> next{0};
    std::mutex mu;
    absl::Status firstError;
    std::fill(origins.begin(), origins.end(), wallNowNs());
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < *threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < pods.size(); i = next++) {
          absl::Status s = startPod(**client, *ro, pods[i]);
          latencies[i] = msSince(t0);
          if (!s.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            if (firstError.ok()) firstError = s;
          }
        }
      });
    }
    for (auto& t : pool) t.join();
    if (absl::Status w = watch.join(!firstError.ok()); firstError.ok()) firstError = w;
    if (!firstError.ok()) return fail(firstError);
    started = watch.started();
  }

  std::vector<double> toStartedAt;
  for (size_t i = 0; i < pods.size(); ++i) {
    toStartedAt.push_back(
        static_cast<double>(started.at(pods[i].metadata.name).containerStartedAt - origins[i]) /
        1e6);
  }
  nlohmann::json out{{"mode", mode},
                     {"latency_ms", roundedMs(latencies)},
                     {"to_started_at_ms", roundedMs(toStartedAt)}};
  if (mode == "burst") {
    out["all_running_ms"] = roundedMs({*std::max_element(latencies.begin(), latencies.end())});
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace cubelet::bench

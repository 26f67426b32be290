// Pod start latency as cubelet delivers it: the probe writes static pod manifests
// into cubelet's manifest directory and watches the runtime (every 20 ms) until
// each pod's container runs (running_watch.h). The latency is the container's CRI
// started_at minus the wall-clock time the manifest was written (in a burst, the
// burst's start), so the probe's polling period does not add to what is measured.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "tests/bench/bench_util.h"
#include "tests/bench/running_watch.h"

namespace cubelet::bench {
namespace {

// Writes the manifest by rename, as an editor or config tool would, so cubelet
// never reads half a file. The temp name starts with "." and is ignored.
absl::Status writeManifest(const std::string& dir, const std::string& name) {
  std::string tmp = dir + "/." + name + ".yaml.tmp";
  {
    std::ofstream out(tmp);
    out << podManifest(name);
    if (!out.flush()) return absl::InternalError("write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, dir + "/" + name + ".yaml", ec);
  if (ec) return absl::InternalError("rename " + tmp + ": " + ec.message());
  return absl::OkStatus();
}

}  // namespace

int runCubeletStart(const Options& opts) {
  auto fail = [](const absl::Status& s) {
    std::cerr << "cubelet_bench cubelet-start: " << s.message() << "\n";
    return 1;
  };
  auto client = connect(opts);
  if (!client.ok()) return fail(client.status());
  auto dir = opts.get("manifest-dir");
  if (!dir.ok()) return fail(dir.status());
  auto node = opts.get("node");
  if (!node.ok()) return fail(node.status());
  auto from = opts.getInt("from", 1);
  if (!from.ok()) return fail(from.status());
  auto count = opts.getInt("count", 20);
  if (!count.ok()) return fail(count.status());
  auto timeoutS = opts.getInt("timeout-s", 300);
  if (!timeoutS.ok()) return fail(timeoutS.status());
  std::string prefix = opts.getOr("prefix", "bench");
  std::string mode = opts.getOr("mode", "seq");
  if (mode != "seq" && mode != "burst") return fail(absl::InvalidArgumentError("--mode seq|burst"));
  auto timeout = std::chrono::seconds(*timeoutS);

  std::vector<std::string> names;
  for (int i = *from; i < *from + *count; ++i) names.push_back(podName(prefix, i));
  auto podLabel = [&](const std::string& name) { return name + "-" + *node; };

  // Per pod: when its manifest was written (a burst: when the burst began).
  std::map<std::string, int64_t> origin;
  std::map<std::string, Started> started;
  auto deadline = [&] { return std::chrono::steady_clock::now() + timeout; };
  if (mode == "seq") {
    for (const std::string& name : names) {
      origin[name] = wallNowNs();
      if (absl::Status s = writeManifest(*dir, name); !s.ok()) return fail(s);
      std::map<std::string, Started> one;
      absl::Status s = waitRunning(**client, {podLabel(name)}, deadline(), &one);
      if (!s.ok()) return fail(s);
      started[podLabel(name)] = one.begin()->second;
    }
  } else {
    int64_t burstStart = wallNowNs();
    std::set<std::string> pending;
    for (const std::string& name : names) {
      origin[name] = burstStart;
      if (absl::Status s = writeManifest(*dir, name); !s.ok()) return fail(s);
      pending.insert(podLabel(name));
    }
    if (absl::Status s = waitRunning(**client, pending, deadline(), &started); !s.ok()) {
      return fail(s);
    }
  }

  std::vector<double> latencies, reactions;
  for (const std::string& name : names) {
    const Started& at = started.at(podLabel(name));
    latencies.push_back(static_cast<double>(at.containerStartedAt - origin[name]) / 1e6);
    reactions.push_back(static_cast<double>(at.sandboxCreatedAt - origin[name]) / 1e6);
  }
  nlohmann::json out{{"mode", mode},
                     {"latency_ms", roundedMs(latencies)},
                     {"to_run_pod_sandbox_ms", roundedMs(reactions)}};
  if (mode == "burst") {
    out["all_running_ms"] = roundedMs({*std::max_element(latencies.begin(), latencies.end())});
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace cubelet::bench

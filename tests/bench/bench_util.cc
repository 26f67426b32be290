#include "tests/bench/bench_util.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>

#include "absl/strings/numbers.h"

namespace cubelet::bench {

absl::StatusOr<Options> Options::parse(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return absl::InvalidArgumentError("unexpected argument '" + arg + "'");
    }
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      o.values_[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      o.values_[arg.substr(2)] = argv[++i];
    } else {
      return absl::InvalidArgumentError("option " + arg + " needs a value");
    }
  }
  return o;
}

absl::StatusOr<std::string> Options::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return absl::InvalidArgumentError("missing option --" + key);
  return it->second;
}

std::string Options::getOr(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int> Options::getInt(const std::string& key, int fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  int v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError("--" + key + " wants a whole number, not '" + it->second +
                                      "'");
  }
  return v;
}

std::string podManifest(const std::string& name) {
  std::string m =
      "apiVersion: v1\n"
      "kind: Pod\n"
      "metadata:\n"
      "  name: " +
      name +
      "\n"
      "spec:\n"
      "  containers:\n"
      "  - name: sleep\n"
      "    image: localhost/cubelet/busybox:1.35\n"
      "    command: [\"sleep\", \"3600\"]\n";
  // BENCH_POD_VOLUMES=1: a tmpfs emptyDir and a downwardAPI volume per pod, so that
  // the series measures the volume set-up (the baseline mounts nothing).
  const char* vols = std::getenv("BENCH_POD_VOLUMES");
  if (vols && std::string(vols) == "1") {
    m += "    volumeMounts:\n"
         "    - {name: scratch, mountPath: /scratch}\n"
         "    - {name: podinfo, mountPath: /etc/podinfo}\n"
         "  volumes:\n"
         "  - name: scratch\n"
         "    emptyDir: {medium: Memory, sizeLimit: 1Mi}\n"
         "  - name: podinfo\n"
         "    downwardAPI:\n"
         "      items: [{path: name, fieldRef: {fieldPath: metadata.name}}]\n";
  }
  return m;
}

std::string podName(const std::string& prefix, int index) {
  return prefix + "-" + std::to_string(index);
}

int64_t wallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

double round1(double v) { return std::round(v * 10) / 10; }

}  // namespace

nlohmann::json roundedMs(const std::vector<double>& ms) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : ms) out.push_back(round1(v));
  return out;
}

nlohmann::json latencySummary(const std::vector<double>& ms) {
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double mean = sorted.empty() ? 0
                               : std::accumulate(sorted.begin(), sorted.end(), 0.0) /
                                     static_cast<double>(sorted.size());
  return {
      {"count", ms.size()},
      {"p50_ms", round1(percentile(sorted, 0.5))},
      {"p90_ms", round1(percentile(sorted, 0.9))},
      {"max_ms", round1(sorted.empty() ? 0 : sorted.back())},
      {"mean_ms", round1(mean)},
  };
}

absl::StatusOr<nlohmann::json> summarizeRuns(const std::vector<nlohmann::json>& runs) {
  if (runs.empty()) return absl::InvalidArgumentError("no runs to summarize");
  std::map<std::string, std::vector<double>> series;
  for (const nlohmann::json& run : runs) {
    if (!run.is_object()) return absl::InvalidArgumentError("a run is not a JSON object");
    for (const auto& [key, value] : run.items()) {
      if (!value.is_array()) continue;
      for (const auto& v : value) {
        if (!v.is_number()) return absl::InvalidArgumentError(key + " holds a non-number");
        series[key].push_back(v.get<double>());
      }
    }
  }
  auto latency = series.find("latency_ms");
  if (latency == series.end()) return absl::InvalidArgumentError("no latency_ms in the runs");
  nlohmann::json out = latencySummary(latency->second);
  out["samples_ms"] = roundedMs(latency->second);
  out["mode"] = runs.front().value("mode", "");
  for (const auto& [key, samples] : series) {
    if (key == "latency_ms" || !key.ends_with("_ms")) continue;
    out[key.substr(0, key.size() - 3)] = latencySummary(samples);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<cri::GrpcRuntimeClient>> connect(const Options& opts) {
  auto endpoint = opts.get("endpoint");
  if (!endpoint.ok()) return endpoint.status();
  return cri::GrpcRuntimeClient::create(*endpoint, std::chrono::minutes(2),
                                        std::chrono::minutes(10));
}

}  // namespace cubelet::bench

// Shared pieces of cubelet_bench, the helper binary tests/bench/run.sh drives:
// command-line options, the benchmark pod's manifest, latency statistics, and
// the subcommands themselves (each prints one JSON document on stdout: the raw
// samples of a run, or a summary).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/grpc_runtime_client.h"
#include "nlohmann/json.hpp"

namespace cubelet::bench {

// "--key=value" and "--key value" options after the subcommand name.
class Options {
 public:
  static absl::StatusOr<Options> parse(int argc, char** argv);

  // The option's value; an error naming the option when it is missing.
  absl::StatusOr<std::string> get(const std::string& key) const;
  std::string getOr(const std::string& key, const std::string& fallback) const;
  absl::StatusOr<int> getInt(const std::string& key, int fallback) const;

 private:
  std::map<std::string, std::string> values_;
};

// The pod every benchmark starts: one busybox container sleeping for an hour.
// The name is the manifest's metadata.name (cubelet appends "-<node>").
std::string podManifest(const std::string& name);

// "<prefix>-<index>", the name of the index-th benchmark pod of a series.
std::string podName(const std::string& prefix, int index);

// Nanoseconds since the Unix epoch (CRI timestamps use the same clock).
int64_t wallNowNs();

// Milliseconds to 0.1 ms, as a JSON array: the raw samples the subcommands print.
nlohmann::json roundedMs(const std::vector<double>& ms);

// p50, p90, max and mean (milliseconds, nearest-rank percentiles) of `ms`.
nlohmann::json latencySummary(const std::vector<double>& ms);

// Joins the raw outputs of several runs of one subcommand (rounds of a series):
// "latency_ms" samples become the top-level summary (with the samples), every other
// "<what>_ms" array a "<what>" summary; "mode" comes from the first run.
absl::StatusOr<nlohmann::json> summarizeRuns(const std::vector<nlohmann::json>& runs);

// A CRI client for `--endpoint` with the kubelet's default 2 min deadline.
absl::StatusOr<std::unique_ptr<cri::GrpcRuntimeClient>> connect(const Options& opts);

// Subcommands. Each returns the process exit code and prints its result as JSON.
// baseline and cubelet-start print one line of raw samples:
//   {"mode", "latency_ms": [...], <diagnostic>_ms: [...], "all_running_ms": [x] (burst)}.
// baseline: the CRI calls cubelet makes for a pod, back to back, sequentially or
//   from --threads threads at once; diagnostic: to_started_at.
int runBaseline(const Options& opts);
// cubelet-start: writes manifests into cubelet's manifest dir and times each
//   pod until its container runs (CRI started_at), sequentially or in a burst;
//   diagnostic: to_run_pod_sandbox.
int runCubeletStart(const Options& opts);
// cleanup: stops and removes every sandbox (and so every container) the runtime has.
int runCleanup(const Options& opts);
// summarize: reads the JSON lines of baseline or cubelet-start runs on stdin and
//   prints summarizeRuns of them.
int runSummarize();

}  // namespace cubelet::bench

// cubelet_bench: the C++ half of tests/bench/run.sh (see there for what is
// measured). Subcommands: baseline, cubelet-start, cleanup, summarize.
#include <atomic>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "tests/bench/bench_util.h"

namespace cubelet::bench {

int runCleanup(const Options& opts) {
  auto client = connect(opts);
  if (!client.ok()) {
    std::cerr << "cubelet_bench cleanup: " << client.status().message() << "\n";
    return 1;
  }
  auto sandboxes = (*client)->listPodSandbox({});
  if (!sandboxes.ok()) {
    std::cerr << "cubelet_bench cleanup: " << sandboxes.status().message() << "\n";
    return 1;
  }
  // StopPodSandbox kills the pod's containers without a grace period; a few
  // threads at once, or 50 pods take long.
  std::atomic<size_t> next{0};
  std::mutex mu;
  int failures = 0;
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < sandboxes->size(); i = next++) {
        const std::string& id = (*sandboxes)[i].id();
        absl::Status s = (*client)->stopPodSandbox(id);
        if (s.ok()) s = (*client)->removePodSandbox(id);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          std::cerr << "cubelet_bench cleanup: " << s.message() << "\n";
          ++failures;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  auto left = (*client)->listPodSandbox({});
  size_t leftCount = left.ok() ? left->size() : 0;
  std::cout << nlohmann::json{{"removed", sandboxes->size() - static_cast<size_t>(failures)},
                              {"left", leftCount}}
                   .dump()
            << "\n";
  return failures == 0 && left.ok() && leftCount == 0 ? 0 : 1;
}

int runSummarize() {
  std::vector<nlohmann::json> runs;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    auto run = nlohmann::json::parse(line, nullptr, false);
    if (run.is_discarded()) {
      std::cerr << "cubelet_bench summarize: not JSON: " << line << "\n";
      return 1;
    }
    runs.push_back(std::move(run));
  }
  auto summary = summarizeRuns(runs);
  if (!summary.ok()) {
    std::cerr << "cubelet_bench summarize: " << summary.status().message() << "\n";
    return 1;
  }
  std::cout << summary->dump() << "\n";
  return 0;
}

}  // namespace cubelet::bench

int main(int argc, char** argv) {
  using cubelet::bench::Options;
  const std::string usage =
      "usage: cubelet_bench baseline|cubelet-start|cleanup --endpoint unix:///... [options]\n"
      "       cubelet_bench summarize < runs.jsonl\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string command = argv[1];
  auto opts = Options::parse(argc - 2, argv + 2);
  if (!opts.ok()) {
    std::cerr << "cubelet_bench: " << opts.status().message() << "\n" << usage;
    return 2;
  }
  if (command == "baseline") return cubelet::bench::runBaseline(*opts);
  if (command == "cubelet-start") return cubelet::bench::runCubeletStart(*opts);
  if (command == "cleanup") return cubelet::bench::runCleanup(*opts);
  if (command == "summarize") return cubelet::bench::runSummarize();
  std::cerr << "cubelet_bench: unknown subcommand '" << command << "'\n" << usage;
  return 2;
}

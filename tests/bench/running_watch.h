// Watching the runtime for benchmark pods to run: ListContainers every 20 ms, then
// ContainerStatus and PodSandboxStatus for each newly running one. The cubelet
// probe uses it to time cubelet; the baseline runs the same watch beside its own
// calls so that both sides put the same polling load on containerd.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "cri/grpc_runtime_client.h"

namespace cubelet::bench {

inline constexpr auto kPollPeriod = std::chrono::milliseconds(20);

struct Started {
  int64_t containerStartedAt = 0;  // CRI started_at, ns since the epoch
  // The sandbox's created_at, which containerd stamps as RunPodSandbox begins: what
  // comes before it is the agent's own reaction time.
  int64_t sandboxCreatedAt = 0;
};

// Polls until a container runs for every pod in `pending` (values of the
// io.kubernetes.pod.name label), `deadline` passes or `*cancel` is set; fills
// `startedAt` by that label.
absl::Status waitRunning(cri::GrpcRuntimeClient& cri, std::set<std::string> pending,
                         std::chrono::steady_clock::time_point deadline,
                         std::map<std::string, Started>* startedAt,
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace cubelet::bench

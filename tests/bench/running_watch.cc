#include "tests/bench/running_watch.h"

#include <thread>

#include "agent/runtime/labels.h"
#include "core/status.h"

namespace cubelet::bench {
namespace {

namespace v1 = ::runtime::v1;

// Start times of each running container whose pod-name label is in `pending`,
// keyed by that label; found pods are taken out of `pending`.
absl::StatusOr<std::map<std::string, Started>> collectStarted(cri::GrpcRuntimeClient& cri,
                                                              std::set<std::string>& pending,
                                                              const std::string& onlyPod) {
  v1::ContainerFilter filter;
  filter.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  if (!onlyPod.empty()) (*filter.mutable_label_selector())[agent::runtime::kPodNameLabel] = onlyPod;
  ASSIGN_OR_RETURN(auto containers, cri.listContainers(filter));
  std::map<std::string, Started> started;
  for (const v1::Container& c : containers) {
    auto label = c.labels().find(agent::runtime::kPodNameLabel);
    if (label == c.labels().end() || !pending.count(label->second)) continue;
    ASSIGN_OR_RETURN(v1::ContainerStatusResponse status, cri.containerStatus(c.id(), false));
    if (status.status().started_at() == 0) continue;
    ASSIGN_OR_RETURN(v1::PodSandboxStatusResponse sandbox,
                     cri.podSandboxStatus(c.pod_sandbox_id(), false));
    started[label->second] = {status.status().started_at(), sandbox.status().created_at()};
    pending.erase(label->second);
  }
  return started;
}

}  // namespace

absl::Status waitRunning(cri::GrpcRuntimeClient& cri, std::set<std::string> pending,
                         std::chrono::steady_clock::time_point deadline,
                         std::map<std::string, Started>* startedAt,
                         const std::atomic<bool>* cancel) {
  std::string only = pending.size() == 1 ? *pending.begin() : "";
  auto tick = std::chrono::steady_clock::now();
  while (!pending.empty()) {
    ASSIGN_OR_RETURN(auto found, collectStarted(cri, pending, only));
    startedAt->insert(found.begin(), found.end());
    if (pending.empty()) break;
    if (cancel && *cancel) return absl::CancelledError("watch cancelled");
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(std::to_string(pending.size()) +
                                         " pod(s) not running in time, e.g. " + *pending.begin());
    }
    tick += kPollPeriod;
    std::this_thread::sleep_until(tick);
  }
  return absl::OkStatus();
}

}  // namespace cubelet::bench

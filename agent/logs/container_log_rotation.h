// Container log rotation, as the kubelet's ContainerLogManager
// (pkg/kubelet/logs/container_log_manager.go): every monitor interval (10 s), for
// each running container whose log file has reached containerLogMaxSize, it
//   1. drops debris of an interrupted rotation (`*.tmp`, a plain file whose `.gz`
//      twin exists), then the oldest rotated files beyond containerLogMaxFiles - 2,
//   2. gzips the rotated files still plain (`<log>.<ts>` -> `<log>.<ts>.gz`, through
//      `<log>.<ts>.tmp`),
//   3. renames the live file to `<log>.<YYYYMMDD-HHMMSS>` (local time) and asks the
//      runtime to reopen it (CRI ReopenContainerLog); if that fails the rename is
//      undone, to be retried next round.
// So at most containerLogMaxFiles files exist: the live one, the newest rotated one
// (plain, because a follower may still be reading it) and older ones compressed. A
// running container whose log file is missing gets a ReopenContainerLog too.
//
// The file work and the CRI calls block, so a pass runs as one job on the worker
// pool (the kubelet's containerLogMaxWorkers default of 1) and posts back when done.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "cri/runtime_service.h"

namespace agent::logs {

struct ContainerLogPolicy {
  int64_t maxSizeBytes = 10 * 1024 * 1024;  // containerLogMaxSize "10Mi"
  int maxFiles = 5;                         // containerLogMaxFiles (validated > 1)
};

struct RunningContainerLog {
  std::string containerId;
  std::string logPath;
};

// Runs on a worker thread. Rotates `logPath` if it is at least policy.maxSizeBytes.
// `now` names the rotated file. Errors name the file and the step.
absl::Status rotateContainerLogIfNeeded(cri::RuntimeService& runtime,
                                        const ContainerLogPolicy& policy,
                                        const RunningContainerLog& container, core::WallTime now);

class ContainerLogManager {
 public:
  using ListRunning = std::function<std::vector<RunningContainerLog>()>;

  // `listRunning` runs on the loop thread. `runtime` is used from the pool and must
  // outlive the pool's jobs; the pool must run (or drop) its jobs before the loop
  // goes away.
  ContainerLogManager(core::EventLoop& loop, core::WorkerPool& pool, cri::RuntimeService& runtime,
                      ContainerLogPolicy policy, ListRunning listRunning,
                      core::Duration monitorInterval = std::chrono::seconds(10));
  ~ContainerLogManager();
  ContainerLogManager(const ContainerLogManager&) = delete;
  ContainerLogManager& operator=(const ContainerLogManager&) = delete;

  // Starts the periodic passes (the first after one interval).
  void start();
  // Runs a pass now (unless one is running: then `done` runs after it). `done`, if
  // given, runs on the loop when the pass has finished.
  void rotateNow(std::function<void()> done = nullptr);

 private:
  struct Shared;
  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  cri::RuntimeService& runtime_;
  ContainerLogPolicy policy_;
  ListRunning listRunning_;
  core::Duration interval_;
  core::TimerPtr timer_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace agent::logs

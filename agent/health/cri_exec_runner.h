// Exec probes through CRI ExecSync on the worker pool. At most `maxInFlight`
// execs block pool threads at once (the rest wait here, in order), so that
// slow probes never take every thread from pod syncs.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "cri/runtime_service.h"
#include "probes/probe_types.h"

namespace agent::health {

class CriExecRunner : public probes::ExecRunner {
 public:
  CriExecRunner(core::EventLoop& loop, core::WorkerPool& pool, cri::RuntimeService& runtime,
                size_t maxInFlight);
  ~CriExecRunner() override;

  probes::PendingCheckPtr exec(const std::string& containerId,
                               const std::vector<std::string>& command, core::Duration timeout,
                               probes::CheckDone done) override;

  // The kubelet's classification of an ExecSync answer (exposed for tests).
  static probes::CheckResult classify(
      const absl::StatusOr<::runtime::v1::ExecSyncResponse>& response,
      const std::vector<std::string>& command);

 private:
  struct Job;
  void pump();
  void finish(const std::shared_ptr<Job>& job, probes::CheckResult result);

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  cri::RuntimeService& runtime_;
  size_t maxInFlight_;
  size_t inFlight_ = 0;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::health

#include "agent/health/cri_exec_runner.h"

#include <algorithm>

namespace agent::health {

struct CriExecRunner::Job {
  std::string containerId;
  std::vector<std::string> command;
  core::Duration timeout;
  probes::CheckDone done;
  bool cancelled = false;
};

namespace {

class PendingExec : public probes::PendingCheck {
 public:
  explicit PendingExec(std::shared_ptr<void> job, bool* cancelled)
      : job_(std::move(job)), cancelled_(cancelled) {}
  ~PendingExec() override { *cancelled_ = true; }

 private:
  std::shared_ptr<void> job_;  // keeps `cancelled_` alive
  bool* cancelled_;
};

std::string joined(const std::vector<std::string>& command) {
  std::string s;
  for (const auto& a : command) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

CriExecRunner::CriExecRunner(core::EventLoop& loop, core::WorkerPool& pool,
                             cri::RuntimeService& runtime, size_t maxInFlight)
    : loop_(loop), pool_(pool), runtime_(runtime), maxInFlight_(std::max<size_t>(1, maxInFlight)) {}

CriExecRunner::~CriExecRunner() { *alive_ = false; }

probes::PendingCheckPtr CriExecRunner::exec(const std::string& containerId,
                                            const std::vector<std::string>& command,
                                            core::Duration timeout, probes::CheckDone done) {
  auto job = std::make_shared<Job>();
  job->containerId = containerId;
  job->command = command;
  job->timeout = timeout;
  job->done = std::move(done);
  queue_.push_back(job);
  // Started from the loop later, so `done` never runs inside this call.
  auto alive = alive_;
  loop_.post([this, alive] {
    if (*alive) pump();
  });
  return std::make_unique<PendingExec>(job, &job->cancelled);
}

void CriExecRunner::pump() {
  while (inFlight_ < maxInFlight_ && !queue_.empty()) {
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->cancelled) continue;
    ++inFlight_;
    // ExecSync takes whole seconds; a part of a second rounds up.
    int64_t seconds = (job->timeout.count() + 999) / 1000;
    auto alive = alive_;
    pool_.submit([this, alive, job, seconds, &loop = loop_, &rt = runtime_] {
      auto resp = rt.execSync(job->containerId, job->command, seconds);
      probes::CheckResult result = classify(resp, job->command);
      loop.post([this, alive, job, result = std::move(result)]() mutable {
        if (*alive) finish(job, std::move(result));
      });
    });
  }
}

void CriExecRunner::finish(const std::shared_ptr<Job>& job, probes::CheckResult result) {
  --inFlight_;
  if (!job->cancelled) job->done(std::move(result));
  pump();
}

probes::CheckResult CriExecRunner::classify(
    const absl::StatusOr<::runtime::v1::ExecSyncResponse>& resp,
    const std::vector<std::string>& command) {
  if (!resp.ok()) {
    // The runtime ran out of time: the kubelet's exec prober reports a timeout
    // as a failure; any other refusal means the probe could not be run.
    if (resp.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return {probes::Outcome::kFailure, "command \"" + joined(command) + "\" timed out"};
    }
    return {probes::Outcome::kError, std::string(resp.status().message())};
  }
  std::string output = resp->stdout() + resp->stderr();
  if (resp->exit_code() == 0) return {probes::Outcome::kSuccess, std::move(output)};
  return {probes::Outcome::kFailure, std::move(output)};
}

}  // namespace agent::health

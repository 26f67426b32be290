#include "probes/checks.h"

#include <algorithm>
#include <utility>

namespace probes {

namespace {

// A result known at once (an action that cannot run, a sleep): delivered from a
// timer so that it reaches the loop later and dies with the handle.
class TimedResult : public PendingCheck {
 public:
  TimedResult(core::EventLoop& loop, core::Duration after, CheckResult result, CheckDone done)
      : result_(std::move(result)), done_(std::move(done)) {
    timer_ = loop.createTimer([this] {
      CheckDone done = std::move(done_);
      done(std::move(result_));  // may destroy this; nothing is touched after
    });
    timer_->enableTimer(std::max(after, core::Duration::zero()));
  }

 private:
  CheckResult result_;
  CheckDone done_;
  core::TimerPtr timer_;
};

}  // namespace

PendingCheckPtr ActionChecker::run(const Action& action, const std::string& containerId,
                                   core::Duration timeout, CheckDone done) {
  if (!action.error.empty()) {
    return std::make_unique<TimedResult>(loop_, core::Duration::zero(),
                                         CheckResult{Outcome::kError, action.error, 0},
                                         std::move(done));
  }
  if (action.exec) return exec_.exec(containerId, action.exec->command, timeout, std::move(done));
  if (action.httpGet) return httpGet(loop_, *action.httpGet, timeout, std::move(done));
  if (action.tcpSocket) return tcpConnect(loop_, *action.tcpSocket, timeout, std::move(done));
  if (action.grpc) return grpcHealthCheck(loop_, *action.grpc, timeout, std::move(done));
  if (action.sleep) {
    // The hook's sleep ends early when its time (the grace period) runs out.
    core::Duration sleep = std::chrono::seconds(std::max<int64_t>(action.sleep->seconds, 0));
    return std::make_unique<TimedResult>(loop_, std::min(sleep, timeout),
                                         CheckResult{Outcome::kSuccess, "", 0}, std::move(done));
  }
  // The kubelet: "missing probe handler for <pod>:<container>".
  return std::make_unique<TimedResult>(loop_, core::Duration::zero(),
                                       CheckResult{Outcome::kError, "missing probe handler", 0},
                                       std::move(done));
}

}  // namespace probes

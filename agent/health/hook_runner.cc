#include "agent/health/hook_runner.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/health/handler_action.h"
#include "core/go_quote.h"
#include "core/log.h"
#include "probes/checks.h"

namespace agent::health {
namespace {

using Clock = std::chrono::steady_clock;

// format.Pod: "name_namespace(uid)".
std::string podName(const api::Pod& pod) {
  return pod.metadata.name + "_" + pod.metadata.namespace_ + "(" + pod.metadata.uid + ")";
}

// The time a hook took reached its timeout: the timeout, not the hook, ended it.
bool timedOut(Clock::time_point start, core::Duration timeout) {
  return Clock::now() - start >= timeout;
}

}  // namespace

absl::Status LifecycleHookRunner::run(const api::Pod& pod, const api::Container& container,
                                      const std::string& containerId, const std::string& podIP,
                                      const api::Handler& handler, core::Duration timeout) {
  if (loop_.isLoopThread()) {
    // Waiting here would block the loop the HTTP hook needs.
    return absl::InternalError("lifecycle hooks must not run on the event loop thread");
  }
  if (handler.exec) return runExec(pod, container, containerId, *handler.exec, timeout);
  if (handler.httpGet) return runHttp(pod, container, podIP, handler, timeout);
  if (handler.sleep) {
    auto want = std::chrono::seconds(std::max<int64_t>(0, handler.sleep->seconds));
    if (want <= timeout) {
      std::this_thread::sleep_for(want);
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(timeout);
    return absl::DeadlineExceededError(absl::StrFormat(
        "Sleep lifecycle hook (%d) for Container %s in Pod %s failed - error: container "
        "terminated before sleep hook finished",
        handler.sleep->seconds, core::goQuote(container.name), core::goQuote(podName(pod))));
  }
  // tcpSocket (deprecated for hooks) or nothing at all.
  return absl::InvalidArgumentError(
      "Cannot run handler: invalid handler: a lifecycle handler needs exec, httpGet or sleep");
}

absl::Status LifecycleHookRunner::runExec(const api::Pod& pod, const api::Container& container,
                                          const std::string& containerId,
                                          const api::ExecAction& exec, core::Duration timeout) {
  auto start = Clock::now();
  int64_t seconds = std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(timeout).count());
  auto resp = runtime_.execSync(containerId, exec.command, seconds);
  std::string error;
  std::string output;
  if (!resp.ok()) {
    error = std::string(resp.status().message());
  } else if (resp->exit_code() != 0) {
    error = absl::StrFormat("command '%s' exited with %d: %s", absl::StrJoin(exec.command, " "),
                            resp->exit_code(), resp->stderr());
  }
  if (error.empty()) return absl::OkStatus();
  if (resp.ok()) output = resp->stdout() + resp->stderr();
  std::string message = absl::StrFormat(
      "Exec lifecycle hook ([%s]) for Container %s in Pod %s failed - error: %s, message: %s",
      absl::StrJoin(exec.command, " "), core::goQuote(container.name), core::goQuote(podName(pod)),
      error, core::goQuote(output));
  if (!resp.ok() && (absl::IsDeadlineExceeded(resp.status()) || timedOut(start, timeout))) {
    return absl::DeadlineExceededError(message);
  }
  return absl::UnknownError(message);
}

absl::Status LifecycleHookRunner::runHttp(const api::Pod& pod, const api::Container& container,
                                          const std::string& podIP, const api::Handler& handler,
                                          core::Duration timeout) {
  auto fail = [&](absl::StatusCode code, const std::string& error) {
    return absl::Status(
        code, absl::StrFormat("HTTP lifecycle hook (%s) for Container %s in Pod %s failed - "
                              "error: %s",
                              handler.httpGet->path, core::goQuote(container.name),
                              core::goQuote(podName(pod)), error));
  };
  probes::Action action = handlerAction(handler, container, podIP);
  if (!action.error.empty() || !action.httpGet) {
    return fail(absl::StatusCode::kInvalidArgument, action.error);
  }
  probes::HttpGetSpec spec = std::move(*action.httpGet);
  bool userAgent = std::any_of(spec.headers.begin(), spec.headers.end(), [](const auto& h) {
    return absl::EqualsIgnoreCase(h.first, "User-Agent");
  });
  if (!userAgent) spec.headers.emplace_back("User-Agent", kLifecycleUserAgent);

  // The check lives on the loop; its handle is made, reset and destroyed there only.
  auto result = std::make_shared<std::promise<probes::CheckResult>>();
  std::future<probes::CheckResult> done = result->get_future();
  auto pending = std::make_shared<probes::PendingCheckPtr>();
  auto start = Clock::now();
  loop_.post([loop = &loop_, spec, timeout, result, pending] {
    *pending = probes::httpGet(
        *loop, spec, timeout, [result](probes::CheckResult r) { result->set_value(std::move(r)); });
  });
  // The check ends itself at the timeout; the margin covers a busy loop.
  if (done.wait_for(timeout + std::chrono::seconds(2)) != std::future_status::ready) {
    loop_.post([pending] { pending->reset(); });
    return fail(absl::StatusCode::kDeadlineExceeded,
                "the hook did not finish within " + std::to_string(timeout.count()) + "ms");
  }
  probes::CheckResult r = done.get();
  loop_.post([pending] { pending->reset(); });
  // Any answer will do: the kubelet's hook fails only when the request does.
  if (r.httpCode != 0 || r.outcome == probes::Outcome::kSuccess ||
      r.outcome == probes::Outcome::kWarning) {
    return absl::OkStatus();
  }
  return fail(timedOut(start, timeout) ? absl::StatusCode::kDeadlineExceeded
                                       : absl::StatusCode::kUnavailable,
              r.output);
}

}  // namespace agent::health

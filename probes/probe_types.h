// What a probe or lifecycle hook runs, and what one run of it found. The agent
// translates the pod spec into these (named ports resolved, the host defaulted
// to the pod IP), so the probes folder needs nothing of the agent's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/event_loop.h"

namespace probes {

struct ExecSpec {
  std::vector<std::string> command;
  bool operator==(const ExecSpec&) const = default;
};

struct HttpGetSpec {
  std::string scheme = "HTTP";  // "HTTP" or "HTTPS" (the certificate is not verified)
  std::string host;             // an IP or a name; the agent fills in the pod IP
  int32_t port = 0;
  std::string path;  // as given; "" means "/"
  std::vector<std::pair<std::string, std::string>> headers;
  bool operator==(const HttpGetSpec&) const = default;
};

struct TcpSpec {
  std::string host;
  int32_t port = 0;
  bool operator==(const TcpSpec&) const = default;
};

struct GrpcSpec {
  std::string host;
  int32_t port = 0;
  std::optional<std::string> service;  // grpc.health.v1 HealthCheckRequest.service
  bool operator==(const GrpcSpec&) const = default;
};

struct SleepSpec {
  int64_t seconds = 0;
  bool operator==(const SleepSpec&) const = default;
};

// Exactly one action is set. `error`, when not empty, says why the action cannot
// run at all (e.g. `port "web" not found in container`): every run of it then
// ends kError with that output, and nothing is attempted.
struct Action {
  std::optional<ExecSpec> exec;
  std::optional<HttpGetSpec> httpGet;
  std::optional<TcpSpec> tcpSocket;
  std::optional<GrpcSpec> grpc;
  std::optional<SleepSpec> sleep;  // lifecycle hooks only
  std::string error;
  bool operator==(const Action&) const = default;
};

// A probe with the API server's defaults already applied.
struct ProbeSpec {
  Action action;
  int32_t initialDelaySeconds = 0;
  int32_t timeoutSeconds = 1;
  int32_t periodSeconds = 10;
  int32_t successThreshold = 1;
  int32_t failureThreshold = 3;
  bool operator==(const ProbeSpec&) const = default;
};

// One run of a check, as the kubelet's probers classify it:
// kSuccess; kWarning (counts as success, e.g. an HTTP redirect not followed);
// kFailure (counts toward failureThreshold); kError (the check could not be
// made, e.g. ExecSync failed: the kubelet throws such a result away).
enum class Outcome { kSuccess, kWarning, kFailure, kError };

struct CheckResult {
  Outcome outcome = Outcome::kError;
  std::string output;    // what the event says after "... probe failed: "
  int32_t httpCode = 0;  // HTTP: the status code answered (0: no answer)
};
using CheckDone = std::function<void(CheckResult)>;

// A check in flight. Destroying the handle cancels the check: its callback will
// not run afterwards. Callbacks always run on the event loop thread, never
// inside the call that started the check.
class PendingCheck {
 public:
  virtual ~PendingCheck() = default;
};
using PendingCheckPtr = std::unique_ptr<PendingCheck>;

// Runs one action of a probe or hook against a container. The real one
// (ActionChecker in checks.h) does HTTP/TCP/gRPC on the loop without blocking
// and hands exec to an ExecRunner; tests plug in fakes.
class Checker {
 public:
  virtual ~Checker() = default;
  virtual PendingCheckPtr run(const Action& action, const std::string& containerId,
                              core::Duration timeout, CheckDone done) = 0;
};

// Runs a command in a running container (the agent: CRI ExecSync on the worker
// pool). Exit 0 → kSuccess; another exit code → kFailure with the combined
// output; the timeout passing → kFailure "command timed out"; the runtime
// refusing → kError with its message. `done` runs on the loop.
class ExecRunner {
 public:
  virtual ~ExecRunner() = default;
  virtual PendingCheckPtr exec(const std::string& containerId,
                               const std::vector<std::string>& command, core::Duration timeout,
                               CheckDone done) = 0;
};

}  // namespace probes

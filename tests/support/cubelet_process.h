// Runs the real cubelet binary for integration tests: its own root, log and
// manifest directories under a temp dir, pointed at the private containerd,
// with the read-only port on a free loopback port so tests can read /pods.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cubelet::testing {

class CubeletProcess {
 public:
  // `dir` holds manifests/, root/, logs/ and cubelet.log; created if missing.
  explicit CubeletProcess(std::string dir, std::vector<std::string> extraFlags = {});
  ~CubeletProcess();  // SIGKILLs a still-running process

  // Sets (or overrides) a variable of the environment cubelet starts with; the rest
  // is the test's own environment. Takes effect at the next start().
  void setEnv(const std::string& name, const std::string& value) { env_[name] = value; }

  absl::Status start();
  // SIGTERM, then waits for the exit; returns the exit status.
  absl::StatusOr<int> stop();
  bool running();

  std::string manifestDir() const { return dir_ + "/manifests"; }
  std::string rootDir() const { return dir_ + "/root"; }
  std::string podLogsDir() const { return dir_ + "/logs/pods"; }
  std::string linkDir() const { return dir_ + "/logs/containers"; }
  std::string logFile() const { return dir_ + "/cubelet.log"; }
  std::string log() const;  // the agent's log so far
  const std::string& nodeName() const { return nodeName_; }
  pid_t pid() const { return pid_; }  // -1 when not running
  // The HTTPS kubelet API's port (--port), a free loopback port chosen at the
  // first start(); its certificates live in certDir() (--cert-dir).
  int apiPort() const { return apiPort_; }
  std::string certDir() const { return dir_ + "/pki"; }

  // Writes (atomically, by rename) or removes a manifest file.
  void writeManifest(const std::string& name, const std::string& yaml);
  void removeManifest(const std::string& name);

  // GET `path` on the read-only port: the body of a 200 answer.
  absl::StatusOr<std::string> get(const std::string& path);
  // GET /pods on the read-only port.
  absl::StatusOr<nlohmann::json> pods();
  // The pod named `<name>-<node>` from /pods, or nullopt.
  std::optional<nlohmann::json> pod(const std::string& name);
  // Polls /pods every 100 ms until `pred` holds for the pod (or the pod's
  // absence, when `pred` receives nullopt) or the timeout passes.
  bool waitForPod(const std::string& name,
                  const std::function<bool(const std::optional<nlohmann::json>&)>& pred,
                  std::chrono::milliseconds timeout);
  bool waitForPhase(const std::string& name, const std::string& phase,
                    std::chrono::milliseconds timeout);

 private:
  std::string dir_;
  std::vector<std::string> extraFlags_;
  std::map<std::string, std::string> env_;
  std::string nodeName_ = "it-node";
  int port_ = 0;
  int apiPort_ = 0;
  pid_t pid_ = -1;
};

// The containerStatus named `container` in a /pods item, or an empty object.
nlohmann::json containerStatus(const nlohmann::json& pod, const std::string& container,
                               bool init = false);
// "running", "waiting:<reason>", "terminated:<reason>:<exitCode>" for messages and checks.
std::string stateSummary(const nlohmann::json& containerStatus);

// A fresh temp dir (mkdtemp under /tmp) for one test.
std::string makeTempDir(const std::string& prefix);

}  // namespace cubelet::testing

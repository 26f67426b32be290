// PrivateContainerd drives scripts/containerd.sh, the same script the demo
// uses, so that the tests exercise exactly the configuration users run.
#include "tests/support/private_containerd.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status.h"
#include "tests/support/run_command.h"

namespace cubelet::testing {
namespace {

constexpr char kScript[] = CUBELET_SOURCE_DIR "/scripts/containerd.sh";
constexpr char kImagesDir[] = CUBELET_BINARY_DIR "/images";

// Runs `containerd.sh <args...>`; a failure carries the script's own message.
absl::Status runScript(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/bash", kScript};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::string> out = runCommandOk(argv);
  if (!out.ok()) return out.status();
  VLOG(1) << *out;
  return absl::OkStatus();
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::Status PrivateContainerd::start(const std::string& runDir, PrivateContainerd* out) {
  if (runDir.empty() || runDir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("run directory must be absolute: ", runDir));
  }
  if (out->running_) {
    return absl::FailedPreconditionError(
        absl::StrCat("a private containerd already runs under ", out->runDir_));
  }
  out->runDir_ = runDir;
  RETURN_IF_ERROR(out->startAgain());
  return absl::OkStatus();
}

PrivateContainerd::~PrivateContainerd() {
  if (runDir_.empty() || !exists(runDir_)) return;
  absl::Status s = stop();
  if (!s.ok()) LOG_ERROR << "stopping the private containerd: " << s;
}

absl::Status PrivateContainerd::stop() {
  if (runDir_.empty()) return absl::OkStatus();
  running_ = false;
  return core::annotate(runScript({"stop", runDir_}), "stop private containerd");
}

absl::Status PrivateContainerd::kill() {
  if (runDir_.empty()) return absl::FailedPreconditionError("private containerd never started");
  running_ = false;
  return core::annotate(runScript({"kill", runDir_}), "kill private containerd");
}

absl::Status PrivateContainerd::startAgain() {
  if (runDir_.empty()) return absl::FailedPreconditionError("private containerd never started");
  RETURN_IF_ERROR(
      core::annotate(runScript({"start", runDir_, kImagesDir}), "start private containerd"));
  running_ = true;
  return absl::OkStatus();
}

absl::Status PrivateContainerd::restart() {
  RETURN_IF_ERROR(kill());
  return startAgain();
}

PrivateContainerd& containerd() {
  // Leaked on purpose: main() stops it explicitly, and a destructor running at
  // exit would race with whatever the tests left behind.
  static PrivateContainerd* instance = new PrivateContainerd();
  return *instance;
}

}  // namespace cubelet::testing

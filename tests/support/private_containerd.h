// A private containerd for integration tests: its own config, root, state and
// socket under a temporary run directory, our locally built pause and busybox
// images imported into the k8s.io namespace, CNI config dir of its own. Started
// and stopped through scripts/containerd.sh, which the demo uses too.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace cubelet::testing {

// Image names the tests and the demo use; built by scripts/build-images.sh.
inline constexpr char kPauseImage[] = "localhost/cubelet/pause:3.9";
inline constexpr char kBusyboxImage[] = "localhost/cubelet/busybox:1.35";

class PrivateContainerd {
 public:
  // Starts containerd under `runDir` (created; must not be in use).
  static absl::Status start(const std::string& runDir, PrivateContainerd* out);
  ~PrivateContainerd();  // stops it and removes what it left behind
  absl::Status stop();

  // "unix:///.../containerd.sock": what cubelet's --container-runtime-endpoint takes.
  std::string endpoint() const { return "unix://" + socketPath(); }
  std::string socketPath() const { return runDir_ + "/containerd.sock"; }
  std::string cniConfDir() const { return runDir_ + "/cni/net.d"; }
  const std::string& runDir() const { return runDir_; }

  // Kills containerd with SIGKILL and starts it again on the same state (for
  // runtime-outage tests). Running containers survive (their shims do).
  absl::Status restart();
  absl::Status kill();  // stops containerd without cleaning up, for outage tests
  absl::Status startAgain();

 private:
  std::string runDir_;
  bool running_ = false;
};

// The process-wide instance the integration binaries start in their main()
// (tests/support/integration_main.cc), inside fresh network and mount namespaces.
PrivateContainerd& containerd();

}  // namespace cubelet::testing

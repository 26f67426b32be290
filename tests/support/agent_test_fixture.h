// The fixture of the agent integration tests: a fresh cubelet per test against
// the binary's private containerd, a CRI client to look behind the agent's
// back, and a clean runtime afterwards.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cri/grpc_runtime_client.h"
#include "tests/support/cubelet_process.h"
#include "tests/support/private_containerd.h"

namespace cubelet::testing {

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts cubelet with these extra flags (call once per test, or again after stop()).
  void startCubelet(std::vector<std::string> extraFlags = {});

  // The runtime's containers of a pod (by the pod's full name `<name>-<node>`).
  std::vector<runtime::v1::Container> containersOf(const std::string& podName);
  std::vector<runtime::v1::PodSandbox> sandboxesOf(const std::string& podName);
  // The id of the running container `container` of the pod whose runtime name is
  // `podName`; fails the test (and returns "") after a minute.
  std::string runningContainer(const std::string& podName, const std::string& container = "main");
  // Removes every sandbox (and with it every container) from the runtime.
  void cleanRuntime();

  std::string dir_;
  std::unique_ptr<CubeletProcess> cubelet_;
  std::unique_ptr<cri::GrpcRuntimeClient> cri_;
};

// A one-container busybox pod manifest.
std::string podManifest(const std::string& name, const std::string& command,
                        const std::string& restartPolicy = "Always",
                        const std::string& extraSpec = "");

}  // namespace cubelet::testing

// The fixture of the cluster integration tests: the AgentTest's private
// containerd plus a fake API server on loopback (TLS, real list/watch
// semantics, the Node authorizer), and cubelet joined to it as node "it-node".
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/fakeapi/fake_api_server.h"
#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {

class ClusterTest : public AgentTest {
 protected:
  // The fake API's node IPAM range (it-node gets 10.244.0.0/24); a fixture may turn
  // it off in apiOptions() by clearing allocateNodeCidrs.
  static constexpr char kClusterCidr[] = "10.244.0.0/16";
  void SetUp() override;
  void TearDown() override;
  // Settings of the fake API server a fixture wants (admission plugins, limits); the
  // defaults above are already set.
  virtual void apiOptions(fakeapi::FakeApiServerOptions&) {}

  // Starts cubelet with --kubeconfig for system:node:it-node (client certificate)
  // and these extra flags.
  void startJoined(std::vector<std::string> extraFlags = {});

  // A pod bound to it-node running one busybox container with `command`.
  nlohmann::json podObject(const std::string& name, const std::string& command,
                           const std::string& restartPolicy = "Always");
  // Creates it in the API (namespace default); fails the test on error.
  nlohmann::json createPod(const nlohmann::json& pod);
  static std::string podPath(const std::string& name, const std::string& ns = "default") {
    return "/api/v1/namespaces/" + ns + "/pods/" + name;
  }
  // Waits for the API object at `path` to satisfy `pred`; returns the last seen
  // object (null when it never existed).
  nlohmann::json waitForObject(const std::string& path,
                               const std::function<bool(const nlohmann::json&)>& pred,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Waits until the object at `path` is gone from the API.
  bool waitForGone(const std::string& path,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));
  nlohmann::json waitForPodPhase(const std::string& name, const std::string& phase,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Requests the Node authorizer denied so far.
  std::vector<fakeapi::RequestRecord> deniedRequests() const;

  std::unique_ptr<fakeapi::FakeApiServer> api_;
  std::string kubeconfig_;
};

}  // namespace cubelet::testing

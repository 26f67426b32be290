#include "tests/support/cluster_fixture.h"

#include <thread>

#include "tests/support/private_containerd.h"

namespace cubelet::testing {

void ClusterTest::SetUp() {
  AgentTest::SetUp();
  if (HasFatalFailure()) return;
  fakeapi::FakeApiServerOptions opts;
  opts.pkiDir = dir_ + "/pki";
  // As a kubeadm cluster's controller-manager: the node gets a pod CIDR.
  opts.allocateNodeCidrs = kClusterCidr;
  apiOptions(opts);
  auto api = fakeapi::FakeApiServer::start(opts);
  ASSERT_TRUE(api.ok()) << api.status();
  api_ = std::move(*api);
  kubeconfig_ = dir_ + "/kubelet.conf";
  absl::Status s = api_->writeCertKubeconfig(kubeconfig_, "system:node:it-node", {"system:nodes"});
  ASSERT_TRUE(s.ok()) << s;
}

void ClusterTest::TearDown() {
  if (api_) {
    for (const auto& r : deniedRequests()) {
      ADD_FAILURE() << "the Node authorizer denied " << r.method << " " << r.path << "?" << r.query
                    << " by " << r.user;
    }
  }
  AgentTest::TearDown();
  api_.reset();
}

void ClusterTest::startJoined(std::vector<std::string> extraFlags) {
  extraFlags.insert(extraFlags.begin(), {"--kubeconfig", kubeconfig_});
  startCubelet(std::move(extraFlags));
}

nlohmann::json ClusterTest::podObject(const std::string& name, const std::string& command,
                                      const std::string& restartPolicy) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"nodeName", "it-node"},
            {"restartPolicy", restartPolicy},
            {"terminationGracePeriodSeconds", 2},
            {"containers",
             {{{"name", "main"},
               {"image", kBusyboxImage},
               {"imagePullPolicy", "IfNotPresent"},
               {"command", {"sh", "-c", command}}}}}}}};
}

nlohmann::json ClusterTest::createPod(const nlohmann::json& pod) {
  std::string ns = pod["metadata"].value("namespace", "default");
  auto created = api_->create("/api/v1/namespaces/" + ns + "/pods", pod);
  EXPECT_TRUE(created.ok()) << created.status();
  return created.ok() ? *created : nlohmann::json();
}

nlohmann::json ClusterTest::waitForObject(const std::string& path,
                                          const std::function<bool(const nlohmann::json&)>& pred,
                                          std::chrono::milliseconds timeout) {
  auto r = api_->waitFor(path, pred, timeout);
  if (r.ok()) return *r;
  ADD_FAILURE() << path << ": " << r.status();
  auto last = api_->get(path);
  return last.ok() ? *last : nlohmann::json();
}

bool ClusterTest::waitForGone(const std::string& path, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (absl::IsNotFound(api_->get(path).status())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << path << " still exists after " << timeout.count() << " ms";
  return false;
}

nlohmann::json ClusterTest::waitForPodPhase(const std::string& name, const std::string& phase,
                                            std::chrono::milliseconds timeout) {
  return waitForObject(
      podPath(name),
      [&](const nlohmann::json& p) {
        return p.contains("status") && p["status"].value("phase", "") == phase;
      },
      timeout);
}

std::vector<fakeapi::RequestRecord> ClusterTest::deniedRequests() const {
  std::vector<fakeapi::RequestRecord> out;
  for (const auto& r : api_->requests()) {
    if (r.denied) out.push_back(r);
  }
  return out;
}

}  // namespace cubelet::testing

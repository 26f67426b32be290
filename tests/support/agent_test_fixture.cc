#include "tests/support/agent_test_fixture.h"

#include <filesystem>
#include <thread>

#include "agent/runtime/labels.h"
#include "tests/support/volume_checks.h"

namespace cubelet::testing {

void AgentTest::SetUp() {
  dir_ = makeTempDir("cubelet-agent-test");
  ASSERT_FALSE(dir_.empty());
  auto c = cri::GrpcRuntimeClient::create(containerd().endpoint(), std::chrono::seconds(30),
                                          std::chrono::seconds(60));
  ASSERT_TRUE(c.ok()) << c.status();
  cri_ = std::move(*c);
  cleanRuntime();
}

void AgentTest::TearDown() {
  if (cubelet_ && cubelet_->running()) {
    auto rc = cubelet_->stop();
    EXPECT_TRUE(rc.ok()) << rc.status();
    if (rc.ok()) {
      EXPECT_EQ(*rc, 0) << "cubelet exit status";
    }
  }
  if (HasFailure() && cubelet_) {
    std::string log = cubelet_->log();
    if (log.size() > 20000) log = log.substr(log.size() - 20000);
    std::fprintf(stderr, "---- cubelet log (tail) ----\n%s\n----\n", log.c_str());
  }
  cleanRuntime();
  cubelet_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void AgentTest::startCubelet(std::vector<std::string> extraFlags) {
  if (!cubelet_) cubelet_ = std::make_unique<CubeletProcess>(dir_, std::move(extraFlags));
  absl::Status s = cubelet_->start();
  ASSERT_TRUE(s.ok()) << s;
}

std::vector<runtime::v1::Container> AgentTest::containersOf(const std::string& podName) {
  runtime::v1::ContainerFilter f;
  (*f.mutable_label_selector())[agent::runtime::kPodNameLabel] = podName;
  auto list = cri_->listContainers(f);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *list : std::vector<runtime::v1::Container>{};
}

std::vector<runtime::v1::PodSandbox> AgentTest::sandboxesOf(const std::string& podName) {
  runtime::v1::PodSandboxFilter f;
  (*f.mutable_label_selector())[agent::runtime::kPodNameLabel] = podName;
  auto list = cri_->listPodSandbox(f);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *list : std::vector<runtime::v1::PodSandbox>{};
}

void AgentTest::cleanRuntime() {
  // A container the runtime is still starting cannot be removed yet: retry briefly.
  absl::Status last;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto list = cri_->listPodSandbox(runtime::v1::PodSandboxFilter());
    ASSERT_TRUE(list.ok()) << list.status();
    if (list->empty()) return;
    for (const auto& s : *list) {
      last = cri_->stopPodSandbox(s.id());
      if (last.ok()) last = cri_->removePodSandbox(s.id());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ADD_FAILURE() << "runtime not clean after 10 s: " << last;
}

std::string podManifest(const std::string& name, const std::string& command,
                        const std::string& restartPolicy, const std::string& extraSpec) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\nspec:\n  restartPolicy: " + restartPolicy + "\n  terminationGracePeriodSeconds: 2\n" +
         extraSpec + "  containers:\n  - name: main\n    image: " + kBusyboxImage +
         "\n    command: [\"sh\", \"-c\", \"" + command + "\"]\n";
}

std::string AgentTest::runningContainer(const std::string& podName, const std::string& container) {
  std::string id;
  pollUntil(
      [&] {
        for (const auto& c : containersOf(podName)) {
          if (c.metadata().name() == container && c.state() == runtime::v1::CONTAINER_RUNNING) {
            id = c.id();
          }
        }
        return !id.empty();
      },
      std::chrono::seconds(60));
  EXPECT_FALSE(id.empty()) << "no running container " << container << " in " << podName;
  return id;
}

}  // namespace cubelet::testing

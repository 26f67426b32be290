// GrpcRuntimeClient against a real containerd (the private one integration_main
// starts): every CRI call the agent makes, on a host-network pod running our
// busybox image. This is the proof that cri/proto/api.proto is wire-compatible
// with runtime.v1 as containerd serves it.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "cri/grpc_runtime_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/private_containerd.h"

namespace cri {
namespace {

namespace v1 = runtime::v1;
using std::chrono::milliseconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr milliseconds kDefaultTimeout{60'000};
constexpr milliseconds kPullTimeout{30'000};

std::unique_ptr<GrpcRuntimeClient> connect() {
  auto client = GrpcRuntimeClient::create(cubelet::testing::containerd().endpoint(),
                                          kDefaultTimeout, kPullTimeout);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

v1::ImageSpec imageSpec(const std::string& image) {
  v1::ImageSpec spec;
  spec.set_image(image);
  return spec;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True once a line of the CRI log file at `path` ends with `suffix`.
bool waitForLogLine(const std::string& path, const std::string& suffix, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::istringstream lines(readFile(path));
    for (std::string line; std::getline(lines, line);) {
      if (line.ends_with(suffix)) return true;
    }
    std::this_thread::sleep_for(milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

TEST(CriClientTest, VersionAndStatus) {
  auto client = connect();
  ASSERT_NE(client, nullptr);
  auto version = client->version();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->runtime_name(), "containerd");
  EXPECT_EQ(version->runtime_api_version(), "v1");

  auto status = client->status(true);
  ASSERT_TRUE(status.ok()) << status.status();
  bool runtimeReady = false;
  for (const auto& c : status->status().conditions()) {
    if (c.type() == "RuntimeReady") runtimeReady = c.status();
  }
  EXPECT_TRUE(runtimeReady) << status->DebugString();
  EXPECT_FALSE(status->info().empty());  // verbose: containerd adds its config
}

TEST(CriClientTest, ImagesPresentMissingAndListed) {
  auto client = connect();
  ASSERT_NE(client, nullptr);
  auto busybox = client->imageStatus(imageSpec(cubelet::testing::kBusyboxImage));
  ASSERT_TRUE(busybox.ok()) << busybox.status();
  ASSERT_TRUE(busybox->has_value());
  EXPECT_THAT((*busybox)->id(), StartsWith("sha256:"));
  EXPECT_THAT((*busybox)->repo_tags(), Contains(cubelet::testing::kBusyboxImage));
  EXPECT_GT((*busybox)->size(), 0u);

  auto missing = client->imageStatus(imageSpec("localhost/cubelet/missing:0"));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());

  auto images = client->listImages({});
  ASSERT_TRUE(images.ok()) << images.status();
  std::vector<std::string> tags;
  for (const auto& image : *images)
    tags.insert(tags.end(), image.repo_tags().begin(), image.repo_tags().end());
  EXPECT_THAT(tags, Contains(cubelet::testing::kBusyboxImage));
  EXPECT_THAT(tags, Contains(cubelet::testing::kPauseImage));

  auto fs = client->imageFsInfo();
  ASSERT_TRUE(fs.ok()) << fs.status();
  ASSERT_GE(fs->image_filesystems_size(), 1);
  // Usage is filled in by a background sync, so only the identity is certain.
  EXPECT_THAT(fs->image_filesystems(0).fs_id().mountpoint(),
              HasSubstr(cubelet::testing::containerd().runDir()));
}

TEST(CriClientTest, PullOfUnreachableImageFailsClearly) {
  auto client = connect();
  ASSERT_NE(client, nullptr);
  // Port 1 on loopback: nothing listens, so the pull fails at once.
  const std::string image = "127.0.0.1:1/nothing/here:1";
  auto ref = client->pullImage(imageSpec(image), nullptr, nullptr);
  ASSERT_FALSE(ref.ok());
  EXPECT_THAT(std::string(ref.status().message()),
              StartsWith("CRI PullImage (image \"" + image + "\"): rpc error: "));
  EXPECT_THAT(std::string(ref.status().message()), Not(HasSubstr("\n")));
}

class PodLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = connect();
    ASSERT_NE(client_, nullptr);
    std::string tmpl = cubelet::testing::containerd().runDir() + "/pods-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    logDir_ = tmpl;
  }

  v1::PodSandboxConfig sandboxConfig() const {
    v1::PodSandboxConfig c;
    c.mutable_metadata()->set_name("cri-client-test");
    c.mutable_metadata()->set_namespace_("default");
    c.mutable_metadata()->set_uid("7d3c0a4e-cri-client-test");
    c.mutable_metadata()->set_attempt(0);
    c.set_log_directory(logDir_);
    (*c.mutable_labels())["io.kubernetes.pod.name"] = "cri-client-test";
    (*c.mutable_labels())["io.kubernetes.pod.namespace"] = "default";
    (*c.mutable_labels())["io.kubernetes.pod.uid"] = "7d3c0a4e-cri-client-test";
    (*c.mutable_labels())["app"] = "cri-client-test";
    auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    ns->set_network(v1::NODE);
    ns->set_pid(v1::CONTAINER);
    ns->set_ipc(v1::POD);
    return c;
  }

  std::unique_ptr<GrpcRuntimeClient> client_;
  std::string logDir_;
};

TEST_F(PodLifecycleTest, EveryCallTheAgentMakes) {
  const v1::PodSandboxConfig sbConfig = sandboxConfig();
  auto sandboxId = client_->runPodSandbox(sbConfig, "");
  ASSERT_TRUE(sandboxId.ok()) << sandboxId.status();

  auto sbStatus = client_->podSandboxStatus(*sandboxId, false);
  ASSERT_TRUE(sbStatus.ok()) << sbStatus.status();
  EXPECT_EQ(sbStatus->status().id(), *sandboxId);
  EXPECT_EQ(sbStatus->status().state(), v1::SANDBOX_READY);
  EXPECT_EQ(sbStatus->status().metadata().uid(), sbConfig.metadata().uid());
  EXPECT_EQ(sbStatus->status().labels().at("app"), "cri-client-test");
  EXPECT_EQ(sbStatus->status().linux().namespaces().options().network(), v1::NODE);

  v1::PodSandboxFilter filter;
  (*filter.mutable_label_selector())["app"] = "cri-client-test";
  auto sandboxes = client_->listPodSandbox(filter);
  ASSERT_TRUE(sandboxes.ok()) << sandboxes.status();
  ASSERT_EQ(sandboxes->size(), 1u);
  EXPECT_EQ((*sandboxes)[0].id(), *sandboxId);
  (*filter.mutable_label_selector())["app"] = "someone-else";
  auto none = client_->listPodSandbox(filter);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  // The kubelet makes the container's log directory before CreateContainer.
  std::filesystem::create_directories(logDir_ + "/web");
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("web");
  config.mutable_image()->set_image(cubelet::testing::kBusyboxImage);
  for (const char* arg : {"sh", "-c", "echo hello; sleep 1000"}) config.add_command(arg);
  config.set_log_path("web/0.log");
  (*config.mutable_labels())["io.kubernetes.container.name"] = "web";
  (*config.mutable_labels())["io.kubernetes.pod.uid"] = sbConfig.metadata().uid();
  auto containerId = client_->createContainer(*sandboxId, config, sbConfig);
  ASSERT_TRUE(containerId.ok()) << containerId.status();
  ASSERT_TRUE(client_->startContainer(*containerId).ok());

  auto cStatus = client_->containerStatus(*containerId, false);
  ASSERT_TRUE(cStatus.ok()) << cStatus.status();
  EXPECT_EQ(cStatus->status().state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(cStatus->status().metadata().name(), "web");
  EXPECT_GT(cStatus->status().started_at(), 0);
  EXPECT_EQ(cStatus->status().log_path(), logDir_ + "/web/0.log");
  EXPECT_THAT(cStatus->status().image_ref(), StartsWith("sha256:"));

  v1::ContainerFilter cFilter;
  cFilter.set_pod_sandbox_id(*sandboxId);
  auto containers = client_->listContainers(cFilter);
  ASSERT_TRUE(containers.ok()) << containers.status();
  ASSERT_EQ(containers->size(), 1u);
  EXPECT_EQ((*containers)[0].id(), *containerId);
  EXPECT_EQ((*containers)[0].state(), v1::CONTAINER_RUNNING);

  auto exec = client_->execSync(*containerId, {"echo", "hi"}, 10);
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->stdout(), "hi\n");
  EXPECT_EQ(exec->exit_code(), 0);
  auto failing = client_->execSync(*containerId, {"sh", "-c", "exit 7"}, 10);
  ASSERT_TRUE(failing.ok()) << failing.status();
  EXPECT_EQ(failing->exit_code(), 7);

  auto stats = client_->containerStats(*containerId);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->attributes().id(), *containerId);
  EXPECT_EQ(stats->attributes().metadata().name(), "web");

  const std::string logFile = logDir_ + "/web/0.log";
  EXPECT_TRUE(waitForLogLine(logFile, " stdout F hello", milliseconds(10'000)))
      << logFile << ":\n"
      << readFile(logFile);

  ASSERT_TRUE(client_->stopContainer(*containerId, 0).ok());
  auto stopped = client_->containerStatus(*containerId, false);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status().state(), v1::CONTAINER_EXITED);
  EXPECT_THAT(stopped->status().exit_code(), ::testing::AnyOf(137, 143));
  EXPECT_GT(stopped->status().finished_at(), 0);

  ASSERT_TRUE(client_->removeContainer(*containerId).ok());
  auto gone = client_->containerStatus(*containerId, false);
  EXPECT_TRUE(isNotFound(gone.status())) << gone.status();
  EXPECT_THAT(
      std::string(gone.status().message()),
      StartsWith("CRI ContainerStatus (container " + *containerId + "): rpc error: NotFound: "));

  ASSERT_TRUE(client_->stopPodSandbox(*sandboxId).ok());
  auto notReady = client_->podSandboxStatus(*sandboxId, false);
  ASSERT_TRUE(notReady.ok()) << notReady.status();
  EXPECT_EQ(notReady->status().state(), v1::SANDBOX_NOTREADY);
  ASSERT_TRUE(client_->removePodSandbox(*sandboxId).ok());
  auto sbGone = client_->podSandboxStatus(*sandboxId, false);
  EXPECT_TRUE(isNotFound(sbGone.status())) << sbGone.status();
  // Removal is idempotent.
  EXPECT_TRUE(client_->removePodSandbox(*sandboxId).ok());
}

}  // namespace
}  // namespace cri

// GrpcRuntimeClient against a real in-process gRPC server on a unix socket:
// endpoint parsing, error code mapping and messages, deadlines, list results.
#include "cri/grpc_runtime_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/fakes/fake_cri_server.h"

namespace cri {
namespace {

namespace v1 = runtime::v1;
using cubelet::testing::FakeCriServer;
using std::chrono::milliseconds;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path() / "cri-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

v1::PodSandboxConfig sandboxConfig(const std::string& name, const std::string& app) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  (*c.mutable_labels())["app"] = app;
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  return c;
}

class GrpcClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeCriServer::start(dir_.path() + "/cri.sock");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = makeClient(milliseconds(2000));
  }

  std::unique_ptr<GrpcRuntimeClient> makeClient(milliseconds timeout) {
    auto client = GrpcRuntimeClient::create(server_->endpoint(), timeout, milliseconds(5000));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<FakeCriServer> server_;
  std::unique_ptr<GrpcRuntimeClient> client_;
};

TEST(EndpointTest, AcceptsUnixUrlsAndBarePaths) {
  EXPECT_EQ(*grpcTargetForEndpoint("unix:///run/containerd/containerd.sock"),
            "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(*grpcTargetForEndpoint("/run/containerd/containerd.sock"),
            "unix:///run/containerd/containerd.sock");
  EXPECT_TRUE(
      GrpcRuntimeClient::create("/run/x.sock", milliseconds(1000), milliseconds(1000)).ok());
}

TEST(EndpointTest, RejectsEverythingElseNamingTheEndpoint) {
  for (std::string bad : {"", "tcp://127.0.0.1:1234", "npipe:////./pipe/containerd", "unix://",
                          "unix://relative/sock", "relative/sock", "unix:/x"}) {
    auto client = GrpcRuntimeClient::create(bad, milliseconds(1000), milliseconds(1000));
    ASSERT_FALSE(client.ok()) << bad;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(client.status().message().find("\"" + bad + "\""), std::string::npos)
        << client.status();
  }
}

TEST_F(GrpcClientTest, VersionAndStatus) {
  auto version = client_->version();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->runtime_name(), "fake-cri");
  server_->setConditions(true, false);
  auto status = client_->status(false);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->status().conditions_size(), 2);
  EXPECT_TRUE(status->status().conditions(0).status());
  EXPECT_FALSE(status->status().conditions(1).status());
}

TEST_F(GrpcClientTest, ErrorsKeepTheCodeAndNameCallAndObject) {
  struct Case {
    grpc::StatusCode grpcCode;
    absl::StatusCode abslCode;
    const char* codeName;
  };
  for (const Case& c :
       {Case{grpc::StatusCode::NOT_FOUND, absl::StatusCode::kNotFound, "NotFound"},
        Case{grpc::StatusCode::UNKNOWN, absl::StatusCode::kUnknown, "Unknown"},
        Case{grpc::StatusCode::FAILED_PRECONDITION, absl::StatusCode::kFailedPrecondition,
             "FailedPrecondition"},
        Case{grpc::StatusCode::RESOURCE_EXHAUSTED, absl::StatusCode::kResourceExhausted,
             "ResourceExhausted"},
        Case{grpc::StatusCode::UNAVAILABLE, absl::StatusCode::kUnavailable, "Unavailable"}}) {
    server_->failWith("StartContainer", grpc::Status(c.grpcCode, "boom\nsecond line"), 1);
    absl::Status st = client_->startContainer("abc123");
    EXPECT_EQ(st.code(), c.abslCode);
    EXPECT_EQ(st.message(), std::string("CRI StartContainer (container abc123): rpc error: ") +
                                c.codeName + ": boom second line");
    EXPECT_EQ(isNotFound(st), c.abslCode == absl::StatusCode::kNotFound);
  }
}

TEST_F(GrpcClientTest, CreateContainerErrorNamesSandboxAndContainer) {
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("web");
  config.mutable_image()->set_image("busybox");
  auto id = client_->createContainer("3f2a", config, sandboxConfig("p", "a"));
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(isNotFound(id.status()));
  EXPECT_EQ(id.status().message().rfind(
                "CRI CreateContainer (sandbox 3f2a, container \"web\"): rpc error: NotFound: ", 0),
            0u)
      << id.status();
}

TEST_F(GrpcClientTest, SlowRuntimeSurfacesAsDeadlineExceeded) {
  auto client = makeClient(milliseconds(200));
  server_->delay("Version", milliseconds(3000));
  auto start = std::chrono::steady_clock::now();
  auto version = client->version();
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), absl::StatusCode::kDeadlineExceeded) << version.status();
  EXPECT_EQ(version.status().message().rfind("CRI Version: rpc error: DeadlineExceeded", 0), 0u)
      << version.status();
  EXPECT_LT(elapsed, milliseconds(2000));
}

TEST_F(GrpcClientTest, StopContainerDeadlineIncludesTheGracePeriod) {
  auto client = makeClient(milliseconds(300));
  server_->addImage("busybox");
  v1::PodSandboxConfig sb = sandboxConfig("p", "a");
  auto sandboxId = client->runPodSandbox(sb, "");
  ASSERT_TRUE(sandboxId.ok()) << sandboxId.status();
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("c");
  config.mutable_image()->set_image("busybox");
  auto id = client->createContainer(*sandboxId, config, sb);
  ASSERT_TRUE(id.ok()) << id.status();

  // The runtime takes 1 s: fine with 2 s of grace (deadline 2.3 s), too slow
  // without (deadline 0.3 s).
  server_->delay("StopContainer", milliseconds(1000));
  EXPECT_EQ(client->stopContainer(*id, 0).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(client->stopContainer(*id, 2).ok());
}

TEST_F(GrpcClientTest, ExecSyncDeadlineIncludesTheCommandTimeout) {
  auto client = makeClient(milliseconds(300));
  server_->addImage("busybox");
  v1::PodSandboxConfig sb = sandboxConfig("p", "a");
  auto sandboxId = client->runPodSandbox(sb, "");
  ASSERT_TRUE(sandboxId.ok()) << sandboxId.status();
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("c");
  config.mutable_image()->set_image("busybox");
  auto id = client->createContainer(*sandboxId, config, sb);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(client->startContainer(*id).ok());
  server_->setExecSyncHandler([](const v1::ExecSyncRequest& req) {
    v1::ExecSyncResponse resp;
    resp.set_stdout(req.cmd(0) + "\n");
    resp.set_exit_code(3);
    return resp;
  });
  server_->delay("ExecSync", milliseconds(1000));
  auto slow = client->execSync(*id, {"hi"}, 0);
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto ok = client->execSync(*id, {"hi"}, 2);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->stdout(), "hi\n");
  EXPECT_EQ(ok->exit_code(), 3);  // not an error: the caller reads it
}

TEST_F(GrpcClientTest, ListPodSandboxReturnsItemsMatchingTheFilter) {
  auto a = client_->runPodSandbox(sandboxConfig("one", "web"), "");
  auto b = client_->runPodSandbox(sandboxConfig("two", "db"), "runc");
  ASSERT_TRUE(a.ok() && b.ok());

  auto all = client_->listPodSandbox({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u);

  v1::PodSandboxFilter filter;
  (*filter.mutable_label_selector())["app"] = "db";
  auto db = client_->listPodSandbox(filter);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_EQ(db->size(), 1u);
  EXPECT_EQ((*db)[0].id(), *b);
  EXPECT_EQ((*db)[0].metadata().name(), "two");
  EXPECT_EQ((*db)[0].runtime_handler(), "runc");
  EXPECT_EQ((*db)[0].state(), v1::SANDBOX_READY);

  ASSERT_TRUE(client_->stopPodSandbox(*b).ok());
  v1::PodSandboxFilter notReady;
  notReady.mutable_state()->set_state(v1::SANDBOX_NOTREADY);
  auto stopped = client_->listPodSandbox(notReady);
  ASSERT_TRUE(stopped.ok());
  ASSERT_EQ(stopped->size(), 1u);
  EXPECT_EQ((*stopped)[0].id(), *b);
}

TEST_F(GrpcClientTest, ImageStatusIsNulloptWhenAbsent) {
  v1::ImageSpec spec;
  spec.set_image("docker.io/library/busybox:1.35");
  auto missing = client_->imageStatus(spec);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());

  auto ref = client_->pullImage(spec, nullptr, nullptr);
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto present = client_->imageStatus(spec);
  ASSERT_TRUE(present.ok() && present->has_value());
  EXPECT_EQ((*present)->id(), *ref);
  auto images = client_->listImages({});
  ASSERT_TRUE(images.ok());
  EXPECT_EQ(images->size(), 1u);
}

TEST_F(GrpcClientTest, PullErrorNamesTheImage) {
  server_->failWith("PullImage", grpc::Status(grpc::StatusCode::UNKNOWN, "failed to resolve"), 1);
  v1::ImageSpec spec;
  spec.set_image("example.com/nope:1");
  auto ref = client_->pullImage(spec, nullptr, nullptr);
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status().message(),
            "CRI PullImage (image \"example.com/nope:1\"): rpc error: Unknown: failed to resolve");
}

TEST_F(GrpcClientTest, UnreachableRuntimeIsUnavailable) {
  auto client = GrpcRuntimeClient::create(dir_.path() + "/nobody.sock", milliseconds(1000),
                                          milliseconds(1000));
  ASSERT_TRUE(client.ok());
  auto version = (*client)->version();
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), absl::StatusCode::kUnavailable) << version.status();
  EXPECT_EQ(version.status().message().rfind("CRI Version: rpc error: Unavailable: ", 0), 0u);
}

TEST_F(GrpcClientTest, RemovesAreIdempotentAndStatusOfMissingIsNotFound) {
  EXPECT_TRUE(client_->removeContainer("gone").ok());
  EXPECT_TRUE(client_->removePodSandbox("gone").ok());
  auto st = client_->containerStatus("gone", false);
  EXPECT_TRUE(isNotFound(st.status())) << st.status();
  auto sb = client_->podSandboxStatus("gone", false);
  EXPECT_TRUE(isNotFound(sb.status())) << sb.status();
}

TEST_F(GrpcClientTest, UpdateRuntimeConfigSendsThePodCidr) {
  ASSERT_TRUE(client_->updateRuntimeConfig("10.244.1.0/24").ok());
  EXPECT_EQ(server_->podCidr(), "10.244.1.0/24");
}

}  // namespace
}  // namespace cri

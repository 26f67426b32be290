#include "tests/support/fake_cri_env.h"

#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "tests/support/cubelet_process.h"

namespace cubelet::testing {

absl::StatusOr<FakeCriEnv> startFakeCri(const std::string& prefix) {
  FakeCriEnv env;
  env.dir = makeTempDir(prefix);
  auto server = FakeCriServer::start(env.dir + "/cri.sock");
  if (!server.ok()) return server.status();
  env.server = std::move(*server);
  auto client = cri::GrpcRuntimeClient::create(env.server->endpoint(), std::chrono::seconds(5),
                                               std::chrono::seconds(5));
  if (!client.ok()) return client.status();
  env.client = std::move(*client);
  return env;
}

agent::runtime::RuntimeOptions testRuntimeOptions(const std::string& dir) {
  agent::runtime::RuntimeOptions opts;
  opts.nodeName = "node-1";
  opts.rootDir = dir + "/root";
  opts.podLogsDir = dir + "/logs";
  opts.containerLogsLinkDir = dir + "/containers";
  return opts;
}

LoopThread::LoopThread() {
  // As in the agent (core/signals): a peer closing mid-write must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  auto loop = core::SdEventLoop::create();
  if (!loop.ok()) {
    ADD_FAILURE() << loop.status();
    std::abort();
  }
  loop_ = std::move(*loop);
  thread_ = std::thread([this] { EXPECT_TRUE(loop_->run().ok()); });
  std::promise<void> running;
  loop_->post([&] { running.set_value(); });
  running.get_future().wait();
}

LoopThread::~LoopThread() {
  loop_->exit();
  thread_.join();
}

}  // namespace cubelet::testing

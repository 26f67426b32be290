#include "tests/support/loop_fixtures.h"

#include <stdlib.h>

#include <filesystem>
#include <future>
#include <thread>

#include "agent/kubeapi/kubeconfig.h"

namespace cubelet::testing {

bool runLoopUntil(::core::SdEventLoop& loop, const std::function<bool()>& done,
                  std::chrono::milliseconds timeout, ::core::Duration poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = false;
  ::core::TimerPtr timer;
  timer = loop.createTimer([&] {
    if (done()) {
      ok = true;
      loop.exit();
    } else if (std::chrono::steady_clock::now() > deadline) {
      loop.exit();
    } else {
      timer->enableTimer(poll);
    }
  });
  timer->enableTimer(::core::Duration(0));
  EXPECT_TRUE(loop.run().ok());
  return ok;
}

void runLoopWithClient(::core::SdEventLoop& loop, const std::function<void()>& client,
                       ::core::Duration guard) {
  bool timedOut = false;
  ::core::TimerPtr t = loop.createTimer([&] {
    timedOut = true;
    loop.exit();
  });
  t->enableTimer(guard);
  std::thread th([&] {
    client();
    loop.exit();
  });
  absl::Status st = loop.run();
  th.join();
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_FALSE(timedOut) << "test timed out";
}

void runOnLoop(::core::EventLoop& loop, const std::function<void()>& fn) {
  std::promise<void> done;
  loop.post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

void NodeApiTest::SetUp() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cubelet-nodeapi-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
  auto loop = ::core::SdEventLoop::create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  loop_ = std::move(*loop);
  fakeapi::FakeApiServerOptions opts;
  opts.pkiDir = dir_ + "/api";
  auto server = fakeapi::FakeApiServer::start(opts);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  const std::string kc = dir_ + "/node.conf";
  ASSERT_TRUE(server_->writeCertKubeconfig(kc, "system:node:" + nodeName(), {"system:nodes"}).ok());
  auto conf = agent::kubeapi::loadKubeconfig(kc);
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto api = agent::kubeapi::CurlApiClient::create(*loop_, *conf);
  ASSERT_TRUE(api.ok()) << api.status();
  api_ = std::move(*api);
}

void NodeApiTest::TearDown() {
  api_.reset();
  server_.reset();
  loop_.reset();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

}  // namespace cubelet::testing

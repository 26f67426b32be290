// The real hook runner off the event loop's thread: HTTP hooks go through the
// loop (any answer is success, as in the kubelet; the User-Agent is
// kube-lifecycle), only transport errors fail; sleep hooks respect the timeout;
// messages quote as Go's %q does.
#include "agent/health/hook_runner.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

#include "cri/grpc_runtime_client.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/cubelet_process.h"
#include "tests/support/fake_cri_env.h"
#include "tests/unit/probes/check_test_support.h"

namespace agent::health {
namespace {

using namespace std::chrono_literals;

class HookRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("hook-runner");
    ASSERT_TRUE(env.ok()) << env.status();
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    loopThread_ = std::make_unique<cubelet::testing::LoopThread>();
    loop_ = &loopThread_->loop();
    hooks_ = std::make_unique<LifecycleHookRunner>(*loop_, *client_);
    pod_.metadata = {.name = "p", .namespace_ = "ns", .uid = "u1"};
    container_.name = "c";
  }
  void TearDown() override { loopThread_.reset(); }

  api::Handler httpGet(int port, const std::string& path) {
    api::Handler h;
    h.httpGet = api::HTTPGetAction{};
    h.httpGet->path = path;
    h.httpGet->port.intValue = port;
    return h;
  }

  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  std::unique_ptr<cubelet::testing::LoopThread> loopThread_;
  core::EventLoop* loop_ = nullptr;
  std::unique_ptr<LifecycleHookRunner> hooks_;
  api::Pod pod_;
  api::Container container_;
};

TEST_F(HookRunnerTest, HttpAnyAnswerSucceeds) {
  std::mutex mu;
  std::string request;
  cubelet::testing::ServerThread server(
      std::make_unique<cubelet::testing::Listener>(), [&](int fd, auto&) {
        std::string r = cubelet::testing::ServerThread::readRequest(fd);
        {
          std::lock_guard lock(mu);
          request = r;
        }
        cubelet::testing::ServerThread::sendAll(
            fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
      });
  absl::Status s =
      hooks_->run(pod_, container_, "cid", "127.0.0.1", httpGet(server.port(), "/hook"), 5s);
  EXPECT_TRUE(s.ok()) << s;
  std::lock_guard lock(mu);
  EXPECT_EQ(request.rfind("GET /hook HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nUser-Agent: kube-lifecycle/1.30\r\n"), std::string::npos) << request;
}

TEST_F(HookRunnerTest, HttpTransportErrorFails) {
  int port = cubelet::testing::closedPort();
  absl::Status s = hooks_->run(pod_, container_, "cid", "127.0.0.1", httpGet(port, "/hook"), 5s);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(std::string(s.message())
                .rfind("HTTP lifecycle hook (/hook) for Container \"c\" in Pod \"p_ns(u1)\" "
                       "failed - error: ",
                       0),
            0u)
      << s;
  EXPECT_NE(s.message().find("connection refused"), std::string::npos) << s;
}

TEST_F(HookRunnerTest, HttpNamedPortMissing) {
  api::Handler h = httpGet(0, "/x");
  h.httpGet->port = {true, 0, "web"};
  absl::Status s = hooks_->run(pod_, container_, "cid", "127.0.0.1", h, 5s);
  EXPECT_EQ(s.message(),
            "HTTP lifecycle hook (/x) for Container \"c\" in Pod \"p_ns(u1)\" failed - error: "
            "port web not found");
}

TEST_F(HookRunnerTest, ExecRuntimeErrorFails) {
  api::Handler h;
  h.exec = api::ExecAction{{"true"}};
  // The fake refuses unknown containers: the runtime's error is the hook's.
  absl::Status s = hooks_->run(pod_, container_, "nope", "", h, 7s);
  EXPECT_EQ(std::string(s.message())
                .rfind("Exec lifecycle hook ([true]) for Container \"c\" in Pod \"p_ns(u1)\" "
                       "failed - error: ",
                       0),
            0u)
      << s;
  EXPECT_EQ(cri_->callCount("ExecSync"), 1);
}

TEST_F(HookRunnerTest, SleepIsBoundedByTheTimeout) {
  api::Handler h;
  h.sleep = api::SleepAction{0};
  EXPECT_TRUE(hooks_->run(pod_, container_, "cid", "", h, 1s).ok());
  h.sleep->seconds = 30;
  auto start = std::chrono::steady_clock::now();
  absl::Status s = hooks_->run(pod_, container_, "cid", "", h, 100ms);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(HookRunnerTest, RefusesTheLoopThread) {
  std::promise<absl::Status> done;
  api::Handler h;
  h.sleep = api::SleepAction{0};
  loop_->post([&] { done.set_value(hooks_->run(pod_, container_, "cid", "", h, 1s)); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace agent::health

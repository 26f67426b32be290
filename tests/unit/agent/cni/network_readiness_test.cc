// The runtime network readiness check against a real gRPC CRI double on simulated
// time: the first Status at once, fast checks while not ready, the period once ready.
#include "agent/cni/network_readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/support/fake_cri_env.h"

namespace agent::cni {
namespace {

using namespace std::chrono_literals;

class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override { job(); }
};

class NetworkReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("net-ready");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    readiness_ = std::make_unique<NetworkReadiness>(loop_, pool_, *client_);
    readiness_->setOnChanged([this](const std::string& e) { seen_.push_back(e); });
  }
  void TearDown() override {
    readiness_.reset();
    (void)core::removeAll(dir_);
  }

  std::string dir_;
  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  core::SimEventLoop loop_;
  InlinePool pool_;
  std::unique_ptr<NetworkReadiness> readiness_;
  std::vector<std::string> seen_;
};

TEST_F(NetworkReadinessTest, ChecksFastWhileNotReadyThenAtThePeriod) {
  cri_->setConditions(true, false);
  readiness_->start();
  EXPECT_FALSE(readiness_->known());
  loop_.runPending();
  ASSERT_TRUE(readiness_->known());
  const std::string want =
      "container runtime network not ready: NetworkReady=false reason:FakeNotReady message:";
  EXPECT_EQ(readiness_->error(), want);
  EXPECT_EQ(seen_, std::vector<std::string>{want});
  EXPECT_EQ(cri_->callCount("Status"), 1);

  // 500 ms, then 1 s: the same answer is not reported again.
  loop_.advance(500ms);
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("Status"), 2);
  loop_.advance(999ms);
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("Status"), 2);
  loop_.advance(1ms);
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("Status"), 3);
  EXPECT_EQ(seen_.size(), 1u);

  cri_->setConditions(true, true);
  loop_.advance(2s);
  loop_.runPending();
  EXPECT_TRUE(readiness_->ready());
  EXPECT_EQ(seen_, (std::vector<std::string>{want, ""}));
  int calls = cri_->callCount("Status");
  loop_.advance(4900ms);
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("Status"), calls);
  loop_.advance(100ms);
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("Status"), calls + 1);
  EXPECT_EQ(seen_.size(), 2u);
}

TEST_F(NetworkReadinessTest, CheckSoonLooksAgainAtOnce) {
  readiness_->start();
  loop_.runPending();
  EXPECT_EQ(seen_, std::vector<std::string>{""});
  cri_->setConditions(true, false);
  readiness_->checkSoon();
  loop_.advance(0ms);
  loop_.runPending();
  EXPECT_EQ(cri_->callCount("Status"), 2);
  EXPECT_FALSE(readiness_->ready());
  EXPECT_EQ(seen_.size(), 2u);
}

TEST_F(NetworkReadinessTest, AFailedStatusCallChangesNothing) {
  cri_->failWith("Status", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"), 1);
  readiness_->start();
  loop_.runPending();
  EXPECT_FALSE(readiness_->known());
  EXPECT_TRUE(seen_.empty());
  loop_.advance(500ms);
  loop_.runPending();
  EXPECT_TRUE(readiness_->ready());
  EXPECT_EQ(seen_, std::vector<std::string>{""});
}

TEST_F(NetworkReadinessTest, AnAnswerFromElsewhereCountsAtOnce) {
  cri_->setConditions(true, false);
  readiness_->start();
  loop_.runPending();
  ASSERT_FALSE(readiness_->ready());
  // The node status's own Status call saw the network ready first.
  readiness_->observe("");
  EXPECT_TRUE(readiness_->ready());
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[1], "");
  readiness_->observe("");
  EXPECT_EQ(seen_.size(), 2u);
}

}  // namespace
}  // namespace agent::cni

// The gRPC health check against real grpc::Servers on loopback.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cri/proto/api.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probes/checks.h"
#include "probes/proto/health.grpc.pb.h"
#include "tests/unit/probes/check_test_support.h"

namespace cubelet::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using probes::CheckResult;
using probes::GrpcSpec;
using probes::Outcome;
using ::testing::StartsWith;

// As gRPC's own health service: a status per service name, NOT_FOUND for
// unknown names. The service "hang" answers only when the call is cancelled.
class HealthImpl final : public Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* ctx, const HealthCheckRequest* req,
                     HealthCheckResponse* resp) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      lastUserAgent_ = "";
      auto ua = ctx->client_metadata().find("user-agent");
      if (ua != ctx->client_metadata().end())
        lastUserAgent_.assign(ua->second.data(), ua->second.size());
    }
    if (req->service() == "hang") {
      ++hanging_;
      while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ++cancelled_;
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    auto it = statuses_.find(req->service());
    if (it == statuses_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    resp->set_status(it->second);
    return grpc::Status::OK;
  }
  std::string lastUserAgent() {
    std::lock_guard<std::mutex> lock(mu_);
    return lastUserAgent_;
  }

  std::map<std::string, HealthCheckResponse::ServingStatus> statuses_ = {
      {"", HealthCheckResponse::SERVING},
      {"db", HealthCheckResponse::NOT_SERVING},
      {"cache", HealthCheckResponse::SERVING},
      {"odd", HealthCheckResponse::UNKNOWN},
  };
  std::atomic<int> hanging_{0};
  std::atomic<int> cancelled_{0};

 private:
  std::mutex mu_;
  std::string lastUserAgent_;
};

class GrpcServer {
 public:
  explicit GrpcServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~GrpcServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

CheckRun check(core::SdEventLoop& loop, int port, std::optional<std::string> service,
               core::Duration timeout = 3s) {
  return runCheck(loop, [&](probes::CheckDone done) {
    return probes::grpcHealthCheck(loop, GrpcSpec{"127.0.0.1", port, service}, timeout,
                                   std::move(done));
  });
}

TEST(GrpcCheckTest, ServingStatusesAsTheKubeletWordsThem) {
  auto loop = newLoop();
  HealthImpl health;
  GrpcServer server(&health);
  ASSERT_NE(server.port(), 0);
  struct Case {
    std::optional<std::string> service;
    Outcome outcome;
    std::string output;
  };
  const std::vector<Case> cases = {
      {std::nullopt, Outcome::kSuccess, "service healthy"},
      {"cache", Outcome::kSuccess, "service healthy"},
      {"db", Outcome::kFailure, "service unhealthy (responded with \"NOT_SERVING\")"},
      {"odd", Outcome::kFailure, "service unhealthy (responded with \"UNKNOWN\")"},
      {"nope", Outcome::kFailure,
       "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.service.value_or("<none>"));
    CheckRun run = check(*loop, server.port(), c.service);
    ASSERT_TRUE(run.result);
    EXPECT_EQ(run.result->outcome, c.outcome);
    EXPECT_EQ(run.result->output, c.output);
  }
  EXPECT_THAT(health.lastUserAgent(), StartsWith("kube-probe/1.30"));
}

TEST(GrpcCheckTest, ServerWithoutHealthServiceIsUnimplemented) {
  auto loop = newLoop();
  runtime::v1::ImageService::Service other;  // some other service only
  GrpcServer server(&other);
  ASSERT_NE(server.port(), 0);
  CheckRun run = check(*loop, server.port(), std::nullopt);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_THAT(run.result->output,
              StartsWith("error: this server does not implement the grpc health protocol "
                         "(grpc.health.v1.Health): "));
}

TEST(GrpcCheckTest, HandlerPastTheDeadlineTimesOut) {
  auto loop = newLoop();
  HealthImpl health;
  GrpcServer server(&health);
  CheckRun run = check(*loop, server.port(), "hang", 500ms);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output, "timeout: health rpc did not complete within 500ms");
  EXPECT_GE(run.elapsed, 450ms);
  EXPECT_LT(run.elapsed, 1500ms);
}

TEST(GrpcCheckTest, NothingListeningIsAConnectTimeout) {
  auto loop = newLoop();
  int port = closedPort();
  CheckRun run = check(*loop, port, std::nullopt, 500ms);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output,
            "timeout: failed to connect service \"127.0.0.1:" + std::to_string(port) +
                "\" within 500ms: context deadline exceeded");
  EXPECT_LT(run.elapsed, 1500ms);
}

TEST(GrpcCheckTest, CancelledCheckNeverCallsBackAndCancelsTheCall) {
  auto loop = newLoop();
  HealthImpl health;
  GrpcServer server(&health);
  bool called = false;
  probes::PendingCheckPtr pending = probes::grpcHealthCheck(
      *loop, GrpcSpec{"127.0.0.1", server.port(), "hang"}, 5s, [&](CheckResult) { called = true; });
  core::Duration cancelTook{0};
  core::TimerPtr cancel = loop->createTimer([&] {
    if (health.hanging_ == 0) {
      cancel->enableTimer(10ms);
      return;
    }
    // The handle waits for gRPC to hand back the cancelled call: that must be quick.
    auto t0 = std::chrono::steady_clock::now();
    pending.reset();
    cancelTook = std::chrono::duration_cast<core::Duration>(std::chrono::steady_clock::now() - t0);
  });
  cancel->enableTimer(10ms);
  runFor(*loop, 1s);
  EXPECT_EQ(pending, nullptr);
  EXPECT_FALSE(called);
  EXPECT_EQ(health.cancelled_, 1);  // the server saw the call end well before its 5 s
  EXPECT_LT(cancelTook, 100ms);
}

// A result posted by gRPC's thread but not yet run when the handle goes away is dropped.
TEST(GrpcCheckTest, CancelAfterTheAnswerArrivedStillDropsIt) {
  auto loop = newLoop();
  HealthImpl health;
  GrpcServer server(&health);
  bool called = false;
  probes::PendingCheckPtr pending =
      probes::grpcHealthCheck(*loop, GrpcSpec{"127.0.0.1", server.port(), std::nullopt}, 2s,
                              [&](CheckResult) { called = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the answer is posted meanwhile
  pending.reset();
  runFor(*loop, 200ms);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace cubelet::testing

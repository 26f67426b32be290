#include "probes/grpc_check.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/log.h"
#include "probes/dial_check.h"
#include "probes/http_check_parser.h"
#include "probes/proto/health.grpc.pb.h"

namespace probes {

namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// grpc-go's codes.Code names, as its status errors print them.
std::string goCodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  int c = static_cast<int>(code);
  if (c >= 0 && c < static_cast<int>(std::size(kNames))) return kNames[c];
  return "Code(" + std::to_string(c) + ")";
}

// What gRPC's callback and the check share. gRPC's thread only sets `finished`
// and posts; every gRPC object (channel, stub, context) is destroyed on the loop
// thread, because the C++ Channel must not be released on one of gRPC's own
// callback threads (grpc/grpc#32584: its shutdown there races and aborts).
struct CallState {
  grpc::ClientContext context;
  HealthCheckRequest request;
  HealthCheckResponse response;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;   // guarded by mu: gRPC is done with context/request/response
  bool cancelled = false;  // guarded by mu: the check is gone; post nothing
};

// How long a cancelled check waits for gRPC to hand the call back; cancelling is
// local to the process and quick, so this only guards against a gRPC bug.
constexpr auto kCancelWait = std::chrono::seconds(5);

class GrpcCheck : public PendingCheck {
 public:
  GrpcCheck(core::EventLoop& loop, const GrpcSpec& spec, core::Duration timeout, CheckDone done)
      : addr_(joinHostPort(spec.host, spec.port)),
        timeout_(timeout),
        done_(std::move(done)),
        self_(std::make_shared<GrpcCheck*>(this)) {
    grpc::ChannelArguments args;
    args.SetUserAgentPrefix(kProbeUserAgent);
    // A connection of its own per check, as the kubelet dials per probe.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel(addr_, grpc::InsecureChannelCredentials(), args);
    stub_ = Health::NewStub(channel_);
    state_ = std::make_unique<CallState>();
    state_->request.set_service(spec.service.value_or(""));
    state_->context.set_deadline(std::chrono::system_clock::now() + timeout);
    // The kubelet dials with WithBlock: the RPC waits for a connection until the deadline.
    state_->context.set_wait_for_ready(true);
    CallState* state = state_.get();
    std::weak_ptr<GrpcCheck*> self = self_;
    core::EventLoop* loopPtr = &loop;
    stub_->async()->Check(&state->context, &state->request, &state->response,
                          [state, self, loopPtr](grpc::Status status) {
                            std::lock_guard<std::mutex> lock(state->mu);
                            state->finished = true;
                            if (!state->cancelled) {
                              int serving = state->response.status();
                              loopPtr->post([self, status, serving] {
                                std::shared_ptr<GrpcCheck*> check = self.lock();
                                if (check) (*check)->deliver(status, serving);
                              });
                            }
                            state->cv.notify_all();
                          });
  }

  ~GrpcCheck() override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cancelled = true;
    if (state_->finished) return;
    state_->context.TryCancel();
    if (!state_->cv.wait_for(lock, kCancelWait, [this] { return state_->finished; })) {
      // Better a leak than gRPC writing into freed memory later.
      LOG_ERROR << "gRPC probe of " << addr_ << ": the cancelled call did not end; leaking it";
      lock.unlock();
      (void)state_.release();
      (void)stub_.release();
      (void)new std::shared_ptr<grpc::Channel>(std::move(channel_));
    }
  }

 private:
  void deliver(const grpc::Status& status, int serving) {
    CheckResult result = classify(status, serving);
    CheckDone done = std::move(done_);
    done(std::move(result));  // may destroy this
  }

  CheckResult classify(const grpc::Status& status, int serving) const {
    if (status.ok()) {
      if (serving != HealthCheckResponse::SERVING) {
        std::string name = HealthCheckResponse::ServingStatus_IsValid(serving)
                               ? HealthCheckResponse::ServingStatus_Name(
                                     static_cast<HealthCheckResponse::ServingStatus>(serving))
                               : std::to_string(serving);
        return {Outcome::kFailure, "service unhealthy (responded with " + goQuote(name) + ")", 0};
      }
      return {Outcome::kSuccess, "service healthy", 0};
    }
    const std::string& message = status.error_message();
    switch (status.error_code()) {
      case grpc::StatusCode::UNIMPLEMENTED:
        return {Outcome::kFailure,
                "error: this server does not implement the grpc health protocol "
                "(grpc.health.v1.Health): " +
                    message,
                0};
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        // The kubelet's blocking dial times out when no connection comes; here
        // the RPC waited for one, and a channel that is not READY says so.
        if (channel_->GetState(false) != GRPC_CHANNEL_READY) {
          return {Outcome::kFailure,
                  "timeout: failed to connect service " + goQuote(addr_) + " within " +
                      goDuration(timeout_) + ": context deadline exceeded",
                  0};
        }
        return {Outcome::kFailure,
                "timeout: health rpc did not complete within " + goDuration(timeout_), 0};
      default:
        return {Outcome::kFailure,
                "error: health rpc probe failed: rpc error: code = " +
                    goCodeName(status.error_code()) + " desc = " + message,
                0};
    }
  }

  std::string addr_;
  core::Duration timeout_;
  CheckDone done_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Health::Stub> stub_;
  // Declared after the channel and stub, so destroyed before them.
  std::unique_ptr<CallState> state_;
  // The token a posted result looks for; loop thread only.
  std::shared_ptr<GrpcCheck*> self_;
};

}  // namespace

PendingCheckPtr grpcHealthCheck(core::EventLoop& loop, const GrpcSpec& spec, core::Duration timeout,
                                CheckDone done) {
  return std::make_unique<GrpcCheck>(loop, spec, timeout, std::move(done));
}

}  // namespace probes

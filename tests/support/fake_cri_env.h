// What the runtime-level unit tests start from: a FakeCriServer in a fresh temp
// dir with a real gRPC client to it, runtime options rooted in the same dir,
// and an event loop running on a thread of its own, as in the agent.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/runtime/runtime_options.h"
#include "core/sd_event_loop.h"
#include "cri/grpc_runtime_client.h"
#include "tests/fakes/fake_cri_server.h"

namespace cubelet::testing {

struct FakeCriEnv {
  std::string dir;
  std::unique_ptr<FakeCriServer> server;
  std::unique_ptr<cri::GrpcRuntimeClient> client;
};
// A temp dir named after `prefix`, the server on <dir>/cri.sock, a client with 5 s timeouts.
absl::StatusOr<FakeCriEnv> startFakeCri(const std::string& prefix);

// Node "node-1"; root, pod logs and log links under `dir`.
agent::runtime::RuntimeOptions testRuntimeOptions(const std::string& dir);

// An SdEventLoop serving on its own thread from construction (the constructor
// returns once it runs) until destruction.
class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  core::EventLoop& loop() { return *loop_; }

 private:
  std::unique_ptr<core::SdEventLoop> loop_;
  std::thread thread_;
};

}  // namespace cubelet::testing

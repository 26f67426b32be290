// Fixtures for unit tests of code on the event loop: running a real loop until a
// condition holds or beside a client thread, a clock moved by hand, and NodeApiTest:
// the fake API server over TLS with a CurlApiClient that is a node
// (system:node:<node>, group system:nodes), in a temporary directory.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "agent/kubeapi/curl_api_client.h"
#include "core/event_loop.h"
#include "core/sd_event_loop.h"
#include "tests/fakeapi/fake_api_server.h"

namespace cubelet::testing {

// A clock tests move by hand (for cache TTLs); wall time is real.
class ManualClock : public ::core::Clock {
 public:
  ::core::MonoTime monotonicNow() const override { return now_; }
  ::core::WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  void advance(::core::Duration d) { now_ += d; }

 private:
  ::core::MonoTime now_ = std::chrono::steady_clock::now();
};

// Runs `loop` until `done()` holds (checked every `poll`) or `timeout` passes; false
// on timeout.
bool runLoopUntil(::core::SdEventLoop& loop, const std::function<bool()>& done,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  ::core::Duration poll = ::core::Duration(1));

// Runs `loop` on this thread while `client` runs on another; the loop stops when the
// client is done, or fails the test after `guard` (the client's own timeouts must
// bound it then).
void runLoopWithClient(::core::SdEventLoop& loop, const std::function<void()>& client,
                       ::core::Duration guard);
// Runs `fn` on the loop's thread and waits for it: for client threads.
void runOnLoop(::core::EventLoop& loop, const std::function<void()>& fn);

class NodeApiTest : public ::testing::Test {
 protected:
  // The node the client is; override before SetUp runs.
  virtual std::string nodeName() const { return "n1"; }
  void SetUp() override;
  void TearDown() override;

  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return runLoopUntil(*loop_, done, timeout);
  }

  std::string dir_;
  std::unique_ptr<::core::SdEventLoop> loop_;
  std::unique_ptr<fakeapi::FakeApiServer> server_;
  std::unique_ptr<agent::kubeapi::CurlApiClient> api_;
};

}  // namespace cubelet::testing

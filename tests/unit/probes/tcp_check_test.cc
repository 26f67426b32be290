// The TCP check against loopback listeners.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probes/checks.h"
#include "tests/unit/probes/check_test_support.h"

namespace cubelet::testing {
namespace {

using probes::CheckResult;
using probes::Outcome;
using probes::TcpSpec;

CheckRun dial(core::SdEventLoop& loop, const std::string& host, int port,
              core::Duration timeout = 2s) {
  return runCheck(loop, [&](probes::CheckDone done) {
    return probes::tcpConnect(loop, TcpSpec{host, port}, timeout, std::move(done));
  });
}

TEST(TcpCheckTest, ListeningPortSucceeds) {
  auto loop = newLoop();
  Listener listener;
  int fds = openFdCount();
  CheckRun run = dial(*loop, "127.0.0.1", listener.port());
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
  EXPECT_EQ(run.result->output, "");
  expectNoFdLeak(fds);
}

TEST(TcpCheckTest, HostNameIsResolved) {
  auto loop = newLoop();
  Listener listener;
  CheckRun run = dial(*loop, "localhost", listener.port());
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess) << run.result->output;
}

TEST(TcpCheckTest, RefusedIsWordedAsGo) {
  auto loop = newLoop();
  int fds = openFdCount();
  int port = closedPort();
  CheckRun run = dial(*loop, "127.0.0.1", port);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output,
            "dial tcp 127.0.0.1:" + std::to_string(port) + ": connect: connection refused");
  expectNoFdLeak(fds);

  ASSERT_TRUE(Listener("::1").ok()) << "no IPv6 loopback";
  port = closedPort("::1");
  run = dial(*loop, "::1", port);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->output,
            "dial tcp [::1]:" + std::to_string(port) + ": connect: connection refused");
}

TEST(TcpCheckTest, InvalidPort) {
  auto loop = newLoop();
  CheckRun run = dial(*loop, "127.0.0.1", 70000);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output, "dial tcp: address 70000: invalid port");
}

// A listener with backlog 0 that never accepts: once its accept queue is full
// the kernel drops further SYNs, so a connect hangs. Returns the filler sockets
// (kept open) or an empty vector if the queue would not fill.
std::vector<int> fillAcceptQueue(int port) {
  std::vector<int> fillers;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 16; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0) return fillers;  // this one hangs: the queue is full
  }
  for (int fd : fillers) ::close(fd);
  return {};
}

TEST(TcpCheckTest, HangingConnectTimesOut) {
  auto loop = newLoop();
  Listener listener("127.0.0.1", 0);
  std::vector<int> fillers = fillAcceptQueue(listener.port());
  // Linux drops SYNs to a full accept queue (tcp_abort_on_overflow is 0 by default).
  ASSERT_FALSE(fillers.empty()) << "could not fill the accept queue: SYNs were not dropped";
  int fds = openFdCount();
  CheckRun run = dial(*loop, "127.0.0.1", listener.port(), 300ms);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output,
            "dial tcp 127.0.0.1:" + std::to_string(listener.port()) + ": i/o timeout");
  EXPECT_GE(run.elapsed, 300ms);
  EXPECT_LT(run.elapsed, 800ms);
  expectNoFdLeak(fds);

  // Cancelled while hanging: no callback, the socket closed.
  bool called = false;
  probes::PendingCheckPtr pending = probes::tcpConnect(*loop, TcpSpec{"127.0.0.1", listener.port()},
                                                       300ms, [&](CheckResult) { called = true; });
  pending.reset();
  expectNoFdLeak(fds);
  runFor(*loop, 500ms);
  EXPECT_FALSE(called);
  for (int fd : fillers) ::close(fd);
}

TEST(TcpCheckTest, CancelledBeforeTheLoopRunsNeverCallsBack) {
  auto loop = newLoop();
  int port = closedPort();  // refused at once: the result is already known
  bool called = false;
  probes::PendingCheckPtr pending = probes::tcpConnect(*loop, TcpSpec{"127.0.0.1", port}, 1s,
                                                       [&](CheckResult) { called = true; });
  pending.reset();
  runFor(*loop, 100ms);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace cubelet::testing

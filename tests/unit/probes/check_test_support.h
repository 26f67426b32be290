// Helpers for the probe check tests: running one check on a real SdEventLoop
// until it answers, loopback listeners on port 0, a server thread that serves
// scripted connections, and an open-fd count for leak checks.
#pragma once

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/sd_event_loop.h"
#include "gtest/gtest.h"
#include "probes/probe_types.h"

namespace cubelet::testing {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

inline std::unique_ptr<core::SdEventLoop> newLoop() {
  // As in the agent (core/signals): a peer closing mid-write must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  auto loop = core::SdEventLoop::create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(*loop);
}

inline int openFdCount() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

// No fd opened by the code under test is left open. Other threads (gRPC's, a
// finished name lookup's) may still be closing theirs, so give them a moment;
// fewer fds than before is not a leak.
inline void expectNoFdLeak(int baseline) {
  auto until = std::chrono::steady_clock::now() + 1s;
  while (openFdCount() > baseline && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_LE(openFdCount(), baseline) << "file descriptors leaked";
}

struct CheckRun {
  std::optional<probes::CheckResult> result;
  bool calledInsideStart = false;
  core::Duration elapsed{0};
};

// Starts a check, runs the loop until its callback (or `guard`), and reports
// what came back and when.
inline CheckRun runCheck(core::SdEventLoop& loop,
                         const std::function<probes::PendingCheckPtr(probes::CheckDone)>& start,
                         core::Duration guard = 10s) {
  CheckRun run;
  bool starting = true;
  auto t0 = std::chrono::steady_clock::now();
  probes::PendingCheckPtr pending = start([&](probes::CheckResult r) {
    run.calledInsideStart = starting;
    run.elapsed = std::chrono::duration_cast<core::Duration>(std::chrono::steady_clock::now() - t0);
    run.result = std::move(r);
    loop.exit();
  });
  starting = false;
  core::TimerPtr guardTimer = loop.createTimer([&] { loop.exit(); });
  guardTimer->enableTimer(guard);
  EXPECT_TRUE(loop.run().ok());
  EXPECT_FALSE(run.calledInsideStart) << "callback ran inside the call that started the check";
  EXPECT_TRUE(run.result.has_value()) << "no result within " << guard.count() << "ms";
  return run;
}

// Runs the loop for `d` (for checking that nothing more happens).
inline void runFor(core::SdEventLoop& loop, core::Duration d) {
  core::TimerPtr t = loop.createTimer([&] { loop.exit(); });
  t->enableTimer(d);
  EXPECT_TRUE(loop.run().ok());
}

// A listening TCP socket on a loopback address and an ephemeral port.
class Listener {
 public:
  explicit Listener(const std::string& ip = "127.0.0.1", int backlog = 16) {
    bool v6 = ip.find(':') != std::string::npos;
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      ::inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      ::inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
      len = sizeof(*a);
    }
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(fd_, backlog) != 0) {
      closeFd();
      return;
    }
    len = sizeof(ss);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~Listener() { closeFd(); }
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  int port() const { return port_; }
  void closeFd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on which nothing listens (bound, then closed: refused until reused).
inline int closedPort(const std::string& ip = "127.0.0.1") {
  Listener l(ip);
  return l.port();
}

// Accepts connections on a thread and hands each to `handler` (on that thread),
// until destroyed. `stopping()` lets a handler that holds a connection open
// notice the end of the test.
class ServerThread {
 public:
  using Handler = std::function<void(int fd, ServerThread& server)>;
  ServerThread(std::unique_ptr<Listener> listener, Handler handler)
      : listener_(std::move(listener)), handler_(std::move(handler)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ServerThread() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return listener_->port(); }
  int accepted() const { return accepted_; }
  bool stopping() const { return stop_; }

  // Reads one request's head (through the blank line), or what came before EOF.
  static std::string readRequest(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    return req;
  }
  static void sendAll(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  // Holds the connection until the test ends.
  void hold() {
    while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_->fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listener_->fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      handler_(fd, *this);
      ::close(fd);
    }
  }

  std::unique_ptr<Listener> listener_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace cubelet::testing

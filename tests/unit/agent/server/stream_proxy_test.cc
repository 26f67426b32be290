// The upgrade proxy against a real TCP backend written here, with the client side
// a fake HttpExchange whose upgrade hands over one end of a socketpair (the test
// holds the other end, as the client would). The loop (a real SdEventLoop) runs on
// its own thread; the test thread plays the client, a third thread the backend.
#include "agent/server/stream_proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/sd_event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent::server {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kTimeoutMs = 5000;

int countFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the DIR's own fd
}

void setTimeouts(int fd) {
  timeval tv{kTimeoutMs / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool sendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until `want` bytes arrived, EOF or the timeout.
std::string readN(int fd, size_t want) {
  std::string out;
  char buf[65536];
  while (out.size() < want) {
    ssize_t n = ::recv(fd, buf, std::min(sizeof(buf), want - out.size()), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Reads until EOF (true) or error/timeout (false).
bool readToEof(int fd, std::string* out) {
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
}

class FakeUpgraded : public UpgradedConnection {
 public:
  FakeUpgraded(int fd, std::string initial) : fd_(fd), initial_(std::move(initial)) {}
  ~FakeUpgraded() override { ::close(fd_); }
  int fd() const override { return fd_; }
  std::string takeInitialData() override { return std::move(initial_); }

 private:
  int fd_;
  std::string initial_;
};

// The server side of one request, as the proxy sees it. Loop thread only, except
// the promises the test waits on.
class FakeExchange : public HttpExchange {
 public:
  FakeExchange(core::EventLoop& loop, HttpRequest req) : loop_(loop), req_(std::move(req)) {}
  ~FakeExchange() override {
    if (clientFd_ >= 0) ::close(clientFd_);
  }

  const HttpRequest& request() const override { return req_; }
  void respond(HttpResponse response) override {
    if (closed_ || answered_) return;
    answered_ = true;
    responded_.set_value(std::move(response));
  }
  void startStream(int, const std::string&, const std::map<std::string, std::string>&) override {
    ADD_FAILURE() << "startStream";
  }
  void write(std::string_view) override {}
  size_t buffered() const override { return 0; }
  void onDrained(std::function<void()>) override {}
  void end() override {}
  void upgrade(const std::map<std::string, std::string>& headers,
               std::function<void(std::unique_ptr<UpgradedConnection>)> onUpgraded) override {
    if (closed_ || answered_) return;
    answered_ = true;
    upgradeHeaders_ = headers;
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    clientFd_ = sv[0];
    setTimeouts(clientFd_);
    auto conn = std::make_unique<FakeUpgraded>(sv[1], initialData_);
    // As the server: the 101 goes out first, the connection comes on a later turn.
    loop_.post([cb = std::move(onUpgraded), c = std::shared_ptr<FakeUpgraded>(std::move(conn)),
                this]() mutable {
      if (closed_) return;
      cb(std::unique_ptr<UpgradedConnection>(new ForwardingConn(c)));
      upgraded_.set_value(clientFd_);
    });
  }
  void onClosed(std::function<void()> cb) override { onClosed_ = std::move(cb); }
  bool closed() const override { return closed_; }

  // The client goes away before an answer (loop thread).
  void disconnect() {
    if (answered_ && clientFd_ < 0) return;
    closed_ = true;
    if (onClosed_) onClosed_();
  }

  std::string initialData_;
  std::map<std::string, std::string> upgradeHeaders_;
  std::promise<HttpResponse> responded_;
  std::promise<int> upgraded_;  // the client's end of the socketpair

 private:
  // Hands the proxy its own object while the test keeps nothing but the fd.
  class ForwardingConn : public UpgradedConnection {
   public:
    explicit ForwardingConn(std::shared_ptr<FakeUpgraded> c) : c_(std::move(c)) {}
    int fd() const override { return c_->fd(); }
    std::string takeInitialData() override { return c_->takeInitialData(); }

   private:
    std::shared_ptr<FakeUpgraded> c_;
  };

  core::EventLoop& loop_;
  HttpRequest req_;
  bool closed_ = false;
  bool answered_ = false;
  int clientFd_ = -1;
  std::function<void()> onClosed_;
};

// A one-connection TCP backend on 127.0.0.1 run by `serve` on its own thread.
class Backend {
 public:
  using Serve = std::function<void(int fd, const std::string& head)>;
  explicit Backend(Serve serve) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listenFd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    EXPECT_EQ(listen(listenFd_, 4), 0);
    socklen_t len = sizeof(sa);
    getsockname(listenFd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this, serve = std::move(serve)] {
      pollfd p{listenFd_, POLLIN, 0};
      if (poll(&p, 1, kTimeoutMs) != 1) return;
      int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      setTimeouts(fd);
      std::string head;
      char c;
      while (!absl::EndsWith(head, "\r\n\r\n") && ::recv(fd, &c, 1, 0) == 1) head += c;
      headPromise_.set_value(head);
      serve(fd, head);
      ::close(fd);
    });
  }
  ~Backend() {
    thread_.join();
    ::close(listenFd_);
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::string head() {
    auto f = headPromise_.get_future();
    return f.wait_for(std::chrono::milliseconds(kTimeoutMs)) == std::future_status::ready ? f.get()
                                                                                          : "";
  }

 private:
  int listenFd_ = -1;
  int port_ = 0;
  std::promise<std::string> headPromise_;
  std::thread thread_;
};

class StreamProxyTest : public ::testing::Test {
 protected:
  // Runs `fn` on the loop thread and waits for it.
  template <typename Fn>
  auto onLoop(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    loop_->post([&task] { task(); });
    EXPECT_EQ(f.wait_for(std::chrono::milliseconds(kTimeoutMs)), std::future_status::ready);
    return f.get();
  }

  void SetUp() override {
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
    // The loop parks on a far timer so run() has something to wait for.
    keepAlive_ = loop_->createTimer([] {});
    keepAlive_->enableTimer(std::chrono::hours(1));
    thread_ = std::thread([this] { (void)loop_->run(); });
    onLoop([] {});
    fdsBefore_ = countFds();
  }
  void TearDown() override {
    onLoop([this] { keepAlive_.reset(); });
    loop_->exit();
    thread_.join();
    loop_.reset();
  }

  std::shared_ptr<FakeExchange> exchange(HttpRequest req = upgradeRequest()) {
    return std::make_shared<FakeExchange>(*loop_, std::move(req));
  }

  static HttpRequest upgradeRequest() {
    HttpRequest r;
    r.method = "POST";
    r.path = "/exec/ns/pod/c";
    r.target = "/exec/ns/pod/c?command=sh&input=1";
    r.remoteAddress = "10.1.2.3:5555";
    r.headers = {{"connection", "Upgrade"},
                 {"upgrade", "SPDY/3.1"},
                 {"x-stream-protocol-version", "v4.channel.k8s.io, v3.channel.k8s.io"},
                 {"authorization", "Bearer secret"},
                 {"user-agent", "kubectl/v1.28"}};
    return r;
  }

  void start(std::shared_ptr<FakeExchange> ex, const std::string& url,
             StreamProxyOptions options = {}) {
    onLoop([&] { proxyUpgrade(*loop_, ex, url, options); });
  }

  // Waits until no proxy is alive (their release is posted).
  void expectAllGone() {
    for (int i = 0; i < kTimeoutMs / 10; ++i) {
      if (onLoop([] { return liveStreamProxies(); }) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(onLoop([] { return liveStreamProxies(); }), 0u);
  }

  static bool await(std::promise<void>& p) {
    return p.get_future().wait_for(std::chrono::milliseconds(kTimeoutMs)) ==
           std::future_status::ready;
  }
  template <typename T>
  static std::optional<T> await(std::promise<T>& p) {
    auto f = p.get_future();
    if (f.wait_for(std::chrono::milliseconds(kTimeoutMs)) != std::future_status::ready) {
      return std::nullopt;
    }
    return f.get();
  }

  std::unique_ptr<core::SdEventLoop> loop_;
  core::TimerPtr keepAlive_;
  std::thread thread_;
  int fdsBefore_ = 0;
};

constexpr char k101[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    "\r\n";

TEST(StreamProxyHelpers, IsUpgradeRequest) {
  HttpRequest r;
  EXPECT_FALSE(isUpgradeRequest(r));
  r.headers["connection"] = "keep-alive";
  EXPECT_FALSE(isUpgradeRequest(r));
  r.headers["connection"] = "keep-alive, UPGRADE";
  EXPECT_TRUE(isUpgradeRequest(r));
  r.headers["connection"] = "upgraded";
  EXPECT_FALSE(isUpgradeRequest(r));
}

TEST_F(StreamProxyTest, UpgradeSplicesBothWaysWithHalfClose) {
  std::optional<Backend> backend;
  backend.emplace([](int fd, const std::string&) {
    // The 101 and, in the same write, the first bytes of the stream.
    ASSERT_TRUE(sendAll(fd, std::string(k101) + "EARLY"));
    std::string got = readN(fd, 4 + 5);  // "INIT" then "hello"
    sendAll(fd, "echo:" + got);
    std::string rest;
    EXPECT_TRUE(readToEof(fd, &rest));  // the client's half-close arrives as EOF
    EXPECT_EQ(rest, "more");
    sendAll(fd, "BYE");
  });
  auto ex = exchange();
  ex->initialData_ = "INIT";
  start(ex, backend->url("/exec/tok123?x=1"));

  std::string head = backend->head();
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  EXPECT_EQ(lines[0], "POST /exec/tok123?x=1 HTTP/1.1");
  EXPECT_THAT(lines, Contains(absl::StrCat("Host: 127.0.0.1:", backend->port())));
  // The repeated header is sent as separate lines again, in order.
  EXPECT_THAT(head, HasSubstr("X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                              "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"));
  EXPECT_THAT(lines, Contains("Connection: Upgrade"));
  EXPECT_THAT(lines, Contains("Upgrade: SPDY/3.1"));
  EXPECT_THAT(lines, Contains("User-Agent: kubectl/v1.28"));
  EXPECT_THAT(lines, Contains("X-Forwarded-For: 10.1.2.3"));
  EXPECT_THAT(head, Not(HasSubstr("secret")));

  auto clientFd = await(ex->upgraded_);
  ASSERT_TRUE(clientFd.has_value());
  EXPECT_EQ(ex->upgradeHeaders_["Upgrade"], "SPDY/3.1");
  EXPECT_EQ(ex->upgradeHeaders_["Connection"], "Upgrade");
  EXPECT_EQ(ex->upgradeHeaders_["X-Stream-Protocol-Version"], "v4.channel.k8s.io");
  EXPECT_EQ(ex->upgradeHeaders_.count("Date"), 0u);

  EXPECT_EQ(readN(*clientFd, 5), "EARLY");
  ASSERT_TRUE(sendAll(*clientFd, "hello"));
  EXPECT_EQ(readN(*clientFd, 14), "echo:INIThello");
  ASSERT_TRUE(sendAll(*clientFd, "more"));
  ASSERT_EQ(shutdown(*clientFd, SHUT_WR), 0);
  std::string tail;
  EXPECT_TRUE(readToEof(*clientFd, &tail));  // the backend's close reaches the client
  EXPECT_EQ(tail, "BYE");
  expectAllGone();
  onLoop([&] { ex.reset(); });  // closes the test's end
  backend.reset();              // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, RefusalIsPassedOnWithoutWaitingForEof) {
  std::promise<void> done;
  std::optional<Backend> backend;
  backend.emplace([&](int fd, const std::string&) {
    sendAll(fd,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 18\r\n\r\n404 page not found");
    // Keep-alive: the connection stays open; the proxy must not wait for EOF.
    std::string rest;
    readToEof(fd, &rest);
    done.set_value();
  });
  auto ex = exchange();
  start(ex, backend->url("/exec/unknown"));
  auto r = await(ex->responded_);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "404 page not found");
  EXPECT_EQ(r->contentType, "text/plain; charset=utf-8");
  // The proxy closed its backend connection.
  EXPECT_TRUE(await(done));
  expectAllGone();
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, ChunkedRefusalIsDecoded) {
  std::optional<Backend> backend;
  backend.emplace([](int fd, const std::string&) {
    sendAll(fd,
            "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
            "6\r\nfailed\r\n3\r\n:no\r\n0\r\n\r\n");
    std::string rest;
    readToEof(fd, &rest);
  });
  auto ex = exchange();
  start(ex, backend->url("/attach/x"));
  auto r = await(ex->responded_);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "failed:no");
  expectAllGone();
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, UnreachableBackendIs500WithTheDialError) {
  // A port nobody listens on: bind, read the port, close.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  int port = ntohs(sa.sin_port);
  ::close(s);

  auto ex = exchange();
  start(ex, absl::StrCat("http://127.0.0.1:", port, "/exec/tok"));
  auto r = await(ex->responded_);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, absl::StrCat("error dialing backend: dial tcp 127.0.0.1:", port,
                                  ": connect: connection refused\n"));
  expectAllGone();
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, BadUrlIs500NamingIt) {
  auto ex = exchange();
  start(ex, "https://127.0.0.1:1/exec/tok");
  auto r = await(ex->responded_);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_THAT(r->body, HasSubstr("streaming URL \"https://127.0.0.1:1/exec/tok\""));
  expectAllGone();
}

TEST_F(StreamProxyTest, ClientGoneMidHandshakeClosesTheBackend) {
  std::promise<void> sawEof;
  std::optional<Backend> backend;
  backend.emplace([&](int fd, const std::string&) {
    // Never answers; the proxy must hang up once the client is gone.
    std::string rest;
    if (readToEof(fd, &rest)) sawEof.set_value();
  });
  auto ex = exchange();
  start(ex, backend->url("/exec/tok"));
  ASSERT_FALSE(backend->head().empty());
  onLoop([&] { ex->disconnect(); });
  EXPECT_TRUE(await(sawEof));
  expectAllGone();
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, HandshakeTimeoutIs500) {
  std::optional<Backend> backend;
  backend.emplace([](int fd, const std::string&) {
    std::string rest;
    readToEof(fd, &rest);
  });
  auto ex = exchange();
  StreamProxyOptions options;
  options.handshakeTimeout = std::chrono::milliseconds(200);
  start(ex, backend->url("/exec/tok"), options);
  auto r = await(ex->responded_);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_THAT(r->body, HasSubstr("timeout"));
  expectAllGone();
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, ClientDisconnectMidStreamTearsDown) {
  std::promise<void> backendDone;
  std::optional<Backend> backend;
  backend.emplace([&](int fd, const std::string&) {
    sendAll(fd, k101);
    // Streams output until the proxy hangs up.
    std::string chunk(4096, 'x');
    while (sendAll(fd, chunk)) {
    }
    backendDone.set_value();
  });
  auto ex = exchange();
  start(ex, backend->url("/attach/tok"));
  auto clientFd = await(ex->upgraded_);
  ASSERT_TRUE(clientFd.has_value());
  EXPECT_EQ(readN(*clientFd, 10000).size(), 10000u);
  // The client vanishes: its end closes.
  onLoop([&] { ex.reset(); });
  EXPECT_TRUE(await(backendDone));
  expectAllGone();
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, SlowClientPushesBackOnTheBackend) {
  constexpr size_t kTotal = 64 << 20;
  std::promise<size_t> stalledAt;
  std::optional<Backend> backend;
  backend.emplace([&](int fd, const std::string&) {
    sendAll(fd, k101);
    // Writes without blocking until the socket is full: with a client that reads
    // nothing, bounded buffers stop this far short of kTotal.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string chunk(65536, 'y');
    size_t sent = 0;
    int idle = 0;
    while (sent < kTotal && idle < 50) {
      ssize_t n = ::send(fd, chunk.data(), std::min(chunk.size(), kTotal - sent), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        idle = 0;
      } else {
        ++idle;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    stalledAt.set_value(sent);
    // Then everything, once the client reads.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    sendAll(fd, std::string(1000, 'z'));
  });
  auto ex = exchange();
  StreamProxyOptions options;
  options.bufferBytes = 16 * 1024;
  start(ex, backend->url("/exec/tok"), options);
  auto clientFd = await(ex->upgraded_);
  ASSERT_TRUE(clientFd.has_value());
  auto sent = await(stalledAt);
  ASSERT_TRUE(sent.has_value());
  EXPECT_LT(*sent, kTotal / 4) << "the proxy kept reading a backend its client can't keep up with";
  std::string all = readN(*clientFd, *sent + 1000);
  EXPECT_EQ(all.size(), *sent + 1000);
  EXPECT_EQ(all.substr(all.size() - 1000), std::string(1000, 'z'));
  ASSERT_EQ(shutdown(*clientFd, SHUT_WR), 0);
  std::string rest;
  EXPECT_TRUE(readToEof(*clientFd, &rest));
  EXPECT_TRUE(rest.empty());
  expectAllGone();
  onLoop([&] { ex.reset(); });
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

TEST_F(StreamProxyTest, HalfOpenSessionIsClosedAfterTheHalfCloseTimeout) {
  std::optional<Backend> backend;
  backend.emplace([](int fd, const std::string&) {
    sendAll(fd, std::string(k101) + "done");
    // The backend is finished; the client never closes its side.
  });
  auto ex = exchange();
  StreamProxyOptions options;
  options.halfCloseTimeout = std::chrono::milliseconds(200);
  start(ex, backend->url("/exec/tok"), options);
  auto clientFd = await(ex->upgraded_);
  ASSERT_TRUE(clientFd.has_value());
  std::string got;
  EXPECT_TRUE(readToEof(*clientFd, &got));  // the half-close
  EXPECT_EQ(got, "done");
  expectAllGone();  // then, without the client closing, the whole session
  onLoop([&] { ex.reset(); });
  backend.reset();  // its thread and sockets
  EXPECT_EQ(countFds(), fdsBefore_);
}

}  // namespace
}  // namespace agent::server

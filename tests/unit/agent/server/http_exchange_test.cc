// HttpServer's async exchanges, streams and upgrades against real sockets and real
// TLS (the fixture: http_exchange_fixture.h).
#include "tests/unit/agent/server/http_exchange_fixture.h"

namespace agent::server {
namespace {

TEST_F(HttpExchangeTest, AsyncHandlerAnswersAfterATimer) {
  auto server = startPlain();
  ASSERT_NE(server, nullptr);
  core::TimerPtr later;
  server->handleAsync("/slow", [&](ExchangePtr ex) {
    later = loop_->createTimer([ex] { ex->respond(text("late answer", 202)); });
    later->enableTimer(100ms);
  });
  std::vector<std::pair<int, core::Duration>> observed;
  server->setObserver([&](const HttpRequest& req, int status, core::Duration elapsed) {
    if (req.path == "/slow") observed.emplace_back(status, elapsed);
  });
  std::optional<std::pair<Client::Head, std::string>> r1, r2;
  int port = server->port();
  runWithClient([&] {
    Client c(port, {});
    // Twice on one keep-alive connection: the resumed connection serves on.
    if (c.send(get("/slow"))) r1 = c.readResponse();
    if (c.send(get("/slow"))) r2 = c.readResponse();
    waitOnLoop([&] { return observed.size() >= 2; });
  });
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->first.status, 202);
  EXPECT_EQ(r1->second, "late answer");
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->second, "late answer");
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_EQ(observed[0].first, 202);
  EXPECT_GE(observed[0].second, 90ms);
}

TEST_F(HttpExchangeTest, FilterAnswersOrRoutesLater) {
  auto server = startTls(tlsOptions());
  ASSERT_NE(server, nullptr);
  std::vector<core::TimerPtr> timers;
  server->setFilter([&](ExchangePtr ex, std::function<void()> next) {
    if (!ex->request().peer || !ex->request().peer->verified) {
      ex->respond(text("Unauthorized\n", 401));
      return;
    }
    // As a webhook would: decide later.
    timers.push_back(loop_->createTimer(std::move(next)));
    timers.back()->enableTimer(50ms);
  });
  server->handle("/sync",
                 [](const HttpRequest& req) { return text("sync " + req.peer->commonName); });
  server->handleAsync("/async", [](ExchangePtr ex) { ex->respond(text("async")); });
  std::vector<int> statuses;
  server->setObserver(
      [&](const HttpRequest&, int status, core::Duration) { statuses.push_back(status); });
  auto alice = pki_->issueClientCert("alice", {}, 3600s);
  ASSERT_TRUE(alice.ok());
  std::vector<std::string> got;
  int port = server->port();
  runWithClient([&] {
    {
      Client anon(port, tlsClient());
      auto r = anon.ok() && anon.send(get("/sync")) ? anon.readResponse() : std::nullopt;
      got.push_back(r ? absl::StrCat(r->first.status, " ", r->second) : "no answer");
    }
    ClientOptions o = tlsClient();
    o.certPem = alice->certPem;
    o.keyPem = alice->keyPem;
    Client c(port, o);
    for (const char* path : {"/sync", "/async", "/missing"}) {
      auto r = c.ok() && c.send(get(path)) ? c.readResponse() : std::nullopt;
      got.push_back(r ? absl::StrCat(r->first.status, " ", r->second) : "no answer");
    }
    waitOnLoop([&] { return statuses.size() >= 4; });
  });
  EXPECT_THAT(got, ElementsAre("401 Unauthorized\n", "200 sync alice", "200 async",
                               "404 404 page not found\n"));
  EXPECT_THAT(statuses, ElementsAre(401, 200, 200, 404));
}

TEST_F(HttpExchangeTest, StreamIsReadIncrementally) {
  auto server = startTls(tlsOptions(false));
  ASSERT_NE(server, nullptr);
  ExchangePtr stream;
  server->handleAsync("/logs", [&](ExchangePtr ex) {
    stream = ex;
    ex->startStream(200, "text/plain", {{"X-Stream", "yes"}});
    ex->write("one\n");
  });
  std::optional<Client::Head> head;
  std::vector<std::string> chunks;
  bool keptAlive = false;
  int port = server->port();
  runWithClient([&] {
    Client c(port, tlsClient());
    if (!c.ok() || !c.send(get("/logs"))) return;
    head = c.readHead();
    if (!head) return;
    auto one = c.readChunk();
    chunks.push_back(one.value_or("<error>"));
    // Only now is the second chunk written: the first came on its own.
    onLoop([&] { stream->write("two\n"); });
    chunks.push_back(c.readChunk().value_or("<error>"));
    onLoop([&] {
      stream->write("three\n");
      stream->end();
    });
    std::string rest;
    for (;;) {
      auto chunk = c.readChunk();
      if (!chunk || chunk->empty()) break;
      rest += *chunk;
    }
    chunks.push_back(rest);
    auto again = c.send(get("/missing")) ? c.readResponse() : std::nullopt;
    keptAlive = again && again->first.status == 404;
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["transfer-encoding"], "chunked");
  EXPECT_EQ(head->headers["content-type"], "text/plain");
  EXPECT_EQ(head->headers["x-stream"], "yes");
  EXPECT_THAT(chunks, ElementsAre("one\n", "two\n", "three\n"));
  EXPECT_TRUE(keptAlive);
  EXPECT_FALSE(stream->closed());
}

TEST_F(HttpExchangeTest, SlowReaderBuffersThenDrains) {
  auto server = startPlain();
  ASSERT_NE(server, nullptr);
  const std::string block(1 << 20, 'x');
  constexpr int kBlocks = 32;
  ExchangePtr stream;
  bool drained = false;
  server->handleAsync("/big", [&](ExchangePtr ex) {
    stream = ex;
    ex->startStream(200, "application/octet-stream", {});
    for (int i = 0; i < kBlocks; ++i) ex->write(block);
    ex->onDrained([&] { drained = true; });
  });
  size_t bufferedWhileStalled = 0, bufferedAfter = 1;
  size_t total = 0;
  bool drainedBeforeRead = true;
  int port = server->port();
  runWithClient([&] {
    Client c(port, {});
    if (!c.send(get("/big"))) return;
    // Not reading: the socket buffers fill and the rest waits in the exchange.
    std::this_thread::sleep_for(300ms);
    onLoop([&] {
      bufferedWhileStalled = stream ? stream->buffered() : 0;
      drainedBeforeRead = drained;
    });
    if (!c.readHead()) return;
    for (;;) {
      auto chunk = c.readChunk();
      if (!chunk) return;
      total += chunk->size();
      if (total == block.size() * kBlocks) break;
    }
    waitOnLoop([&] { return drained; });
    onLoop([&] {
      bufferedAfter = stream->buffered();
      stream->end();
    });
    auto last = c.readChunk();
    if (!last || !last->empty()) total = 0;
  });
  EXPECT_GT(bufferedWhileStalled, 0u);
  EXPECT_FALSE(drainedBeforeRead);
  EXPECT_TRUE(drained);
  EXPECT_EQ(bufferedAfter, 0u);
  EXPECT_EQ(total, block.size() * kBlocks);
}

TEST_F(HttpExchangeTest, ClientLeavingMidStreamFiresOnClosedAndFreesItsFds) {
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    int fdsBefore = openFdCount();
    {
      auto server = tls ? startTls(tlsOptions(false)) : startPlain();
      ASSERT_NE(server, nullptr);
      ExchangePtr stream;
      int closedCalls = 0;
      server->handleAsync("/follow", [&](ExchangePtr ex) {
        stream = ex;
        ex->onClosed([&] { ++closedCalls; });
        ex->startStream(200, "text/plain", {});
        ex->write("first\n");
      });
      std::vector<int> observed;
      server->setObserver(
          [&](const HttpRequest&, int status, core::Duration) { observed.push_back(status); });
      int fdsServing = openFdCount();
      bool sawFirst = false, closedSeen = false;
      int fdsAfter = -1;
      int port = server->port();
      runWithClient([&] {
        {
          ClientOptions o = tls ? tlsClient() : ClientOptions{};
          Client c(port, o);
          if (!c.ok() || !c.send(get("/follow")) || !c.readHead()) return;
          sawFirst = c.readChunk() == std::optional<std::string>("first\n");
        }  // gone, while the stream waits for more
        closedSeen = waitOnLoop([&] { return closedCalls > 0; });
        waitOnLoop([&] { return openFdCount() == fdsServing; });
        onLoop([&] {
          fdsAfter = openFdCount();
          stream->write("into the void\n");  // no-ops now
          stream->end();
        });
      });
      EXPECT_TRUE(sawFirst);
      EXPECT_TRUE(closedSeen);
      EXPECT_EQ(closedCalls, 1);
      EXPECT_TRUE(stream->closed());
      EXPECT_EQ(fdsAfter, fdsServing);
      EXPECT_THAT(observed, ElementsAre(200));
    }
    EXPECT_EQ(openFdCount(), fdsBefore);
  }
}

// The handler of "Upgrade: test-echo": sends back every byte it reads.
struct Echo {
  std::unique_ptr<UpgradedConnection> conn;
  core::FileEventPtr event;
  std::string initial;
  bool sawEof = false;
};

void startEcho(core::EventLoop& loop, Echo& echo, std::unique_ptr<UpgradedConnection> conn) {
  echo.conn = std::move(conn);
  echo.initial = echo.conn->takeInitialData();
  if (!echo.initial.empty()) {
    ASSERT_EQ(::write(echo.conn->fd(), echo.initial.data(), echo.initial.size()),
              static_cast<ssize_t>(echo.initial.size()));
  }
  echo.event = loop.createFileEvent(echo.conn->fd(), core::kReadable, [&echo](uint32_t) {
    char buf[4096];
    ssize_t n = read(echo.conn->fd(), buf, sizeof(buf));
    if (n > 0) {
      EXPECT_EQ(::write(echo.conn->fd(), buf, static_cast<size_t>(n)), n);
      return;
    }
    if (n < 0 && errno == EAGAIN) return;
    echo.sawEof = true;
    echo.event.reset();
    echo.conn.reset();
  });
}

TEST_F(HttpExchangeTest, UpgradeOverTlsEchoesIncludingInitialData) {
  int fdsBefore = openFdCount();
  auto server = startTls(tlsOptions(false));
  ASSERT_NE(server, nullptr);
  Echo echo;
  std::vector<int> observed;
  server->setObserver(
      [&](const HttpRequest&, int status, core::Duration) { observed.push_back(status); });
  server->handleAsync("/echo", [&](ExchangePtr ex) {
    if (absl::AsciiStrToLower(ex->request().headers.at("upgrade")) != "test-echo") {
      ex->respond(text("want an upgrade", 400));
      return;
    }
    ex->upgrade(
        {{"Upgrade", "test-echo"}, {"Connection", "Upgrade"}},
        [&](std::unique_ptr<UpgradedConnection> c) { startEcho(*loop_, echo, std::move(c)); });
  });
  std::optional<Client::Head> head;
  std::string first, second;
  int port = server->port();
  runWithClient([&] {
    Client c(port, tlsClient());
    if (!c.ok()) return;
    // The first bytes ride with the request head.
    if (!c.send(get("/echo", "Connection: Upgrade\r\nUpgrade: test-echo\r\n") + "early|")) return;
    head = c.readHead();
    if (!head) return;
    first = c.readBytes(6).value_or("<none>");
    for (int i = 0; i < 3; ++i) {
      std::string msg = absl::StrCat("ping", i, "|");
      if (!c.send(msg)) return;
      second += c.readBytes(msg.size()).value_or("<none>");
    }
    c.close();
    waitOnLoop([&] { return echo.sawEof; });
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 101);
  EXPECT_EQ(absl::AsciiStrToLower(head->headers["upgrade"]), "test-echo");
  EXPECT_EQ(first, "early|");
  EXPECT_EQ(second, "ping0|ping1|ping2|");
  EXPECT_TRUE(echo.sawEof);
  EXPECT_EQ(echo.conn, nullptr);
  // Let the server finish the closed connection, then check nothing is left.
  runWithClient([&] { waitOnLoop([&] { return !observed.empty(); }); });
  EXPECT_THAT(observed, ElementsAre(101));
  server.reset();
  EXPECT_EQ(openFdCount(), fdsBefore);
}

TEST_F(HttpExchangeTest, ServerDestroyedWithUpgradedConnectionOpen) {
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    int fdsBefore = openFdCount();
    auto server = tls ? startTls(tlsOptions(false)) : startPlain();
    ASSERT_NE(server, nullptr);
    Echo echo;
    ExchangePtr pending;  // a second request, never answered
    server->handleAsync("/echo", [&](ExchangePtr ex) {
      ex->upgrade(
          {{"Upgrade", "test-echo"}, {"Connection", "Upgrade"}},
          [&](std::unique_ptr<UpgradedConnection> c) { startEcho(*loop_, echo, std::move(c)); });
    });
    server->handleAsync("/hang", [&](ExchangePtr ex) { pending = ex; });
    bool pingOk = false, clientSawEof = false, hangSawEof = false;
    int port = server->port();
    runWithClient([&] {
      ClientOptions o = tls ? tlsClient() : ClientOptions{};
      Client c(port, o);
      Client hang(port, o);
      if (!c.ok() || !hang.ok()) return;
      if (!c.send(get("/echo", "Connection: Upgrade\r\nUpgrade: test-echo\r\n"))) return;
      if (!c.readHead() || !c.send("ping")) return;
      pingOk = c.readBytes(4) == std::optional<std::string>("ping");
      hang.send(get("/hang"));
      waitOnLoop([&] { return pending != nullptr; });
      onLoop([&] {
        // The echo keeps its connection; the server goes first.
        echo.event.reset();
        server.reset();
      });
      clientSawEof = c.seesEof();
      hangSawEof = hang.seesEof();
    });
    EXPECT_TRUE(pingOk);
    EXPECT_TRUE(clientSawEof);
    EXPECT_TRUE(hangSawEof);
    ASSERT_NE(echo.conn, nullptr);
    // Still a valid descriptor, at EOF; destroying it afterwards is safe.
    char c;
    EXPECT_LE(read(echo.conn->fd(), &c, 1), 0);
    echo.conn.reset();
    ASSERT_NE(pending, nullptr);
    EXPECT_TRUE(pending->closed());
    pending->respond(text("too late"));  // a no-op
    pending.reset();
    // Posted close notifications and the like run, then nothing is left.
    runWithClient([] {});
    EXPECT_EQ(openFdCount(), fdsBefore);
  }
}

}  // namespace
}  // namespace agent::server

// The HTTP check against real loopback servers on test threads.
#include <sys/socket.h>

#include <mutex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probes/checks.h"
#include "tests/unit/probes/check_test_support.h"

namespace cubelet::testing {
namespace {

using probes::CheckResult;
using probes::HttpGetSpec;
using probes::Outcome;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string response(int code, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(code) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// Serves every connection with `reply(request)` and records the requests.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(const std::string&)> reply,
                          const std::string& ip = "127.0.0.1")
      : server_(std::make_unique<Listener>(ip), [this, reply](int fd, ServerThread&) {
          std::string req = ServerThread::readRequest(fd);
          {
            std::lock_guard<std::mutex> lock(mu_);
            requests_.push_back(req);
          }
          ServerThread::sendAll(fd, reply(req));
        }) {}
  int port() const { return server_.port(); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> requests_;
  ServerThread server_;
};

HttpGetSpec spec(int port, const std::string& path = "/healthz",
                 const std::string& host = "127.0.0.1") {
  HttpGetSpec s;
  s.host = host;
  s.port = port;
  s.path = path;
  return s;
}

CheckRun get(core::SdEventLoop& loop, const HttpGetSpec& s, core::Duration timeout = 2s) {
  return runCheck(loop, [&](probes::CheckDone done) {
    return probes::httpGet(loop, s, timeout, std::move(done));
  });
}

TEST(HttpCheckTest, SuccessCarriesTheBody) {
  auto loop = newLoop();
  int fds = openFdCount();
  {
    ScriptedServer server([](const std::string&) { return response(200, "all good"); });
    CheckRun run = get(*loop, spec(server.port()));
    ASSERT_TRUE(run.result);
    EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
    EXPECT_EQ(run.result->output, "all good");
    EXPECT_EQ(run.result->httpCode, 200);
    ASSERT_EQ(server.requests().size(), 1u);
    EXPECT_THAT(server.requests()[0], StartsWith("GET /healthz HTTP/1.1\r\n"));
  }
  expectNoFdLeak(fds);
}

TEST(HttpCheckTest, StatusCodesAreClassifiedAsTheKubeletDoes) {
  struct Case {
    int code;
    Outcome outcome;
    std::string output;
  };
  const std::vector<Case> cases = {
      {200, Outcome::kSuccess, "body"},
      {204, Outcome::kSuccess, ""},
      {399, Outcome::kWarning, "Probe terminated redirects, Response body: body"},
      {304, Outcome::kWarning, "Probe terminated redirects, Response body: "},
      {400, Outcome::kFailure, "HTTP probe failed with statuscode: 400"},
      {500, Outcome::kFailure, "HTTP probe failed with statuscode: 500"},
      {404, Outcome::kFailure, "HTTP probe failed with statuscode: 404"},
  };
  auto loop = newLoop();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.code);
    ScriptedServer server([&](const std::string&) {
      if (c.code == 204 || c.code == 304)
        return "HTTP/1.1 " + std::to_string(c.code) + " X\r\n\r\n";
      return response(c.code, "body");
    });
    CheckRun run = get(*loop, spec(server.port()));
    ASSERT_TRUE(run.result);
    EXPECT_EQ(run.result->outcome, c.outcome);
    EXPECT_EQ(run.result->output, c.output);
    EXPECT_EQ(run.result->httpCode, c.code);
  }
}

TEST(HttpCheckTest, SendsTheKubeletsDefaultHeaders) {
  auto loop = newLoop();
  ScriptedServer server([](const std::string&) { return response(200, "ok"); });
  CheckRun run = get(*loop, spec(server.port(), ""));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string req = server.requests()[0];
  EXPECT_THAT(req, StartsWith("GET / HTTP/1.1\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nUser-Agent: kube-probe/1.30\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nAccept: */*\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nConnection: close\r\n"));
}

TEST(HttpCheckTest, SpecHeadersOverrideTheDefaults) {
  auto loop = newLoop();
  ScriptedServer server([](const std::string&) { return response(200, "ok"); });
  HttpGetSpec s = spec(server.port(), "/ready?full=1");
  s.headers = {{"x-custom", "one"},
               {"X-Custom", "two"},
               {"host", "example.test"},
               {"User-Agent", "my-agent"},
               {"Accept", ""}};
  CheckRun run = get(*loop, s);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string req = server.requests()[0];
  EXPECT_THAT(req, StartsWith("GET /ready?full=1 HTTP/1.1\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nHost: example.test\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nUser-Agent: my-agent\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nX-Custom: one\r\nX-Custom: two\r\n"));
  EXPECT_THAT(req, ::testing::Not(HasSubstr("kube-probe")));
  EXPECT_THAT(req, ::testing::Not(HasSubstr("Accept:")));  // given empty: dropped
  EXPECT_EQ(req.find("Host:"), req.rfind("Host:"));
}

TEST(HttpCheckTest, FollowsRedirectsOnTheSameHost) {
  auto loop = newLoop();
  int fds = openFdCount();
  {
    ScriptedServer server([](const std::string& req) {
      if (req.rfind("GET /start ", 0) == 0)
        return response(302, "", "Location: /next/../healthz\r\n");
      return response(200, "landed");
    });
    CheckRun run = get(*loop, spec(server.port(), "/start"));
    ASSERT_TRUE(run.result);
    EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
    EXPECT_EQ(run.result->output, "landed");
    EXPECT_EQ(run.result->httpCode, 200);
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_THAT(reqs[1], StartsWith("GET /healthz HTTP/1.1\r\n"));
    EXPECT_THAT(
        reqs[1],
        HasSubstr("\r\nReferer: http://127.0.0.1:" + std::to_string(server.port()) + "/start\r\n"));
  }
  expectNoFdLeak(fds);
}

TEST(HttpCheckTest, ARedirectToAnotherHostIsNotFollowed) {
  auto loop = newLoop();
  int otherPort = closedPort("127.0.0.2");
  ScriptedServer server([&](const std::string&) {
    return response(302, "moved",
                    "Location: http://127.0.0.2:" + std::to_string(otherPort) + "/\r\n");
  });
  CheckRun run = get(*loop, spec(server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kWarning);
  EXPECT_EQ(run.result->output, "Probe terminated redirects, Response body: moved");
  EXPECT_EQ(run.result->httpCode, 302);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpCheckTest, StopsAfterTenRedirects) {
  auto loop = newLoop();
  ScriptedServer server(
      [](const std::string&) { return response(301, "", "Location: /again\r\n"); });
  CheckRun run = get(*loop, spec(server.port(), "/"));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output, "Get \"http://127.0.0.1:" + std::to_string(server.port()) +
                                    "/again\": stopped after 10 redirects");
  EXPECT_EQ(server.requests().size(), 11u);
}

TEST(HttpCheckTest, ChunkedBodyAndBodyCutAt10KiB) {
  auto loop = newLoop();
  ScriptedServer chunked([](const std::string&) {
    return std::string(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        "6;x=y\r\n world\r\n0\r\n\r\n");
  });
  CheckRun run = get(*loop, spec(chunked.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
  EXPECT_EQ(run.result->output, "hello world");

  ScriptedServer big([](const std::string&) {
    return "HTTP/1.0 200 OK\r\n\r\n" + std::string(20000, 'x');  // until close
  });
  run = get(*loop, spec(big.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
  EXPECT_EQ(run.result->output, std::string(10240, 'x'));
}

TEST(HttpCheckTest, ConnectionRefused) {
  auto loop = newLoop();
  int fds = openFdCount();
  int port = closedPort();
  CheckRun run = get(*loop, spec(port));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  std::string addr = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(run.result->output, "Get \"http://" + addr + "/healthz\": dial tcp " + addr +
                                    ": connect: connection refused");
  EXPECT_EQ(run.result->httpCode, 0);
  expectNoFdLeak(fds);
}

TEST(HttpCheckTest, IPv6Literal) {
  auto loop = newLoop();
  ASSERT_TRUE(Listener("::1").ok()) << "no IPv6 loopback";
  ScriptedServer server([](const std::string&) { return response(200, "six"); }, "::1");
  CheckRun run = get(*loop, spec(server.port(), "/", "::1"));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kSuccess);
  EXPECT_EQ(run.result->output, "six");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0], HasSubstr("\r\nHost: [::1]:" + std::to_string(server.port())));
}

TEST(HttpCheckTest, ServerThatNeverAnswersTimesOut) {
  auto loop = newLoop();
  int fds = openFdCount();
  {
    ServerThread server(std::make_unique<Listener>(), [](int fd, ServerThread& s) {
      ServerThread::readRequest(fd);
      s.hold();
    });
    CheckRun run = get(*loop, spec(server.port()), 300ms);
    ASSERT_TRUE(run.result);
    EXPECT_EQ(run.result->outcome, Outcome::kFailure);
    EXPECT_EQ(run.result->output,
              "Get \"http://127.0.0.1:" + std::to_string(server.port()) +
                  "/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting "
                  "headers)");
    EXPECT_GE(run.elapsed, 300ms);
    EXPECT_LT(run.elapsed, 800ms);
  }
  expectNoFdLeak(fds);
}

TEST(HttpCheckTest, GarbageIsAMalformedResponse) {
  auto loop = newLoop();
  ScriptedServer server([](const std::string&) { return std::string("garbage\r\n\r\n"); });
  CheckRun run = get(*loop, spec(server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output, "Get \"http://127.0.0.1:" + std::to_string(server.port()) +
                                    "/healthz\": net/http: HTTP/1.x transport connection broken: "
                                    "malformed HTTP response \"garbage\"");
}

TEST(HttpCheckTest, CloseWithoutAnswerIsEOF) {
  auto loop = newLoop();
  ScriptedServer server([](const std::string&) { return std::string(); });
  CheckRun run = get(*loop, spec(server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output,
            "Get \"http://127.0.0.1:" + std::to_string(server.port()) + "/healthz\": EOF");
}

TEST(HttpCheckTest, ConnectionResetIsAFailure) {
  auto loop = newLoop();
  ServerThread server(std::make_unique<Listener>(), [](int fd, ServerThread&) {
    ServerThread::readRequest(fd);
    linger l{1, 0};  // close() sends RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  });
  CheckRun run = get(*loop, spec(server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_THAT(run.result->output,
              StartsWith("Get \"http://127.0.0.1:" + std::to_string(server.port()) +
                         "/healthz\": read tcp 127.0.0.1:"));
  EXPECT_THAT(run.result->output, HasSubstr("->127.0.0.1:" + std::to_string(server.port()) +
                                            ": read: connection reset by peer"));
}

// After the headers, a broken body is the prober erroring (the kubelet throws
// such a result away), not a failure.
TEST(HttpCheckTest, ShortBodyIsAnError) {
  auto loop = newLoop();
  ScriptedServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..");
  });
  CheckRun run = get(*loop, spec(server.port()));
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kError);
  EXPECT_EQ(run.result->output, "unexpected EOF");
  EXPECT_EQ(run.result->httpCode, 200);
}

TEST(HttpCheckTest, CancelledCheckNeverCallsBack) {
  auto loop = newLoop();
  int fds = openFdCount();
  {
    ServerThread server(std::make_unique<Listener>(), [](int fd, ServerThread& s) {
      ServerThread::readRequest(fd);
      s.hold();
    });
    bool called = false;
    probes::PendingCheckPtr pending =
        probes::httpGet(*loop, spec(server.port()), 300ms, [&](CheckResult) { called = true; });
    core::TimerPtr cancel = loop->createTimer([&] { pending.reset(); });
    cancel->enableTimer(100ms);
    runFor(*loop, 600ms);  // past the check's own timeout
    EXPECT_FALSE(called);
    EXPECT_EQ(pending, nullptr);
    EXPECT_EQ(server.accepted(), 1);
  }
  expectNoFdLeak(fds);
}

TEST(HttpCheckTest, UnsupportedSchemeFailsWithoutConnecting) {
  auto loop = newLoop();
  HttpGetSpec s = spec(80);
  s.scheme = "FTP";
  CheckRun run = get(*loop, s);
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->outcome, Outcome::kFailure);
  EXPECT_EQ(run.result->output,
            "Get \"ftp://127.0.0.1:80/healthz\": unsupported protocol scheme \"ftp\"");
}

}  // namespace
}  // namespace cubelet::testing

// HttpServer against real sockets: the server runs on a real SdEventLoop on the
// test thread while clients (libcurl, or a raw socket when the test needs control
// over the bytes on the wire) run on another thread.
#include "agent/server/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/sd_event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loop_fixtures.h"

namespace agent::server {
namespace {

using std::chrono_literals::operator""s;
using ::testing::HasSubstr;

// Every client-side wait is bounded by this, so a broken server fails the test.
constexpr int kClientTimeoutMs = 5000;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A blocking HTTP/1.1 client on one TCP connection, with receive timeouts.
class RawClient {
 public:
  explicit RawClient(const std::string& ip, int port) {
    in6_addr v6{};
    bool ipv6 = inet_pton(AF_INET6, ip.c_str(), &v6) == 1;
    fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{kClientTimeoutMs / 1000, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    if (ipv6) {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(static_cast<uint16_t>(port));
      sa.sin6_addr = v6;
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    } else {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    }
    connected_ = rc == 0;
    connectErrno_ = rc == 0 ? 0 : errno;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int connectErrno() const { return connectErrno_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response with a Content-Length body; nullopt on EOF, timeout or garbage.
  std::optional<RawResponse> readResponse() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    RawResponse resp;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t lineEnd = head.find("\r\n");
    std::string statusLine = head.substr(0, lineEnd);
    if (statusLine.size() < 12 || !absl::SimpleAtoi(statusLine.substr(9, 3), &resp.status)) {
      return std::nullopt;
    }
    while (lineEnd != std::string::npos) {
      size_t start = lineEnd + 2;
      lineEnd = head.find("\r\n", start);
      std::string line =
          head.substr(start, lineEnd == std::string::npos ? lineEnd : lineEnd - start);
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      resp.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    size_t length = 0;
    if (!absl::SimpleAtoi(resp.headers["content-length"], &length)) return std::nullopt;
    while (buf_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    resp.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return resp;
  }

  // True when the server closed the connection (as opposed to a timeout).
  bool seesEof() {
    char c;
    return buf_.empty() && recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool fill() {
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  int connectErrno_ = 0;
  std::string buf_;
};

struct CurlResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string contentType;
};

size_t appendToString(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

CurlResult curlRequest(const std::string& url, const std::optional<std::string>& postBody = {}) {
  CurlResult r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(kClientTimeoutMs));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &appendToString);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  if (postBody) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, postBody->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(postBody->size()));
  }
  r.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  char* ct = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  if (ct != nullptr) r.contentType = ct;
  curl_easy_cleanup(c);
  return r;
}

std::string get(const std::string& path) {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n\r\n");
}

HttpResponse text(std::string body) {
  HttpResponse resp;
  resp.body = std::move(body);
  return resp;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
  }

  std::unique_ptr<HttpServer> startServer(const std::string& address = "127.0.0.1") {
    auto server = HttpServer::create(*loop_, address, 0);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    EXPECT_GT((*server)->port(), 0);
    return std::move(*server);
  }

  // Runs the loop on this thread while `client` runs on another; the loop stops
  // when the client is done, or fails the test after `guard`.
  void runWithClient(const std::function<void()>& client, core::Duration guard = 20s) {
    cubelet::testing::runLoopWithClient(*loop_, client, guard);
  }
  void onLoop(const std::function<void()>& fn) { cubelet::testing::runOnLoop(*loop_, fn); }

  std::unique_ptr<core::SdEventLoop> loop_;
};

TEST_F(HttpServerTest, GetWithQueryStringReachesHandler) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  HttpRequest seen;
  server->handle("/pods", [&](const HttpRequest& req) {
    seen = req;
    return text("pods here");
  });
  CurlResult r;
  int port = server->port();
  runWithClient([&] {
    r = curlRequest(absl::StrCat("http://127.0.0.1:", port, "/pods?a=1&b=x%20y&a=2&flag"));
  });
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "pods here");
  EXPECT_EQ(r.contentType, "text/plain; charset=utf-8");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/pods");
  EXPECT_EQ(seen.query,
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "x y"}, {"flag", ""}}));
  EXPECT_EQ(seen.headers["host"], absl::StrCat("127.0.0.1:", port));
  EXPECT_TRUE(seen.body.empty());
}

TEST_F(HttpServerTest, UnknownPathIsGoStyle404) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  server->handle("/healthz", [](const HttpRequest&) { return text("ok"); });
  CurlResult r;
  int port = server->port();
  runWithClient([&] { r = curlRequest(absl::StrCat("http://127.0.0.1:", port, "/nope")); });
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 page not found\n");
  EXPECT_EQ(r.contentType, "text/plain; charset=utf-8");
}

TEST_F(HttpServerTest, LongestPatternWinsAndOnlySlashPatternsMatchSubtrees) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  server->handle("/stats/", [](const HttpRequest&) { return text("stats subtree"); });
  server->handle("/stats/summary", [](const HttpRequest&) { return text("summary"); });
  server->handle("/pods", [](const HttpRequest&) { return text("pods"); });
  server->handle("/pods", [](const HttpRequest&) { return text("pods v2"); });
  std::vector<std::pair<int, std::string>> got;
  const std::vector<std::string> paths = {"/stats/summary", "/stats/x/y", "/stats/", "/stats",
                                          "/pods",          "/pods/x",    "/podsx"};
  int port = server->port();
  runWithClient([&] {
    RawClient c("127.0.0.1", port);
    for (const auto& p : paths) {
      if (!c.send(get(p))) break;
      auto resp = c.readResponse();
      if (!resp) break;
      got.emplace_back(resp->status, resp->body);
    }
  });
  using Got = std::vector<std::pair<int, std::string>>;
  EXPECT_EQ(got, (Got{{200, "summary"},
                      {200, "stats subtree"},
                      {200, "stats subtree"},
                      {404, "404 page not found\n"},
                      {200, "pods v2"},
                      {404, "404 page not found\n"},
                      {404, "404 page not found\n"}}));
}

TEST_F(HttpServerTest, ResponseStatusAndHeadersReachTheClient) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  server->handle("/created", [](const HttpRequest&) {
    HttpResponse resp;
    resp.status = 201;
    resp.contentType = "application/json";
    resp.body = "{}";
    resp.headers["X-Cubelet"] = "yes";
    return resp;
  });
  server->handle("/throws",
                 [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  std::optional<RawResponse> created, thrown;
  int port = server->port();
  runWithClient([&] {
    RawClient c("127.0.0.1", port);
    if (c.send(get("/created"))) created = c.readResponse();
    if (c.send(get("/throws"))) thrown = c.readResponse();
  });
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(created->body, "{}");
  EXPECT_EQ(created->headers["content-type"], "application/json");
  EXPECT_EQ(created->headers["x-cubelet"], "yes");
  ASSERT_TRUE(thrown.has_value());
  EXPECT_EQ(thrown->status, 500);
}

TEST_F(HttpServerTest, PostBodyIsDeliveredWhole) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  HttpRequest seen;
  server->handle("/echo", [&](const HttpRequest& req) {
    seen = req;
    return text(absl::StrCat(req.body.size()));
  });
  // Big enough to arrive in many reads, and exactly at the limit.
  std::string body(HttpServer::kMaxBodyBytes, 'x');
  for (size_t i = 0; i < body.size(); i += 4099) body[i] = static_cast<char>('a' + i % 26);
  CurlResult r;
  int port = server->port();
  runWithClient([&] { r = curlRequest(absl::StrCat("http://127.0.0.1:", port, "/echo"), body); });
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, absl::StrCat(body.size()));
  EXPECT_EQ(seen.method, "POST");
  EXPECT_TRUE(seen.body == body) << "body differs; got " << seen.body.size() << " bytes";
  EXPECT_EQ(seen.headers["content-type"], "application/x-www-form-urlencoded");
}

TEST_F(HttpServerTest, OversizeBodiesGet413) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  int calls = 0;
  server->handle("/echo", [&](const HttpRequest&) {
    ++calls;
    return text("accepted");
  });
  std::optional<RawResponse> declared, chunked;
  int port = server->port();
  runWithClient([&] {
    {
      // A declared length over the limit is refused before the body is read.
      RawClient c("127.0.0.1", port);
      if (c.send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ",
                              HttpServer::kMaxBodyBytes + 1, "\r\n\r\n"))) {
        declared = c.readResponse();
      }
    }
    {
      // A chunked body has no declared length: it is refused once it ends.
      RawClient c("127.0.0.1", port);
      std::string chunk(64 * 1024, 'z');
      bool ok = c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (size_t sent = 0; ok && sent <= HttpServer::kMaxBodyBytes; sent += chunk.size()) {
        ok = c.send(absl::StrCat("10000\r\n", chunk, "\r\n"));
      }
      if (ok && c.send("0\r\n\r\n")) chunked = c.readResponse();
    }
  });
  ASSERT_TRUE(declared.has_value());
  EXPECT_EQ(declared->status, 413);
  ASSERT_TRUE(chunked.has_value());
  EXPECT_EQ(chunked->status, 413);
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  int calls = 0;
  server->handle("/healthz", [&](const HttpRequest&) {
    ++calls;
    return text("ok");
  });
  std::optional<RawResponse> first, second;
  int port = server->port();
  runWithClient([&] {
    RawClient c("127.0.0.1", port);
    if (c.send(get("/healthz"))) first = c.readResponse();
    if (c.send(get("/healthz"))) second = c.readResponse();
  });
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value()) << "second request on the same connection got no answer";
  EXPECT_EQ(first->body, "ok");
  EXPECT_EQ(second->body, "ok");
  EXPECT_NE(absl::AsciiStrToLower(first->headers["connection"]), "close");
  EXPECT_EQ(calls, 2);
}

TEST_F(HttpServerTest, SlowClientDoesNotBlockAnother) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::string> order;
  server->handle("/", [&](const HttpRequest& req) {
    order.push_back(req.path);
    return text(req.path);
  });
  CurlResult fast;
  std::optional<RawResponse> slow;
  int port = server->port();
  runWithClient([&] {
    RawClient c("127.0.0.1", port);
    if (!c.send("GET /slow HTTP/1.1\r\nHost: t\r\n")) return;  // half a request
    fast = curlRequest(absl::StrCat("http://127.0.0.1:", port, "/fast"));
    if (c.send("\r\n")) slow = c.readResponse();
  });
  ASSERT_EQ(fast.code, CURLE_OK) << curl_easy_strerror(fast.code);
  EXPECT_EQ(fast.body, "/fast");
  ASSERT_TRUE(slow.has_value());
  EXPECT_EQ(slow->body, "/slow");
  EXPECT_EQ(order, (std::vector<std::string>{"/fast", "/slow"}));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionDoesNotSpinTheLoop) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  server->handle("/healthz", [](const HttpRequest&) { return text("ok"); });
  auto loopCpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  std::chrono::nanoseconds before{}, after{};
  std::optional<RawResponse> r;
  int port = server->port();
  runWithClient([&] {
    RawClient c("127.0.0.1", port);
    if (c.send(get("/healthz"))) r = c.readResponse();
    onLoop([&] { before = loopCpu(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    onLoop([&] { after = loopCpu(); });
  });
  ASSERT_TRUE(r.has_value());
  // Idle costs ~0.1 ms here; a loop re-woken by zero timeouts (about once per ms,
  // the loop's timer accuracy) costs over 10 ms.
  EXPECT_LT(after - before, std::chrono::milliseconds(5));
}

TEST_F(HttpServerTest, DestroyingTheServerClosesOpenConnections) {
  auto server = startServer();
  ASSERT_NE(server, nullptr);
  server->handle("/", [](const HttpRequest&) { return text("ok"); });
  std::optional<RawResponse> first;
  bool idleClosed = false, midBodyClosed = false;
  int refusedErrno = 0;
  int port = server->port();
  runWithClient([&] {
    RawClient idle("127.0.0.1", port);
    RawClient midBody("127.0.0.1", port);
    if (idle.send(get("/"))) first = idle.readResponse();
    // Headers complete, body half sent: the server holds state for this request.
    midBody.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    // Let the server see the half body before it goes away.
    RawClient probe("127.0.0.1", port);
    if (probe.send(get("/"))) probe.readResponse();
    onLoop([&] { server.reset(); });
    idleClosed = idle.seesEof();
    midBodyClosed = midBody.seesEof();
    RawClient late("127.0.0.1", port);
    refusedErrno = late.connected() ? 0 : late.connectErrno();
  });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "ok");
  EXPECT_TRUE(idleClosed);
  EXPECT_TRUE(midBodyClosed);
  EXPECT_EQ(refusedErrno, ECONNREFUSED) << "listening socket still open";
}

TEST_F(HttpServerTest, ListensOnIpv6LocalhostAndWildcards) {
  struct Case {
    std::string bind;
    std::vector<std::string> reach;
  };
  const std::vector<Case> cases = {
      {"::1", {"::1"}},           {"[::1]", {"::1"}},           {"localhost", {"127.0.0.1"}},
      {"0.0.0.0", {"127.0.0.1"}}, {"::", {"::1", "127.0.0.1"}}, {"", {"::1", "127.0.0.1"}}};
  for (const auto& tc : cases) {
    SCOPED_TRACE("bind \"" + tc.bind + "\"");
    auto server = startServer(tc.bind);
    ASSERT_NE(server, nullptr);
    server->handle("/healthz", [](const HttpRequest&) { return text("ok"); });
    std::vector<std::string> bodies;
    int port = server->port();
    runWithClient([&] {
      for (const auto& ip : tc.reach) {
        RawClient c(ip, port);
        std::optional<RawResponse> r;
        if (c.send(get("/healthz"))) r = c.readResponse();
        bodies.push_back(r ? r->body : "no answer via " + ip);
      }
    });
    EXPECT_EQ(bodies, std::vector<std::string>(tc.reach.size(), "ok"));
  }
}

TEST_F(HttpServerTest, BindErrorsNameTheAddress) {
  auto first = startServer();
  ASSERT_NE(first, nullptr);
  auto clash = HttpServer::create(*loop_, "127.0.0.1", first->port());
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", first->port())));
  EXPECT_THAT(clash.status().message(), HasSubstr("in use"));

  auto bad = HttpServer::create(*loop_, "not-an-ip", 10248);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("not-an-ip"));

  auto badPort = HttpServer::create(*loop_, "127.0.0.1", 70000);
  ASSERT_FALSE(badPort.ok());
  EXPECT_THAT(badPort.status().message(), HasSubstr("127.0.0.1:70000"));
}

}  // namespace
}  // namespace agent::server

// The kubelet API's streaming endpoints (/exec, /run, /portForward) against a real
// containerd: a host-network pod with a busybox container is made through CRI
// directly, an HttpServer on the test's own loop serves the handlers with a
// resolver over that pod, and a WebSocket client (v4.channel.k8s.io) talks through
// the agent's proxy to containerd's streaming server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/server/http_exchange.h"
#include "agent/server/http_server.h"
#include "agent/server/serving_cert.h"
#include "agent/server/stream_proxy.h"
#include "agent/server/streaming_handlers.h"
#include "core/sd_event_loop.h"
#include "core/worker_pool.h"
#include "cri/grpc_runtime_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/private_containerd.h"
#include "tests/support/websocket_client.h"

namespace cubelet::testing {
namespace {

namespace v1 = runtime::v1;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kNs[] = "default";
constexpr char kPod[] = "streaming-test";
constexpr char kUid[] = "5e1f0c2a-streaming-test";
constexpr char kContainer[] = "box";
constexpr int kHttpdPort = 18080;

struct HttpResult {
  int status = 0;
  std::string body;
};

// One plain HTTP/1.0 request (the server closes after answering).
HttpResult httpRequest(int port, const std::string& method, const std::string& target) {
  HttpResult r;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return r;
  }
  std::string req = absl::StrCat(method, " ", target,
                                 " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string in;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) in.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t end = in.find("\r\n\r\n");
  if (in.size() < 12 || end == std::string::npos) return r;
  r.status = std::atoi(in.substr(9, 3).c_str());
  r.body = in.substr(end + 4);
  return r;
}

class StreamingTest : public ::testing::Test {
 protected:
  template <typename Fn>
  auto onLoop(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    loop_->post([&task] { task(); });
    f.wait();
    return f.get();
  }

  static void SetUpTestSuite() {
    auto client = cri::GrpcRuntimeClient::create(containerd().endpoint(), 60s, 30s);
    ASSERT_TRUE(client.ok()) << client.status();
    runtime_ = client->release();

    std::string tmpl = containerd().runDir() + "/streaming-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    v1::PodSandboxConfig sb;
    sb.mutable_metadata()->set_name(kPod);
    sb.mutable_metadata()->set_namespace_(kNs);
    sb.mutable_metadata()->set_uid(kUid);
    sb.set_log_directory(tmpl);
    (*sb.mutable_labels())["io.kubernetes.pod.name"] = kPod;
    (*sb.mutable_labels())["io.kubernetes.pod.namespace"] = kNs;
    (*sb.mutable_labels())["io.kubernetes.pod.uid"] = kUid;
    auto* ns = sb.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    ns->set_network(v1::NODE);
    auto sandbox = runtime_->runPodSandbox(sb, "");
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandboxId_ = new std::string(*sandbox);

    std::filesystem::create_directories(tmpl + "/" + kContainer);
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name(kContainer);
    c.mutable_image()->set_image(kBusyboxImage);
    for (const char* arg : {"sh", "-c",
                            "mkdir -p /www && echo hello-from-httpd > /www/index.html && "
                            "exec httpd -f -p 18080 -h /www"}) {
      c.add_command(arg);
    }
    c.set_log_path(std::string(kContainer) + "/0.log");
    auto id = runtime_->createContainer(*sandbox, c, sb);
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE(runtime_->startContainer(*id).ok());
    containerId_ = new std::string(*id);
  }

  static void TearDownTestSuite() {
    if (sandboxId_ != nullptr) {
      (void)runtime_->stopPodSandbox(*sandboxId_);
      (void)runtime_->removePodSandbox(*sandboxId_);
    }
    delete sandboxId_;
    delete containerId_;
    delete runtime_;
    sandboxId_ = containerId_ = nullptr;
    runtime_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(containerId_, nullptr);
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
    pool_ = std::make_unique<core::ThreadWorkerPool>(2);
    keepAlive_ = loop_->createTimer([] {});
    keepAlive_->enableTimer(std::chrono::hours(1));
    thread_ = std::thread([this] { (void)loop_->run(); });

    agent::server::StreamingContext& ctx = ctx_;
    ctx.loop = loop_.get();
    ctx.pool = pool_.get();
    ctx.runtime = runtime_;
    ctx.resolveContainer =
        [](const std::string& ns, const std::string& pod, const std::string& uid,
           const std::string& container) -> absl::StatusOr<agent::server::ResolvedContainer> {
      if (ns != kNs || pod != kPod) return absl::NotFoundError("pod does not exist");
      if (!uid.empty() && uid != kUid) return absl::NotFoundError("pod not found");
      if (container != kContainer) {
        return absl::NotFoundError(absl::StrCat("container not found (\"", container, "\")"));
      }
      return agent::server::ResolvedContainer{*containerId_, *sandboxId_};
    };
    ctx.resolveSandbox = [](const std::string& ns, const std::string& pod,
                            const std::string& uid) -> absl::StatusOr<std::string> {
      if (ns != kNs || pod != kPod || (!uid.empty() && uid != kUid)) {
        return absl::NotFoundError("pod does not exist");
      }
      return *sandboxId_;
    };
    bool ok = onLoop([&] {
      auto server = agent::server::HttpServer::create(*loop_, "127.0.0.1", 0);
      if (!server.ok()) {
        ADD_FAILURE() << server.status();
        return false;
      }
      server_ = *std::move(server);
      server_->handleAsync("/exec/", agent::server::makeExecHandler(ctx));
      server_->handleAsync("/attach/", agent::server::makeAttachHandler(ctx));
      server_->handleAsync("/portForward/", agent::server::makePortForwardHandler(ctx));
      server_->handleAsync("/run/", agent::server::makeRunHandler(ctx));
      return true;
    });
    ASSERT_TRUE(ok);
    port_ = server_->port();
  }

  void TearDown() override {
    // Every session ended: no proxy is left.
    for (int i = 0; i < 500 && onLoop([] { return agent::server::liveStreamProxies(); }) > 0; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(onLoop([] { return agent::server::liveStreamProxies(); }), 0u);
    onLoop([this] {
      agent::server::closeStreamProxies();
      server_.reset();
      tlsServer_.reset();
      keepAlive_.reset();
      return true;
    });
    pool_.reset();  // drains pool jobs, which post to the still-running loop
    loop_->exit();
    thread_.join();
    loop_.reset();
  }

  absl::StatusOr<std::unique_ptr<WebSocketClient>> ws(const std::string& target) {
    WebSocketOptions o;
    o.port = port_;
    o.target = target;
    o.protocols = {"v4.channel.k8s.io"};
    o.timeout = 30s;
    return WebSocketClient::connect(o);
  }

  static cri::GrpcRuntimeClient* runtime_;
  static std::string* sandboxId_;
  static std::string* containerId_;

  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<core::ThreadWorkerPool> pool_;
  core::TimerPtr keepAlive_;
  std::thread thread_;
  std::unique_ptr<agent::server::HttpServer> server_;
  std::unique_ptr<agent::server::HttpServer> tlsServer_;
  agent::server::StreamingContext ctx_;
  int port_ = 0;
};

cri::GrpcRuntimeClient* StreamingTest::runtime_ = nullptr;
std::string* StreamingTest::sandboxId_ = nullptr;
std::string* StreamingTest::containerId_ = nullptr;

TEST_F(StreamingTest, ExecEchoOverWebSocket) {
  auto c = ws("/exec/default/streaming-test/box?command=echo&command=hello&output=1&error=1");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->upgraded()) << (*c)->status() << " " << (*c)->body();
  EXPECT_EQ((*c)->protocol(), "v4.channel.k8s.io");
  auto ch = (*c)->readChannels();
  ASSERT_TRUE(ch.ok()) << ch.status();
  EXPECT_TRUE(ch->closed);
  EXPECT_EQ(ch->data[1], "hello\n");
  EXPECT_EQ(ch->data[2], "");
  EXPECT_THAT(ch->data[3], HasSubstr("\"status\":\"Success\""));
}

TEST_F(StreamingTest, ExecWithUidInPathAndExitCode) {
  auto c = ws(absl::StrCat("/exec/default/streaming-test/", kUid,
                           "/box?command=sh&command=-c&command=echo%20oops%20%3E%262%3B%20exit%203"
                           "&output=1&error=1"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->upgraded()) << (*c)->status() << " " << (*c)->body();
  auto ch = (*c)->readChannels();
  ASSERT_TRUE(ch.ok()) << ch.status();
  EXPECT_EQ(ch->data[2], "oops\n");
  EXPECT_THAT(ch->data[3], HasSubstr("NonZeroExitCode"));
  EXPECT_THAT(ch->data[3], HasSubstr("\"reason\":\"ExitCode\",\"message\":\"3\""));
}

TEST_F(StreamingTest, ExecCatEchoesStdin) {
  auto c = ws("/exec/default/streaming-test/box?command=cat&input=1&output=1");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->upgraded()) << (*c)->status() << " " << (*c)->body();
  ASSERT_TRUE((*c)->sendChannel(0, "ping").ok());
  std::string out;
  while (out.size() < 4) {
    auto msg = (*c)->receive();
    ASSERT_TRUE(msg.ok()) << msg.status();
    ASSERT_EQ(msg->opcode, WebSocketClient::kBinary);
    if (msg->payload.size() > 1 && msg->payload[0] == 1) out += msg->payload.substr(1);
  }
  EXPECT_EQ(out, "ping");
  ASSERT_TRUE((*c)->close().ok());
  auto rest = (*c)->readChannels();  // the server closes too
  EXPECT_TRUE(rest.ok()) << rest.status();
}

TEST_F(StreamingTest, RunReturnsTheOutput) {
  auto ok = httpRequest(port_, "POST", "/run/default/streaming-test/box?cmd=echo%20hi%20there");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "hi there\n");
  auto failing = httpRequest(port_, "POST", "/run/default/streaming-test/box?cmd=false");
  EXPECT_EQ(failing.status, 500);
  EXPECT_THAT(failing.body, StartsWith("command 'false' exited with 1"));
  auto get = httpRequest(port_, "GET", "/run/default/streaming-test/box?cmd=true");
  EXPECT_EQ(get.status, 405);
}

TEST_F(StreamingTest, RefusalsNameTheProblem) {
  auto noUpgrade =
      httpRequest(port_, "GET", "/exec/default/streaming-test/box?command=ls&output=1");
  EXPECT_EQ(noUpgrade.status, 500);
  EXPECT_EQ(noUpgrade.body, "Upgrade request required\n");

  auto noStreams = ws("/exec/default/streaming-test/box?command=ls");
  ASSERT_TRUE(noStreams.ok()) << noStreams.status();
  EXPECT_FALSE((*noStreams)->upgraded());
  EXPECT_EQ((*noStreams)->status(), 400);
  EXPECT_EQ((*noStreams)->body(), "you must specify at least 1 of stdin, stdout, stderr");

  auto noPod = ws("/exec/default/nope/box?command=ls&output=1");
  ASSERT_TRUE(noPod.ok()) << noPod.status();
  EXPECT_EQ((*noPod)->status(), 404);
  EXPECT_EQ((*noPod)->body(), "pod does not exist");

  auto noContainer = ws("/attach/default/streaming-test/other?output=1");
  ASSERT_TRUE(noContainer.ok()) << noContainer.status();
  EXPECT_EQ((*noContainer)->status(), 404);
  EXPECT_EQ((*noContainer)->body(), "container not found (\"other\")");

  auto badPort = ws("/portForward/default/streaming-test?port=http");
  ASSERT_TRUE(badPort.ok()) << badPort.status();
  EXPECT_EQ((*badPort)->status(), 400);
  EXPECT_THAT((*badPort)->body(), StartsWith("unable to parse \"http\" as a port"));

  auto badPath = ws("/exec/default/streaming-test?output=1");
  ASSERT_TRUE(badPath.ok()) << badPath.status();
  EXPECT_EQ((*badPath)->status(), 404);
}

TEST_F(StreamingTest, PortForwardOverWebSocket) {
  // httpd comes up with the container; wait for it through /run.
  for (int i = 0; i < 50; ++i) {
    auto r = httpRequest(
        port_, "POST", "/run/default/streaming-test/box?cmd=wget%20-qO-%20http://127.0.0.1:18080/");
    if (r.status == 200) break;
    std::this_thread::sleep_for(100ms);
  }
  auto c = ws(absl::StrCat("/portForward/default/streaming-test?port=", kHttpdPort));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->upgraded()) << (*c)->status() << " " << (*c)->body();
  // Each channel (0 data, 1 error) starts with the port, little-endian.
  const std::string portBytes{static_cast<char>(kHttpdPort & 0xff),
                              static_cast<char>(kHttpdPort >> 8)};
  ASSERT_TRUE((*c)->sendChannel(0, "GET / HTTP/1.0\r\n\r\n").ok());
  auto ch = (*c)->readChannels();
  ASSERT_TRUE(ch.ok()) << ch.status();
  ASSERT_GE(ch->data[0].size(), 2u);
  EXPECT_EQ(ch->data[0].substr(0, 2), portBytes);
  EXPECT_THAT(ch->data[0], HasSubstr("200 OK"));
  EXPECT_THAT(ch->data[0], HasSubstr("hello-from-httpd"));
  EXPECT_EQ(ch->data[1].substr(0, 2), portBytes);
}

TEST_F(StreamingTest, ExecOverTls) {
  auto pair = agent::server::generateSelfSignedCertKey("127.0.0.1", {"127.0.0.1"}, {},
                                                       std::chrono::system_clock::now());
  ASSERT_TRUE(pair.ok()) << pair.status();
  int tlsPort = onLoop([&] {
    agent::server::TlsOptions tls;
    tls.certPem = pair->certPem;
    tls.keyPem = pair->keyPem;
    auto server = agent::server::HttpServer::createTls(*loop_, "127.0.0.1", 0, tls);
    if (!server.ok()) {
      ADD_FAILURE() << server.status();
      return 0;
    }
    tlsServer_ = *std::move(server);
    tlsServer_->handleAsync("/exec/", agent::server::makeExecHandler(ctx_));
    return tlsServer_->port();
  });
  ASSERT_NE(tlsPort, 0);
  WebSocketOptions o;
  o.port = tlsPort;
  o.tls = true;
  o.target = "/exec/default/streaming-test/box?command=cat&input=1&output=1";
  o.protocols = {"v4.channel.k8s.io"};
  o.timeout = 30s;
  auto c = WebSocketClient::connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->upgraded()) << (*c)->status() << " " << (*c)->body();
  ASSERT_TRUE((*c)->sendChannel(0, "over tls").ok());
  std::string out;
  while (out.size() < 8) {
    auto msg = (*c)->receive();
    ASSERT_TRUE(msg.ok()) << msg.status();
    if (msg->payload.size() > 1 && msg->payload[0] == 1) out += msg->payload.substr(1);
  }
  EXPECT_EQ(out, "over tls");
  ASSERT_TRUE((*c)->close().ok());
  EXPECT_TRUE((*c)->readChannels().ok());
}

}  // namespace
}  // namespace cubelet::testing

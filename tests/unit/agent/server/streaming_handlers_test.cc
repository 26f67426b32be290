// The streaming endpoints' request handling: paths, methods, query parameters,
// resolver and CRI errors, and the CRI requests they make, on a simulated loop
// with a stub runtime. The proxying itself is stream_proxy_test's; the whole
// path against containerd is tests/integration/streaming_test.
#include "agent/server/streaming_handlers.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::server {
namespace {

namespace v1 = runtime::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

#define UNIMPLEMENTED \
  { return absl::UnimplementedError("stub"); }

class StubRuntime : public cri::RuntimeService {
 public:
  absl::StatusOr<v1::VersionResponse> version() override UNIMPLEMENTED;
  absl::StatusOr<v1::StatusResponse> status(bool) override UNIMPLEMENTED;
  absl::StatusOr<std::string> runPodSandbox(const v1::PodSandboxConfig&,
                                            const std::string&) override UNIMPLEMENTED;
  absl::Status stopPodSandbox(const std::string&) override UNIMPLEMENTED;
  absl::Status removePodSandbox(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<v1::PodSandboxStatusResponse> podSandboxStatus(const std::string&,
                                                                bool) override UNIMPLEMENTED;
  absl::StatusOr<std::vector<v1::PodSandbox>> listPodSandbox(const v1::PodSandboxFilter&) override
      UNIMPLEMENTED;
  absl::StatusOr<std::string> createContainer(const std::string&, const v1::ContainerConfig&,
                                              const v1::PodSandboxConfig&) override UNIMPLEMENTED;
  absl::Status startContainer(const std::string&) override UNIMPLEMENTED;
  absl::Status stopContainer(const std::string&, int64_t) override UNIMPLEMENTED;
  absl::Status removeContainer(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<std::vector<v1::Container>> listContainers(const v1::ContainerFilter&) override
      UNIMPLEMENTED;
  absl::StatusOr<v1::ContainerStatusResponse> containerStatus(const std::string&,
                                                              bool) override UNIMPLEMENTED;
  absl::Status updateContainerResources(const std::string&,
                                        const v1::LinuxContainerResources&) override UNIMPLEMENTED;
  absl::Status reopenContainerLog(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<v1::ContainerStats> containerStats(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<std::vector<v1::ContainerStats>> listContainerStats(
      const v1::ContainerStatsFilter&) override UNIMPLEMENTED;
  absl::StatusOr<v1::PodSandboxStats> podSandboxStats(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<std::vector<v1::PodSandboxStats>> listPodSandboxStats(
      const v1::PodSandboxStatsFilter&) override UNIMPLEMENTED;
  absl::Status updateRuntimeConfig(const std::string&) override UNIMPLEMENTED;

  absl::StatusOr<v1::ExecSyncResponse> execSync(const std::string& id,
                                                const std::vector<std::string>& cmd,
                                                int64_t) override {
    execSyncId = id;
    execSyncCmd = cmd;
    return execSyncResult;
  }
  absl::StatusOr<std::string> exec(const v1::ExecRequest& r) override {
    execReq = r;
    return url;
  }
  absl::StatusOr<std::string> attach(const v1::AttachRequest& r) override {
    attachReq = r;
    return url;
  }
  absl::StatusOr<std::string> portForward(const v1::PortForwardRequest& r) override {
    pfReq = r;
    return url;
  }

  // An https URL: the proxy refuses it at once with a 500 naming it, which shows
  // the handler got as far as proxying.
  absl::StatusOr<std::string> url = std::string("https://127.0.0.1:1/x/tok");
  absl::StatusOr<v1::ExecSyncResponse> execSyncResult = v1::ExecSyncResponse();
  std::optional<v1::ExecRequest> execReq;
  std::optional<v1::AttachRequest> attachReq;
  std::optional<v1::PortForwardRequest> pfReq;
  std::string execSyncId;
  std::vector<std::string> execSyncCmd;
};

class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override { job(); }
};

class CapturingExchange : public HttpExchange {
 public:
  explicit CapturingExchange(HttpRequest r) : req_(std::move(r)) {}
  const HttpRequest& request() const override { return req_; }
  void respond(HttpResponse r) override { response = std::move(r); }
  void startStream(int, const std::string&, const std::map<std::string, std::string>&) override {}
  void write(std::string_view) override {}
  size_t buffered() const override { return 0; }
  void onDrained(std::function<void()>) override {}
  void end() override {}
  void upgrade(const std::map<std::string, std::string>&,
               std::function<void(std::unique_ptr<UpgradedConnection>)>) override {
    upgraded = true;
  }
  void onClosed(std::function<void()>) override {}
  bool closed() const override { return closedFlag; }

  std::optional<HttpResponse> response;
  bool upgraded = false;
  bool closedFlag = false;

 private:
  HttpRequest req_;
};

class StreamingHandlersTest : public ::testing::Test {
 protected:
  StreamingContext context() {
    StreamingContext ctx;
    ctx.loop = &loop_;
    ctx.pool = &pool_;
    ctx.runtime = &runtime_;
    ctx.resolveContainer =
        [this](const std::string& ns, const std::string& pod, const std::string& uid,
               const std::string& container) -> absl::StatusOr<ResolvedContainer> {
      resolved_ = {ns, pod, uid, container};
      if (pod != "web") return absl::NotFoundError("pod does not exist");
      if (container != "app")
        return absl::NotFoundError("container not found (\"" + container + "\")");
      return ResolvedContainer{"cid", "sid"};
    };
    ctx.resolveSandbox = [this](const std::string& ns, const std::string& pod,
                                const std::string& uid) -> absl::StatusOr<std::string> {
      resolved_ = {ns, pod, uid};
      if (pod != "web") return absl::NotFoundError("pod does not exist");
      return std::string("sid");
    };
    return ctx;
  }

  static HttpRequest request(const std::string& method, const std::string& path,
                             std::vector<std::pair<std::string, std::string>> query,
                             bool upgrade = true, bool websocket = true) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.queryAll = query;
    for (const auto& [k, v] : query) r.query.emplace(k, v);
    if (upgrade) {
      r.headers["connection"] = "Upgrade";
      r.headers["upgrade"] = websocket ? "websocket" : "SPDY/3.1";
    }
    return r;
  }

  // Runs the handler and the loop until it settles; the response.
  std::optional<HttpResponse> run(const AsyncHandler& h, HttpRequest req) {
    auto ex = std::make_shared<CapturingExchange>(std::move(req));
    h(ex);
    for (int i = 0; i < 10; ++i) loop_.runPending();
    lastExchange_ = ex;
    return ex->response;
  }

  core::SimEventLoop loop_;
  InlinePool pool_;
  StubRuntime runtime_;
  std::vector<std::string> resolved_;
  std::shared_ptr<CapturingExchange> lastExchange_;
};

TEST_F(StreamingHandlersTest, ExecPassesCommandAndStreamsToCri) {
  auto h = makeExecHandler(context());
  auto r = run(h, request("POST", "/exec/ns1/web/app",
                          {{"command", "sh"},
                           {"command", "-c"},
                           {"command", "echo hi"},
                           {"input", "1"},
                           {"output", "1"},
                           {"error", "1"},
                           {"tty", "1"}}));
  ASSERT_TRUE(runtime_.execReq.has_value());
  EXPECT_EQ(runtime_.execReq->container_id(), "cid");
  EXPECT_THAT(runtime_.execReq->cmd(), ElementsAre("sh", "-c", "echo hi"));
  EXPECT_TRUE(runtime_.execReq->stdin());
  EXPECT_TRUE(runtime_.execReq->stdout());
  EXPECT_FALSE(runtime_.execReq->stderr());  // dropped with a tty
  EXPECT_TRUE(runtime_.execReq->tty());
  EXPECT_THAT(resolved_, ElementsAre("ns1", "web", "", "app"));
  // The URL reached the proxy, which refused its scheme.
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_THAT(r->body, HasSubstr("streaming URL \"https://127.0.0.1:1/x/tok\""));
}

TEST_F(StreamingHandlersTest, ExecWithUidAndOnlyTrueAsOne) {
  auto h = makeExecHandler(context());
  run(h, request("GET", "/exec/ns1/web/u-1/app",
                 {{"command", "ls"}, {"input", "true"}, {"output", "1"}}));
  EXPECT_THAT(resolved_, ElementsAre("ns1", "web", "u-1", "app"));
  ASSERT_TRUE(runtime_.execReq.has_value());
  EXPECT_FALSE(runtime_.execReq->stdin());  // "true" is not "1", as in the kubelet
  EXPECT_TRUE(runtime_.execReq->stdout());
}

TEST_F(StreamingHandlersTest, ExecRefusals) {
  auto h = makeExecHandler(context());
  auto noStreams = run(h, request("POST", "/exec/ns1/web/app", {{"command", "ls"}}));
  ASSERT_TRUE(noStreams.has_value());
  EXPECT_EQ(noStreams->status, 400);
  EXPECT_EQ(noStreams->body, "you must specify at least 1 of stdin, stdout, stderr");

  auto noPod = run(h, request("POST", "/exec/ns1/db/app", {{"output", "1"}}));
  ASSERT_TRUE(noPod.has_value());
  EXPECT_EQ(noPod->status, 404);
  EXPECT_EQ(noPod->body, "pod does not exist");

  auto noContainer = run(h, request("POST", "/exec/ns1/web/x", {{"output", "1"}}));
  ASSERT_TRUE(noContainer.has_value());
  EXPECT_EQ(noContainer->status, 404);
  EXPECT_EQ(noContainer->body, "container not found (\"x\")");

  auto noUpgrade = run(h, request("POST", "/exec/ns1/web/app", {{"output", "1"}}, false));
  ASSERT_TRUE(noUpgrade.has_value());
  EXPECT_EQ(noUpgrade->status, 500);
  EXPECT_EQ(noUpgrade->body, "Upgrade request required\n");

  for (const char* path : {"/exec/ns1/web", "/exec/ns1/web/u/app/more", "/exec/ns1//app"}) {
    auto bad = run(h, request("POST", path, {{"output", "1"}}));
    ASSERT_TRUE(bad.has_value()) << path;
    EXPECT_EQ(bad->status, 404) << path;
  }
  auto put = run(h, request("PUT", "/exec/ns1/web/app", {{"output", "1"}}));
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(put->status, 405);
  EXPECT_FALSE(runtime_.execReq.has_value());
}

TEST_F(StreamingHandlersTest, CriErrorsMapToStatuses) {
  auto h = makeAttachHandler(context());
  runtime_.url = absl::NotFoundError("container \"cid\" not running");
  auto notFound = run(h, request("GET", "/attach/ns1/web/app", {{"output", "1"}}));
  ASSERT_TRUE(notFound.has_value());
  EXPECT_EQ(notFound->status, 404);
  EXPECT_EQ(notFound->body, "container \"cid\" not running");
  ASSERT_TRUE(runtime_.attachReq.has_value());
  EXPECT_EQ(runtime_.attachReq->container_id(), "cid");
  EXPECT_TRUE(runtime_.attachReq->stdout());

  runtime_.url =
      absl::ResourceExhaustedError("maximum number of in-flight requests exceeded [Retry-After:7]");
  auto busy = run(h, request("GET", "/attach/ns1/web/app", {{"output", "1"}}));
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 429);
  EXPECT_EQ(busy->headers["Retry-After"], "7");

  runtime_.url = absl::UnavailableError("containerd is down");
  auto down = run(h, request("GET", "/attach/ns1/web/app", {{"output", "1"}}));
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->status, 500);
}

TEST_F(StreamingHandlersTest, ClientGoneBeforeTheCriAnswerIsNotAnswered) {
  auto h = makeExecHandler(context());
  auto ex =
      std::make_shared<CapturingExchange>(request("POST", "/exec/ns1/web/app", {{"output", "1"}}));
  ex->closedFlag = true;
  h(ex);
  loop_.runPending();
  EXPECT_FALSE(ex->response.has_value());
  EXPECT_FALSE(ex->upgraded);
}

TEST_F(StreamingHandlersTest, PortForwardPorts) {
  auto h = makePortForwardHandler(context());
  run(h, request("GET", "/portForward/ns1/web", {{"port", "80,8080"}, {"port", "9090"}}));
  ASSERT_TRUE(runtime_.pfReq.has_value());
  EXPECT_EQ(runtime_.pfReq->pod_sandbox_id(), "sid");
  EXPECT_THAT(runtime_.pfReq->port(), ElementsAre(80, 8080, 9090));
  EXPECT_THAT(resolved_, ElementsAre("ns1", "web", ""));

  // SPDY clients name ports per stream: none in the query is fine.
  runtime_.pfReq.reset();
  run(h, request("POST", "/portForward/ns1/web/u-1", {}, true, false));
  ASSERT_TRUE(runtime_.pfReq.has_value());
  EXPECT_EQ(runtime_.pfReq->port_size(), 0);
  EXPECT_THAT(resolved_, ElementsAre("ns1", "web", "u-1"));

  struct Case {
    std::vector<std::pair<std::string, std::string>> query;
    std::string body;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "query parameter \"port\" is required"},
           {{{"port", ""}}, "query parameter \"port\" cannot be empty"},
           {{{"port", "http"}},
            "unable to parse \"http\" as a port: strconv.ParseUint: parsing \"http\": invalid "
            "syntax"},
           {{{"port", "80,70000"}},
            "unable to parse \"80,70000\" as a port: strconv.ParseUint: parsing \"70000\": value "
            "out of range"},
           {{{"port", "0"}}, "port \"0\" must be > 0"}}) {
    auto r = run(h, request("GET", "/portForward/ns1/web", c.query));
    ASSERT_TRUE(r.has_value()) << c.body;
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->body, c.body);
  }
  auto noPod = run(h, request("GET", "/portForward/ns1/db", {{"port", "80"}}));
  ASSERT_TRUE(noPod.has_value());
  EXPECT_EQ(noPod->status, 404);
}

TEST_F(StreamingHandlersTest, RunSplitsCmdAndReturnsOutput) {
  auto h = makeRunHandler(context());
  v1::ExecSyncResponse resp;
  resp.set_stdout("out\n");
  resp.set_stderr("err\n");
  runtime_.execSyncResult = resp;
  auto r = run(h, request("POST", "/run/ns1/web/app", {{"cmd", "ls -l /"}}, false));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "out\nerr\n");
  EXPECT_EQ(r->contentType, "application/json");
  EXPECT_EQ(runtime_.execSyncId, "cid");
  EXPECT_THAT(runtime_.execSyncCmd, ElementsAre("ls", "-l", "/"));

  resp.set_exit_code(2);
  runtime_.execSyncResult = resp;
  auto failed = run(h, request("POST", "/run/ns1/web/app", {{"cmd", "ls -l /"}}, false));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body, "command 'ls -l /' exited with 2: err\n");

  auto get = run(h, request("GET", "/run/ns1/web/app", {{"cmd", "ls"}}, false));
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 405);
  auto noPod = run(h, request("POST", "/run/ns1/db/app", {{"cmd", "ls"}}, false));
  ASSERT_TRUE(noPod.has_value());
  EXPECT_EQ(noPod->status, 404);
  EXPECT_EQ(noPod->body, "pod does not exist");
}

}  // namespace
}  // namespace agent::server

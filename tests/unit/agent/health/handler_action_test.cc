#include "agent/health/handler_action.h"

#include <gtest/gtest.h>

namespace agent::health {
namespace {

api::Container web() {
  api::Container c;
  c.name = "web";
  c.ports.push_back({"http", 0, 8080, "TCP", ""});
  return c;
}

api::Handler httpOn(api::IntOrString port, std::string host = "") {
  api::Handler h;
  api::HTTPGetAction a;
  a.port = port;
  a.path = "/healthz";
  a.host = std::move(host);
  a.httpHeaders.push_back({"X-Probe", "1"});
  h.httpGet = a;
  return h;
}

TEST(HandlerActionTest, NamedPortAndPodIP) {
  probes::Action a = handlerAction(httpOn({true, 0, "http"}), web(), "10.88.0.7");
  ASSERT_TRUE(a.httpGet) << a.error;
  EXPECT_TRUE(a.error.empty());
  EXPECT_EQ(a.httpGet->port, 8080);
  EXPECT_EQ(a.httpGet->host, "10.88.0.7");
  EXPECT_EQ(a.httpGet->scheme, "HTTP");
  EXPECT_EQ(a.httpGet->path, "/healthz");
  ASSERT_EQ(a.httpGet->headers.size(), 1u);
  EXPECT_EQ(a.httpGet->headers[0].first, "X-Probe");
}

TEST(HandlerActionTest, NumberGivenAsStringIsAPort) {
  probes::Action a = handlerAction(httpOn({true, 0, "9090"}), web(), "10.88.0.7");
  ASSERT_TRUE(a.httpGet) << a.error;
  EXPECT_EQ(a.httpGet->port, 9090);
}

TEST(HandlerActionTest, ExplicitHostWins) {
  probes::Action a = handlerAction(httpOn({false, 9000, ""}, "127.0.0.1"), web(), "10.88.0.7");
  ASSERT_TRUE(a.httpGet);
  EXPECT_EQ(a.httpGet->host, "127.0.0.1");
  EXPECT_EQ(a.httpGet->port, 9000);
}

TEST(HandlerActionTest, UnusableHandlersCarryTheReason) {
  struct Case {
    api::Handler handler;
    std::string podIP;
    std::string error;
  } cases[] = {
      {httpOn({true, 0, "metrics"}), "10.0.0.1", "port metrics not found"},
      {httpOn({false, 70000, ""}), "10.0.0.1", "invalid port number: 70000"},
      {httpOn({false, 0, ""}), "10.0.0.1", "invalid port number: 0"},
      {httpOn({false, 80, ""}), "", "the pod has no IP yet"},
      {api::Handler{}, "10.0.0.1", "missing probe handler"},
  };
  for (const auto& c : cases) {
    probes::Action a = handlerAction(c.handler, web(), c.podIP);
    EXPECT_EQ(a.error, c.error);
    EXPECT_FALSE(a.httpGet);
  }
}

TEST(HandlerActionTest, ExecTcpGrpcSleep) {
  api::Handler exec;
  exec.exec = api::ExecAction{{"cat", "/tmp/healthy"}};
  EXPECT_EQ(handlerAction(exec, web(), "").exec->command,
            (std::vector<std::string>{"cat", "/tmp/healthy"}));

  api::Handler tcp;
  tcp.tcpSocket = api::TCPSocketAction{{true, 0, "http"}, ""};
  auto t = handlerAction(tcp, web(), "10.0.0.2");
  ASSERT_TRUE(t.tcpSocket);
  EXPECT_EQ(t.tcpSocket->host, "10.0.0.2");
  EXPECT_EQ(t.tcpSocket->port, 8080);

  api::Handler grpc;
  grpc.grpc = api::GRPCAction{9090, std::string("liveness")};
  auto g = handlerAction(grpc, web(), "10.0.0.2");
  ASSERT_TRUE(g.grpc);
  EXPECT_EQ(g.grpc->port, 9090);
  EXPECT_EQ(g.grpc->service, "liveness");

  api::Handler sleep;
  sleep.sleep = api::SleepAction{5};
  EXPECT_EQ(handlerAction(sleep, web(), "").sleep->seconds, 5);
}

TEST(HandlerActionTest, ProbeDefaults) {
  api::Probe p;
  p.handler = httpOn({false, 80, ""});
  probes::ProbeSpec s = probeSpec(p, web(), "10.0.0.1");
  EXPECT_EQ(s.periodSeconds, 10);
  EXPECT_EQ(s.timeoutSeconds, 1);
  EXPECT_EQ(s.successThreshold, 1);
  EXPECT_EQ(s.failureThreshold, 3);
  EXPECT_EQ(s.initialDelaySeconds, 0);
  p.periodSeconds = 2;
  p.timeoutSeconds = 3;
  p.failureThreshold = 1;
  p.initialDelaySeconds = 4;
  s = probeSpec(p, web(), "10.0.0.1");
  EXPECT_EQ(s.periodSeconds, 2);
  EXPECT_EQ(s.timeoutSeconds, 3);
  EXPECT_EQ(s.failureThreshold, 1);
  EXPECT_EQ(s.initialDelaySeconds, 4);
}

}  // namespace
}  // namespace agent::health

// CurlApiClient against the fake API server over real TLS on a real SdEventLoop:
// unary requests with client-certificate and token kubeconfigs, TLS verification,
// watch streams and their cancellation, connection reuse, credential reload, an
// outage and recovery, and an Informer listing and watching end to end.
#include "agent/kubeapi/curl_api_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "agent/api/config_objects.h"
#include "agent/kubeapi/informer.h"
#include "core/sd_event_loop.h"
#include "tests/fakeapi/fake_api_server.h"
#include "tests/fakeapi/pki.h"

namespace agent::kubeapi {
namespace {

using cubelet::fakeapi::FakeApiServer;
using cubelet::fakeapi::FakeApiServerOptions;
using nlohmann::json;
using ::testing::HasSubstr;

class CurlApiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cubelet-curl-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    FakeApiServerOptions opts;
    opts.pkiDir = dir_ + "/pki";
    auto server = FakeApiServer::start(opts);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A client from a kubeconfig written by the fake server.
  std::unique_ptr<CurlApiClient> certClient(const std::string& user,
                                            const std::vector<std::string>& groups,
                                            CurlApiClientOptions opts = {}) {
    std::string path = dir_ + "/" + user + ".conf";
    EXPECT_TRUE(server_->writeCertKubeconfig(path, user, groups).ok());
    return clientFrom(path, opts);
  }
  std::unique_ptr<CurlApiClient> adminClient(CurlApiClientOptions opts = {}) {
    std::string path = dir_ + "/admin.conf";
    EXPECT_TRUE(server_->writeTokenKubeconfig(path, server_->adminToken()).ok());
    return clientFrom(path, opts);
  }
  std::unique_ptr<CurlApiClient> clientFrom(const std::string& path, CurlApiClientOptions opts) {
    auto kc = loadKubeconfig(path);
    EXPECT_TRUE(kc.ok()) << kc.status();
    if (!kc.ok()) return nullptr;
    auto c = CurlApiClient::create(*loop_, *kc, opts);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Runs the loop until `done()` holds (checked every few ms) or `timeout` passes.
  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = false;
    core::TimerPtr poll;
    poll = loop_->createTimer([&] {
      if (done()) {
        ok = true;
        loop_->exit();
      } else if (std::chrono::steady_clock::now() > deadline) {
        loop_->exit();
      } else {
        poll->enableTimer(core::Duration(2));
      }
    });
    poll->enableTimer(core::Duration(0));
    EXPECT_TRUE(loop_->run().ok());
    return ok;
  }

  Response sendAndWait(CurlApiClient& c, Request req) {
    std::optional<Response> got;
    c.send(std::move(req), [&](Response r) { got = std::move(r); });
    EXPECT_FALSE(got.has_value()) << "answered inside send()";
    EXPECT_TRUE(runUntil([&] { return got.has_value(); }));
    return got.value_or(Response{absl::DeadlineExceededError("test timeout"), 0, ""});
  }

  static Request get(const std::string& path) {
    Request r;
    r.path = path;
    return r;
  }
  static Request post(const std::string& path, const json& body) {
    Request r;
    r.method = "POST";
    r.path = path;
    r.body = body.dump();
    return r;
  }

  std::string dir_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<FakeApiServer> server_;
};

json node(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
}

TEST_F(CurlApiClientTest, ClientCertificateUnaryRequests) {
  auto c = certClient("system:node:n1", {"system:nodes"});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->identity(), "system:node:n1");

  Response missing = sendAndWait(*c, get("/api/v1/nodes/n1"));
  EXPECT_TRUE(missing.transport.ok()) << missing.transport;
  EXPECT_EQ(missing.code, 404);
  EXPECT_THAT(missing.describe(get("/api/v1/nodes/n1")), HasSubstr("404 NotFound"));

  Response created = sendAndWait(*c, post("/api/v1/nodes", node("n1")));
  ASSERT_TRUE(created.ok()) << created.describe(post("/api/v1/nodes", node("n1")));
  EXPECT_EQ(created.code, 201);
  EXPECT_EQ(json::parse(created.body)["metadata"]["name"], "n1");

  Response got = sendAndWait(*c, get("/api/v1/nodes/n1"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::parse(got.body)["metadata"]["name"], "n1");

  // Another node's object is refused by the Node authorizer.
  Response other = sendAndWait(*c, get("/api/v1/nodes/n2"));
  EXPECT_EQ(other.code, 403);

  auto reqs = server_->requests();
  ASSERT_GE(reqs.size(), 4u);
  for (const auto& r : reqs) EXPECT_EQ(r.user, "system:node:n1");
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].code, 201);
  EXPECT_TRUE(reqs[3].denied);

  // All of them went over one kept-alive connection.
  EXPECT_EQ(c->connectionsOpened(), 1);
  EXPECT_EQ(c->inFlight(), 0u);
}

TEST_F(CurlApiClientTest, TokenAuthAndMethodsWithBodies) {
  std::string token = server_->addToken("alice", {"system:masters"});
  std::string path = dir_ + "/token.conf";
  ASSERT_TRUE(server_->writeTokenKubeconfig(path, token).ok());
  auto c = clientFrom(path, {});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->identity(), "token");

  json cm = {{"metadata", {{"name", "cm"}, {"namespace", "default"}}}, {"data", {{"a", "1"}}}};
  ASSERT_TRUE(sendAndWait(*c, post("/api/v1/namespaces/default/configmaps", cm)).ok());

  Request patch;
  patch.method = "PATCH";
  patch.path = "/api/v1/namespaces/default/configmaps/cm";
  patch.contentType = kMergePatch;
  patch.body = R"({"data":{"b":"2"}})";
  Response patched = sendAndWait(*c, patch);
  ASSERT_TRUE(patched.ok()) << patched.describe(patch);
  EXPECT_EQ(json::parse(patched.body)["data"]["b"], "2");

  Request del;
  del.method = "DELETE";
  del.path = "/api/v1/namespaces/default/configmaps/cm";
  Response deleted = sendAndWait(*c, del);
  ASSERT_TRUE(deleted.ok()) << deleted.describe(del);
  EXPECT_EQ(sendAndWait(*c, get("/api/v1/namespaces/default/configmaps/cm")).code, 404);

  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].user, "alice");
  EXPECT_EQ(reqs[1].method, "PATCH");
  EXPECT_EQ(reqs[2].method, "DELETE");
}

TEST_F(CurlApiClientTest, TokenFileIsReread) {
  std::string alice = server_->addToken("alice", {"system:masters"});
  std::string bob = server_->addToken("bob", {"system:masters"});
  std::ofstream(dir_ + "/token") << alice << "\n";
  std::ofstream(dir_ + "/token.conf")
      << "clusters: [{name: c, cluster: {server: \"" << server_->url()
      << "\", certificate-authority: pki/ca.crt}}]\n"
      << "users: [{name: u, user: {tokenFile: token}}]\n"
      << "contexts: [{name: x, context: {cluster: c, user: u}}]\n";
  CurlApiClientOptions opts;
  opts.tokenFileReload = core::Duration(0);  // every request (a minute in production)
  auto c = clientFrom(dir_ + "/token.conf", opts);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(sendAndWait(*c, get("/api/v1/namespaces")).ok());
  std::ofstream(dir_ + "/token") << bob << "\n";
  EXPECT_TRUE(sendAndWait(*c, get("/api/v1/namespaces")).ok());
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].user, "alice");
  EXPECT_EQ(reqs[1].user, "bob");
}

TEST_F(CurlApiClientTest, WrongCaFailsVerification) {
  auto other = cubelet::fakeapi::Pki::create(dir_ + "/other-pki");
  ASSERT_TRUE(other.ok()) << other.status();
  std::string path = dir_ + "/n1.conf";
  ASSERT_TRUE(server_->writeCertKubeconfig(path, "system:node:n1", {"system:nodes"}).ok());
  auto kc = loadKubeconfig(path);
  ASSERT_TRUE(kc.ok());
  kc->caPem = (*other)->caCertPem();
  auto c = CurlApiClient::create(*loop_, *kc);
  ASSERT_TRUE(c.ok());
  Response r = sendAndWait(**c, get("/api/v1/nodes/n1"));
  EXPECT_FALSE(r.transport.ok());
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(std::string(r.transport.message()), HasSubstr("certificate"));
  EXPECT_TRUE(server_->requests().empty());
  EXPECT_FALSE(absl::IsUnavailable(r.transport)) << "a verification failure is not an outage";

  // tls-server-name: the certificate is checked against that name instead.
  kc->caPem = server_->caPem();
  kc->tlsServerName = "kubernetes.default";
  auto named = CurlApiClient::create(*loop_, *kc);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(sendAndWait(**named, get("/api/v1/nodes/n1")).code, 404);
  kc->tlsServerName = "not-the-server.example";
  auto misnamed = CurlApiClient::create(*loop_, *kc);
  ASSERT_TRUE(misnamed.ok());
  Response wrongName = sendAndWait(**misnamed, get("/api/v1/nodes/n1"));
  EXPECT_FALSE(wrongName.transport.ok());
  EXPECT_THAT(std::string(wrongName.transport.message()), HasSubstr("not-the-server.example"));

  // insecure-skip-tls-verify accepts any server certificate.
  kc->caPem = (*other)->caCertPem();
  kc->tlsServerName.clear();
  kc->insecureSkipTlsVerify = true;
  auto insecure = CurlApiClient::create(*loop_, *kc);
  ASSERT_TRUE(insecure.ok());
  EXPECT_EQ(sendAndWait(**insecure, get("/api/v1/nodes/n1")).code, 404);
}

TEST_F(CurlApiClientTest, WatchStreamDeliversLinesAndCancels) {
  auto c = adminClient();
  ASSERT_NE(c, nullptr);
  std::string rv = std::to_string(server_->currentResourceVersion());
  Request w = get("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=" + rv);
  std::vector<json> events;
  std::optional<Response> end;
  StreamPtr s = c->stream(
      w, [&](std::string_view line) { events.push_back(json::parse(line)); },
      [&](Response r) { end = std::move(r); });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(server_
                    ->create("/api/v1/namespaces/default/configmaps",
                             {{"metadata", {{"name", "cm" + std::to_string(i)}}}})
                    .ok());
  }
  ASSERT_TRUE(runUntil([&] { return events.size() >= 3; }));
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[2]["object"]["metadata"]["name"], "cm2");
  EXPECT_FALSE(end.has_value());

  // The server ending the watch ends the stream cleanly.
  server_->closeWatches();
  ASSERT_TRUE(runUntil([&] { return end.has_value(); }));
  EXPECT_TRUE(end->ok()) << end->describe(w);
  s.reset();

  // A cancelled stream never calls back.
  events.clear();
  end.reset();
  s = c->stream(
      w, [&](std::string_view line) { events.push_back(json::parse(line)); },
      [&](Response r) { end = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return c->connectionsOpened() >= 1 && events.size() >= 1; }));
  s.reset();
  EXPECT_EQ(c->inFlight(), 0u);
  ASSERT_TRUE(
      server_->create("/api/v1/namespaces/default/configmaps", {{"metadata", {{"name", "late"}}}})
          .ok());
  runUntil([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_FALSE(end.has_value());
  size_t seen = events.size();
  EXPECT_LE(seen, 3u);  // replayed history, nothing after the cancel
  for (const json& e : events) EXPECT_NE(e["object"]["metadata"]["name"], "late");
}

TEST_F(CurlApiClientTest, ReloadedCredentialsAreUsedByNewRequests) {
  auto c = certClient("system:node:n1", {"system:nodes"});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(sendAndWait(*c, get("/api/v1/nodes/n1")).code, 404);
  std::string path = dir_ + "/n2.conf";
  ASSERT_TRUE(server_->writeCertKubeconfig(path, "system:node:n2", {"system:nodes"}).ok());
  auto kc = loadKubeconfig(path);
  ASSERT_TRUE(kc.ok());
  ASSERT_TRUE(c->reloadCredentials(*kc).ok());
  EXPECT_EQ(c->identity(), "system:node:n2");
  EXPECT_EQ(sendAndWait(*c, get("/api/v1/nodes/n2")).code, 404);
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].user, "system:node:n1");
  EXPECT_EQ(reqs[1].user, "system:node:n2");
  EXPECT_EQ(c->connectionsOpened(), 2);
}

TEST_F(CurlApiClientTest, OutageGivesTransportErrorsThenRecovers) {
  auto c = adminClient();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(sendAndWait(*c, get("/api/v1/namespaces")).ok());
  std::optional<Response> end;
  StreamPtr s = c->stream(
      get("/api/v1/namespaces/default/configmaps?watch=true"), [](std::string_view) {},
      [&](Response r) { end = std::move(r); });
  runUntil([] { return false; }, std::chrono::milliseconds(100));

  server_->stop();
  ASSERT_TRUE(runUntil([&] { return end.has_value(); }));
  EXPECT_FALSE(end->ok());
  s.reset();
  Response down = sendAndWait(*c, get("/api/v1/namespaces"));
  EXPECT_FALSE(down.transport.ok());
  EXPECT_EQ(down.code, 0);
  EXPECT_EQ(absl::IsUnavailable(down.transport), true) << down.transport;

  ASSERT_TRUE(server_->resume().ok());
  Response up = sendAndWait(*c, get("/api/v1/namespaces"));
  EXPECT_TRUE(up.ok()) << up.describe(get("/api/v1/namespaces"));
}

TEST_F(CurlApiClientTest, RateLimitSpacesRequests) {
  CurlApiClientOptions opts;
  opts.qps = 20;
  opts.burst = 1;
  auto c = adminClient(opts);
  ASSERT_NE(c, nullptr);
  int done = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) c->send(get("/api/v1/namespaces"), [&](Response) { ++done; });
  ASSERT_TRUE(runUntil([&] { return done == 5; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
}

TEST_F(CurlApiClientTest, InformerListsAndWatchesEndToEnd) {
  auto c = adminClient();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        server_
            ->create("/api/v1/namespaces/ns1/configmaps",
                     {{"metadata", {{"name", "cm" + std::to_string(i)}}}, {"data", {{"v", "1"}}}})
            .ok());
  }
  std::vector<std::string> log;
  Informer<api::ConfigMap>::Handlers h;
  h.onAdd = [&](const auto& o) { log.push_back("add " + o->metadata.name); };
  h.onUpdate = [&](const auto&, const auto& o) {
    log.push_back("update " + o->metadata.name + " " + o->data.at("v"));
  };
  h.onDelete = [&](const auto& o) { log.push_back("delete " + o->metadata.name); };
  ReflectorConfig cfg;
  cfg.collectionPath = "/api/v1/namespaces/ns1/configmaps";
  cfg.pageSize = 2;
  Informer<api::ConfigMap> inf(*loop_, *c, cfg, api::decodeConfigMap, h);
  inf.start();
  ASSERT_TRUE(runUntil([&] { return inf.hasSynced() && inf.reflector().watching(); }));
  EXPECT_EQ(inf.size(), 3u);

  auto cm1 = server_->get("/api/v1/namespaces/ns1/configmaps/cm1");
  ASSERT_TRUE(cm1.ok());
  (*cm1)["data"]["v"] = "2";
  ASSERT_TRUE(server_->update("/api/v1/namespaces/ns1/configmaps/cm1", *cm1).ok());
  ASSERT_TRUE(server_->remove("/api/v1/namespaces/ns1/configmaps/cm2").ok());
  ASSERT_TRUE(runUntil([&] { return inf.size() == 2 && log.size() == 5; }));
  EXPECT_EQ(inf.get("ns1/cm1")->data.at("v"), "2");

  // Lost history: the re-watch gets 410 and the relist catches up.
  log.clear();
  server_->stop();
  ASSERT_TRUE(server_->remove("/api/v1/namespaces/ns1/configmaps/cm0").ok());
  server_->compactHistory();
  ASSERT_TRUE(server_->resume().ok());
  ASSERT_TRUE(runUntil([&] { return inf.size() == 1 && inf.reflector().watching(); },
                       std::chrono::seconds(20)));
  EXPECT_EQ(log, std::vector<std::string>{"delete cm0"});
  EXPECT_GE(inf.reflector().listCount(), 2u);
}

}  // namespace
}  // namespace agent::kubeapi

// The fake API server's proxy to the kubelet API (kubelet_proxy.h): pods/log,
// pods/exec|attach|portforward upgrades and nodes/proxy, against a stand-in "kubelet"
// (a TlsHttpServer with its own serving certificate that asks for client
// certificates) reached over real TLS sockets.
#include "tests/fakeapi/kubelet_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "tests/fakeapi/pki.h"
#include "tests/fakeapi/tls_http_server.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// What the stand-in kubelet saw of one request.
struct Seen {
  std::string method, target, body, peerCn;
  bool peerVerified = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }
  bool hasHeader(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return true;
    }
    return false;
  }
};

std::string commonName(X509* cert) {
  if (cert == nullptr) return "";
  char buf[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

SSL_CTX* serverContext(const CertKeyPem& cert, const std::string& clientCaPem) {
  auto ctx = makeServerContext(cert, clientCaPem);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

// Blocking TLS I/O on a hijacked connection (the stand-in kubelet's side).
bool writeAll(SSL* ssl, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    int n = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

// A raw TLS client of the fake API server, for upgrade requests.
class RawClient {
 public:
  explicit RawClient(int port) : ctx_(SSL_CTX_new(TLS_client_method())) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = connected_ && SSL_connect(ssl_) == 1;
  }
  ~RawClient() {
    SSL_free(ssl_);
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }
  bool write(const std::string& data) { return writeAll(ssl_, data); }
  // Reads until `needle` arrived (returns everything up to and including it) or
  // EOF/timeout (returns what came).
  std::string readUntil(const std::string& needle) {
    while (buf_.find(needle) == std::string::npos) {
      if (!fill()) {
        return std::exchange(buf_, std::string());
      }
    }
    size_t end = buf_.find(needle) + needle.size();
    std::string out = buf_.substr(0, end);
    buf_.erase(0, end);
    return out;
  }
  // True when the peer closed (EOF) within the read timeout, with no more data.
  bool closedByPeer() {
    while (buf_.empty()) {
      char tmp[4096];
      int n = SSL_read(ssl_, tmp, sizeof tmp);
      if (n > 0) {
        buf_.append(tmp, n);
        return false;
      }
      int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      // close_notify, or (OpenSSL 3) an EOF without one; a timeout is WANT_READ.
      return err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL;
    }
    return false;
  }
  void shutdownWrite() {
    SSL_shutdown(ssl_);
    ::shutdown(fd_, SHUT_WR);
  }

 private:
  bool fill() {
    char tmp[4096];
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    buf_.append(tmp, n);
    return true;
  }
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

class KubeletProxyTest : public FakeApiTest {
 protected:
  void SetUp() override {
    FakeApiTest::SetUp();
    char tmpl[] = "/tmp/kubelet-pki-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    kubeletPkiDir_ = tmpl;
    auto pki = Pki::create(kubeletPkiDir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    kubeletPki_ = *std::move(pki);
    auto serving = kubeletPki_->issueServerCert({"127.0.0.1"}, {"localhost"});
    ASSERT_TRUE(serving.ok()) << serving.status();
    SSL_CTX* ctx = serverContext(*serving, server_->caPem());
    auto kubelet = TlsHttpServer::start(
        "127.0.0.1", 0, ctx,
        [this](const HttpRequest& req, HttpResponder& resp) { serveKubelet(req, resp); });
    SSL_CTX_free(ctx);
    ASSERT_TRUE(kubelet.ok()) << kubelet.status();
    kubelet_ = *std::move(kubelet);
    ASSERT_TRUE(server_->create("/api/v1/nodes", node("n1", kubelet_->port())).ok());
    ASSERT_TRUE(server_->create(kPods, pod("p", "n1")).ok());
  }
  void TearDown() override {
    release();
    kubelet_->stop();
    kubeletPki_.reset();
    (void)core::removeAll(kubeletPkiDir_);
  }

  static json node(const std::string& name, int port) {
    return {{"metadata", {{"name", name}}},
            {"status",
             {{"addresses",
               {{{"type", "Hostname"}, {"address", "localhost"}},
                {{"type", "InternalIP"}, {"address", "127.0.0.1"}}}},
              {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", port}}}}}}}};
  }

  // The stand-in kubelet.
  void serveKubelet(const HttpRequest& req, HttpResponder& resp) {
    {
      std::lock_guard lock(mu_);
      seen_.push_back(Seen{req.method, req.target, req.body, commonName(req.peerCert),
                           req.peerVerified, req.headerList});
    }
    if (absl::StartsWith(req.path, "/containerLogs/default/bad/")) {
      resp.send(400, "text/plain", "container \"c\" in pod \"bad\" is waiting to start");
    } else if (absl::StartsWith(req.path, "/containerLogs/")) {
      // One line now, one when the test says so (follow).
      resp.startStream(200, "text/plain");
      resp.writeChunk("{\"line\":1}\n");
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
      lock.unlock();
      resp.writeChunk("{\"line\":2}\n");
      resp.endStream();
    } else if (absl::StartsWith(req.path, "/exec/") ||
               absl::StartsWith(req.path, "/portForward/")) {
      // 101, a greeting, then an echo of everything until EOF.
      HijackedConnection c = resp.hijack();
      std::string echo = c.buffered;
      if (!writeAll(c.ssl,
                    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
                    "SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\nhello") ||
          !writeAll(c.ssl, echo)) {
        return;
      }
      char tmp[4096];
      int n;
      while ((n = SSL_read(c.ssl, tmp, sizeof tmp)) > 0) {
        if (!writeAll(c.ssl, std::string(tmp, n))) break;
      }
      ERR_clear_error();
      std::lock_guard lock(mu_);
      echoEnded_ = true;
      cv_.notify_all();
    } else if (absl::StartsWith(req.path, "/attach/")) {
      resp.send(404, "text/plain", "pod does not exist");
    } else if (req.path == "/missing") {
      resp.send(404, "text/plain", "nope");
    } else {
      resp.send(200, "text/plain", "kubelet " + req.method + " " + req.target + " " + req.body);
    }
  }

  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool waitEchoEnded() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return echoEnded_; });
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::string upgradeRequest(const std::string& pathAndQuery, const std::string& extra = "") {
    return absl::StrCat("POST ", pathAndQuery, " HTTP/1.1\r\nHost: 127.0.0.1:", server_->port(),
                        "\r\nAuthorization: Bearer ", server_->adminToken(),
                        "\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                        "X-Stream-Protocol-Version: channel.k8s.io\r\n",
                        extra, "Content-Length: 0\r\n\r\n");
  }

  std::string kubeletPkiDir_;
  std::unique_ptr<Pki> kubeletPki_;
  std::unique_ptr<TlsHttpServer> kubelet_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  bool released_ = false;
  bool echoEnded_ = false;
};

constexpr char kPodP[] = "/api/v1/namespaces/default/pods/p";

TEST_F(KubeletProxyTest, LogsAreProxiedWithUpstreamOptionsAndStreamedAsTheyArrive) {
  WatchStream logs(*admin_, std::string(kPodP) +
                                "/log?follow=true&tailLines=5&timestamps=false&sinceSeconds=10"
                                "&limitBytes=100&previous=0");
  // The first line arrives while the kubelet still holds the second one back.
  auto line = logs.next();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ((*line)["line"], 1);
  EXPECT_FALSE(logs.waitEnded(std::chrono::milliseconds(200)));
  release();
  line = logs.next();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ((*line)["line"], 2);
  ASSERT_TRUE(logs.waitEnded());
  EXPECT_EQ(logs.code(), 200);

  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].method, "GET");
  // The single container is the default; options re-encoded (sorted, false ones dropped).
  EXPECT_EQ(s[0].target,
            "/containerLogs/default/p/c?follow=true&limitBytes=100&sinceSeconds=10&"
            "tailLines=5");
  // The API server's kubelet client certificate, chaining to the fake's CA.
  EXPECT_EQ(s[0].peerCn, "kube-apiserver-kubelet-client");
  EXPECT_TRUE(s[0].peerVerified);
  EXPECT_FALSE(s[0].hasHeader("authorization"));

  auto recs = server_->kubeletProxy().requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].user, "kubernetes-admin");
  EXPECT_EQ(recs[0].backend, "127.0.0.1:" + std::to_string(kubelet_->port()));
  EXPECT_EQ(recs[0].code, 200);

  // The client certificate the tests can trust on the agent's side.
  const CertKeyPem& cert = server_->kubeletProxy().clientCert();
  EXPECT_THAT(cert.certPem, HasSubstr("BEGIN CERTIFICATE"));
}

TEST_F(KubeletProxyTest, LogErrorsAreUpstreams) {
  // The kubelet's 400 text becomes a BadRequest status.
  ASSERT_TRUE(server_->create(kPods, pod("bad", "n1")).ok());
  auto r = admin_->get("/api/v1/namespaces/default/pods/bad/log");
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(r.json()["reason"], "BadRequest");
  EXPECT_EQ(r.json()["message"], "container \"c\" in pod \"bad\" is waiting to start");

  json two = pod("two", "n1");
  two["spec"]["initContainers"] = {{{"name", "init"}, {"image", "busybox"}}};
  two["spec"]["containers"].push_back({{"name", "d"}, {"image", "busybox"}});
  ASSERT_TRUE(server_->create(kPods, two).ok());
  r = admin_->get("/api/v1/namespaces/default/pods/two/log");
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(r.json()["message"],
            "a container name must be specified for pod two, choose one of: [init c d]");
  r = admin_->get("/api/v1/namespaces/default/pods/two/log?container=zz");
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(r.json()["message"], "container zz is not valid for pod two");

  r = admin_->get(std::string(kPodP) + "/log?tailLines=-1");
  EXPECT_EQ(r.code, 422);
  EXPECT_THAT(r.json()["message"].get<std::string>(),
              HasSubstr("tailLines: Invalid value: -1: must be greater than or equal to 0"));
  r = admin_->get(std::string(kPodP) + "/log?tailLines=x");
  EXPECT_EQ(r.code, 400);
  EXPECT_THAT(r.json()["message"].get<std::string>(), HasSubstr("\"tailLines\""));

  r = admin_->get("/api/v1/namespaces/default/pods/nope/log");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.json()["message"], "pods \"nope\" not found");

  // Unbound: no location, 204 No Content (upstream's StreamObject with no stream).
  ASSERT_TRUE(server_->create(kPods, pod("pending")).ok());
  r = admin_->get("/api/v1/namespaces/default/pods/pending/log");
  EXPECT_EQ(r.code, 204);
  EXPECT_EQ(r.body, "");
  // Only the "bad" request reached the kubelet.
  EXPECT_EQ(seen().size(), 1u);
}

TEST_F(KubeletProxyTest, ExecUpgradeIsProxiedWithBytesBothWays) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  // Bytes sent right behind the request head must reach the kubelet too.
  ASSERT_TRUE(c.write(upgradeRequest(std::string(kPodP) +
                                     "/exec?command=sh&command=-c&command=echo%20hi&stdin=true&"
                                     "stdout=true&stderr=false&tty=false&container=c") +
                      "early"));
  std::string head = c.readUntil("\r\n\r\n");
  EXPECT_THAT(head, HasSubstr("HTTP/1.1 101 Switching Protocols\r\n"));
  EXPECT_THAT(head, HasSubstr("X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"));
  EXPECT_EQ(c.readUntil("hello"), "hello");
  EXPECT_EQ(c.readUntil("early"), "early");
  ASSERT_TRUE(c.write("ping"));
  EXPECT_EQ(c.readUntil("ping"), "ping");
  std::string big(200000, 'x');
  big += "END";
  ASSERT_TRUE(c.write(big));
  EXPECT_EQ(c.readUntil("END"), big);

  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].method, "POST");
  EXPECT_EQ(s[0].target,
            "/exec/default/p/c?command=sh&command=-c&command=echo+hi&input=1&output=1");
  EXPECT_EQ(s[0].header("host"), "127.0.0.1:" + std::to_string(kubelet_->port()));
  EXPECT_EQ(s[0].header("upgrade"), "SPDY/3.1");
  EXPECT_FALSE(s[0].hasHeader("authorization"));
  std::vector<std::string> versions;
  for (const auto& [k, v] : s[0].headers) {
    if (absl::EqualsIgnoreCase(k, "x-stream-protocol-version")) versions.push_back(v);
  }
  EXPECT_THAT(versions, ElementsAre("v4.channel.k8s.io", "channel.k8s.io"));
  EXPECT_EQ(s[0].peerCn, "kube-apiserver-kubelet-client");

  // The client hangs up: the kubelet side ends too.
  c.shutdownWrite();
  EXPECT_TRUE(waitEchoEnded());
  EXPECT_TRUE(c.closedByPeer());
  auto recs = server_->kubeletProxy().requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].code, 101);
}

TEST_F(KubeletProxyTest, PortForwardAndAttachTargets) {
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.write(upgradeRequest(std::string(kPodP) + "/portforward?ports=8080&ports=9090")));
    EXPECT_THAT(c.readUntil("\r\n\r\n"), HasSubstr(" 101 "));
    EXPECT_EQ(c.readUntil("hello"), "hello");
  }
  EXPECT_TRUE(waitEchoEnded());
  // The kubelet refuses the attach: its answer reaches the client as it came.
  RawClient c(server_->port());
  ASSERT_TRUE(
      c.write(upgradeRequest(std::string(kPodP) + "/attach?stdin=1&stdout=1&stderr=1&tty=1")));
  std::string answer = c.readUntil("pod does not exist");
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 404 "));
  EXPECT_THAT(answer, HasSubstr("\r\n\r\npod does not exist"));
  EXPECT_TRUE(c.closedByPeer());

  auto s = seen();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].target, "/portForward/default/p?port=8080%2C9090");
  EXPECT_EQ(s[1].target, "/attach/default/p/c?error=1&input=1&output=1&tty=1");
  auto recs = server_->kubeletProxy().requests();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].code, 404);
}

TEST_F(KubeletProxyTest, UpgradeErrors) {
  // Not an upgrade: upstream's "Upgrade request required".
  auto r = admin_->request("POST", std::string(kPodP) + "/exec?command=ls&stdout=true");
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(r.json()["message"], "Upgrade request required");
  // Unbound pod.
  ASSERT_TRUE(server_->create(kPods, pod("pending")).ok());
  RawClient c(server_->port());
  ASSERT_TRUE(c.write(
      upgradeRequest("/api/v1/namespaces/default/pods/pending/exec?command=ls&stdout=true")));
  std::string answer = c.readUntil("\"Failure\"}");
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 400 "));
  EXPECT_THAT(answer, HasSubstr("pod pending does not have a host assigned"));
  // A node identity may not exec (the Node authorizer has no rule for it).
  auto node = nodeClient("n1");
  r = node->request("POST", std::string(kPodP) + "/exec?command=ls&stdout=true", "", "",
                    {"Connection: Upgrade", "Upgrade: SPDY/3.1"});
  EXPECT_EQ(r.code, 403);
  EXPECT_THAT(r.json()["message"].get<std::string>(),
              HasSubstr("cannot create resource \"pods/exec\" in API group \"\" in the namespace "
                        "\"default\""));
  EXPECT_TRUE(seen().empty());
}

TEST_F(KubeletProxyTest, NodeProxyMapsPathQueryAndBody) {
  auto r = admin_->get("/api/v1/nodes/n1/proxy/metrics//resource?a=1&b=x%20y");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "kubelet GET /metrics/resource?a=1&b=x%20y ");
  r = admin_->request("POST", "/api/v1/nodes/n1/proxy/run/default/p/c?cmd=ls", "payload",
                      "text/plain");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "kubelet POST /run/default/p/c?cmd=ls payload");
  r = admin_->get("/api/v1/nodes/n1/proxy/pods/");
  EXPECT_EQ(r.body, "kubelet GET /pods/ ");
  // Kubelet answers pass through, errors included.
  r = admin_->get("/api/v1/nodes/n1/proxy/missing");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.body, "nope");
  auto s = seen();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[1].header("content-type"), "text/plain");
  EXPECT_FALSE(s[1].hasHeader("authorization"));

  // No such node; a node without addresses.
  r = admin_->get("/api/v1/nodes/n9/proxy/metrics");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.json()["message"], "nodes \"n9\" not found");
  ASSERT_TRUE(server_->create("/api/v1/nodes", json{{"metadata", {{"name", "bare"}}}}).ok());
  r = admin_->get("/api/v1/nodes/bare/proxy/metrics");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.json()["message"], "no preferred addresses found; known addresses: []");
  // Not an admin: nodes/proxy is forbidden to a node.
  r = nodeClient("n1")->get("/api/v1/nodes/n1/proxy/metrics");
  EXPECT_EQ(r.code, 403);
  EXPECT_THAT(r.json()["message"].get<std::string>(),
              HasSubstr("cannot get resource \"nodes/proxy\" in API group \"\" at the cluster "
                        "scope"));
  EXPECT_EQ(seen().size(), 4u);
}

TEST_F(KubeletProxyTest, AddressOverrideDialFailureAndKubeletCertificateVerification) {
  KubeletProxy& proxy = server_->kubeletProxy();
  proxy.setNodeAddressOverride("n1", "127.0.0.1", 1);
  auto r = admin_->get("/api/v1/nodes/n1/proxy/metrics");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.json()["message"], "dial tcp 127.0.0.1:1: connect: connection refused");
  r = admin_->get(std::string(kPodP) + "/log");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.json()["message"],
            "Get \"https://127.0.0.1:1/containerLogs/default/p/c\": dial tcp 127.0.0.1:1: "
            "connect: connection refused");
  proxy.clearNodeAddressOverride("n1");

  // --kubelet-certificate-authority: the kubelet's CA passes, another one does not.
  ASSERT_TRUE(proxy.setKubeletCertificateAuthority(kubeletPki_->caCertPem()).ok());
  r = admin_->get("/api/v1/nodes/n1/proxy/healthz");
  EXPECT_EQ(r.code, 200);
  ASSERT_TRUE(proxy.setKubeletCertificateAuthority(server_->caPem()).ok());
  r = admin_->get("/api/v1/nodes/n1/proxy/healthz");
  EXPECT_EQ(r.code, 500);
  EXPECT_THAT(r.json()["message"].get<std::string>(), HasSubstr("failed to verify certificate"));
  EXPECT_FALSE(proxy.setKubeletCertificateAuthority("not a pem").ok());
  ASSERT_TRUE(proxy.setKubeletCertificateAuthority("").ok());
  EXPECT_EQ(admin_->get("/api/v1/nodes/n1/proxy/healthz").code, 200);
}

TEST_F(KubeletProxyTest, StopEndsAProxiedSession) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.write(upgradeRequest(std::string(kPodP) + "/exec?command=cat&stdin=1")));
  EXPECT_THAT(c.readUntil("hello"), HasSubstr(" 101 "));
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(waitEchoEnded());
  EXPECT_TRUE(c.closedByPeer());
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

// The HTTP/1.1 layer of the fake API server: Expect: 100-continue, keep-alive, chunked
// watch framing, discovery and health paths.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A bare TLS connection for checking the bytes on the wire.
class RawTls {
 public:
  RawTls(int port, const std::string& caFile) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, caFile.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = connected_ && SSL_connect(ssl_) == 1;
  }
  ~RawTls() {
    SSL_free(ssl_);
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }
  bool write(const std::string& s) {
    return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) > 0;
  }
  // Reads until `delim` is in the buffer; returns everything up to and including it.
  std::string readUntil(const std::string& delim) {
    while (buf_.find(delim) == std::string::npos) {
      char tmp[4096];
      int n = SSL_read(ssl_, tmp, sizeof tmp);
      if (n <= 0) return "";
      buf_.append(tmp, n);
    }
    size_t end = buf_.find(delim) + delim.size();
    std::string out = buf_.substr(0, end);
    buf_.erase(0, end);
    return out;
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_;
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

TEST_F(FakeApiTest, ExpectContinueIsAnsweredBeforeTheBody) {
  RawTls c(server_->port(), server_->caFile());
  ASSERT_TRUE(c.connected());
  const std::string body = pod("p1").dump();
  ASSERT_TRUE(
      c.write("POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"
              "Authorization: Bearer " +
              server_->adminToken() +
              "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
              "Content-Length: " +
              std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_EQ(c.readUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.write(body));
  std::string head = c.readUntil("\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 201 Created\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Type: application/json"));
  EXPECT_TRUE(server_->get(std::string(kPods) + "/p1").ok());
}

TEST_F(FakeApiTest, WatchEventsAreOneChunkEach) {
  RawTls c(server_->port(), server_->caFile());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(server_->create(kPods, pod("a")).ok());
  ASSERT_TRUE(server_->create(kPods, pod("b")).ok());
  ASSERT_TRUE(
      c.write("GET /api/v1/namespaces/default/pods?watch=1 HTTP/1.1\r\nHost: x\r\n"
              "Authorization: Bearer " +
              server_->adminToken() + "\r\n\r\n"));
  std::string head = c.readUntil("\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Transfer-Encoding: chunked"));
  for (const char* name : {"a", "b"}) {
    std::string size = c.readUntil("\r\n");
    std::string data = c.readUntil("\n\r\n");
    ASSERT_EQ(std::stoul(size, nullptr, 16), data.size() - 2);
    json ev = json::parse(data.substr(0, data.size() - 3));
    EXPECT_EQ(ev["type"], "ADDED");
    EXPECT_EQ(ev["object"]["metadata"]["name"], name);
  }
}

TEST_F(FakeApiTest, KeepAliveReusesTheConnection) {
  EXPECT_EQ(admin_->get(kPods).code, 200);
  EXPECT_EQ(admin_->lastNewConnections(), 1);
  EXPECT_EQ(admin_->post(kPods, pod("p1")).code, 201);
  EXPECT_EQ(admin_->get(std::string(kPods) + "/p1").code, 200);
  EXPECT_EQ(admin_->lastNewConnections(), 0);
}

TEST_F(FakeApiTest, DiscoveryAndHealth) {
  EXPECT_EQ(admin_->get("/healthz").body, "ok");
  EXPECT_EQ(admin_->get("/readyz").code, 200);
  EXPECT_EQ(admin_->get("/version").json()["major"], "1");
  EXPECT_EQ(admin_->get("/api").json()["versions"][0], "v1");
  json groups = admin_->get("/apis").json();
  std::vector<std::string> names;
  for (const auto& g : groups["groups"]) names.push_back(g["name"]);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("coordination.k8s.io", "certificates.k8s.io",
                                                     "node.k8s.io"));
  EXPECT_EQ(admin_->get("/apis/coordination.k8s.io/v1").json()["resources"][0]["name"], "leases");
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

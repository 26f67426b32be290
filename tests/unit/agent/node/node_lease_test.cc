#include "agent/node/node_lease.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::node {
namespace {

using namespace std::chrono_literals;
using agent::kubeapi::Request;
using agent::kubeapi::Response;
using nlohmann::json;

constexpr char kLeasePath[] =
    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-a";
constexpr char kLeasesPath[] = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

Response answer(long code, const json& body) {
  return Response{absl::OkStatus(), code, body.dump()};
}
Response status(long code, const std::string& reason) {
  return answer(code, {{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"status", "Failure"},
                       {"reason", reason},
                       {"code", code}});
}

// A Lease store with the API server's create/get/update semantics (resourceVersion
// checked on update), plus scripted failures.
struct LeaseServer {
  explicit LeaseServer(core::SimEventLoop& l) : loop(l) {}
  core::SimEventLoop& loop;
  std::optional<json> lease;
  int rv = 100;
  int failNext = 0;  // answer the next N requests with 500
  std::vector<core::MonoTime> times;

  Response handle(const Request& r) {
    times.push_back(loop.monotonicNow());
    if (failNext > 0) {
      --failNext;
      return status(500, "InternalError");
    }
    json body = r.body.empty() ? json() : json::parse(r.body);
    if (r.method == "GET" && r.path == kLeasePath) {
      return lease ? answer(200, *lease) : status(404, "NotFound");
    }
    if (r.method == "POST" && r.path == kLeasesPath) {
      if (lease) return status(409, "AlreadyExists");
      body["metadata"]["uid"] = "lease-uid";
      body["metadata"]["resourceVersion"] = std::to_string(++rv);
      lease = body;
      return answer(201, *lease);
    }
    if (r.method == "PUT" && r.path == kLeasePath) {
      if (!lease) return status(404, "NotFound");
      if (body["metadata"].value("resourceVersion", "") !=
          (*lease)["metadata"]["resourceVersion"]) {
        return status(409, "Conflict");
      }
      body["metadata"]["resourceVersion"] = std::to_string(++rv);
      lease = body;
      return answer(200, *lease);
    }
    return status(405, "MethodNotAllowed");
  }
  // Someone else writes the lease.
  void touch() { (*lease)["metadata"]["resourceVersion"] = std::to_string(++rv); }
};

class NodeLeaseTest : public ::testing::Test {
 protected:
  NodeLeaseTest() : api_(loop_) {
    api_.setHandler([this](const Request& r) { return server_.handle(r); });
  }
  std::unique_ptr<NodeLease> make() {
    NodeLeaseOptions o;
    o.nodeName = "node-a";
    o.random = [] { return 0.0; };
    return std::make_unique<NodeLease>(loop_, api_, o);
  }
  void runFor(core::Duration d) {
    loop_.runPending();
    for (core::Duration t{0}; t < d; t += 10ms) {
      loop_.advance(10ms);
      loop_.runPending();
    }
  }
  json body(size_t i) { return json::parse(api_.requests().at(i).body); }

  core::SimEventLoop loop_;
  cubelet::testing::FakeApiClient api_;
  LeaseServer server_{loop_};
};

TEST(MicroTime, Format) {
  EXPECT_EQ(formatMicroTime(core::WallTime(std::chrono::seconds(1704067200))),
            "2024-01-01T00:00:00.000000Z");
  EXPECT_EQ(formatMicroTime(core::WallTime(std::chrono::microseconds(1704067200123456))),
            "2024-01-01T00:00:00.123456Z");
}

TEST_F(NodeLeaseTest, CreatesWhenMissing) {
  auto lease = make();
  lease->start();
  runFor(1s);
  ASSERT_EQ(api_.requests().size(), 2u);
  EXPECT_EQ(api_.requests()[0].method, "GET");
  EXPECT_EQ(api_.requests()[0].path, kLeasePath);
  EXPECT_EQ(api_.requests()[1].method, "POST");
  EXPECT_EQ(api_.requests()[1].path, kLeasesPath);
  EXPECT_EQ(api_.requests()[1].contentType, "application/json");
  EXPECT_EQ(body(1), json::parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
      "metadata":{"name":"node-a","namespace":"kube-node-lease"},
      "spec":{"holderIdentity":"node-a","leaseDurationSeconds":40,
              "renewTime":"2024-01-01T00:00:00.000000Z"}})"));
  ASSERT_TRUE(lease->latest().has_value());
  EXPECT_EQ(lease->latest()->metadata.resourceVersion, "101");
}

TEST_F(NodeLeaseTest, RenewsEveryTenSecondsWithOnePutAndNoGet) {
  auto lease = make();
  lease->start();
  runFor(10min);
  EXPECT_EQ(api_.count("GET", kLeasePath), 1u);
  EXPECT_EQ(api_.count("POST", kLeasesPath), 1u);
  size_t puts = api_.count("PUT", kLeasePath);
  EXPECT_GE(puts, 59u);
  EXPECT_LE(puts, 60u);
  // Each renewal 10 s after the previous one, each PUT carrying the resourceVersion the
  // previous answer had.
  for (size_t i = 2; i < server_.times.size(); ++i) {
    EXPECT_EQ(server_.times[i] - server_.times[i - 1], 10s) << i;
  }
  for (size_t i = 2; i < api_.requests().size(); ++i) {
    json b = body(i);
    EXPECT_EQ(b["metadata"]["resourceVersion"], std::to_string(100 + i - 1)) << i;
    EXPECT_EQ(b["metadata"]["uid"], "lease-uid");
    EXPECT_EQ(b["spec"]["holderIdentity"], "node-a");
    EXPECT_EQ(b["spec"]["leaseDurationSeconds"], 40);
  }
  EXPECT_EQ(body(2)["spec"]["renewTime"], "2024-01-01T00:00:10.000000Z");
  // At most 8 requests in any minute.
  for (auto start = server_.times.front(); start < server_.times.back(); start += 1s) {
    size_t n = std::count_if(server_.times.begin(), server_.times.end(),
                             [&](core::MonoTime t) { return t >= start && t < start + 60s; });
    EXPECT_LE(n, 8u);
  }
}

TEST_F(NodeLeaseTest, JitterStretchesTheInterval) {
  NodeLeaseOptions o;
  o.nodeName = "node-a";
  o.random = [] { return 0.5; };
  NodeLease lease(loop_, api_, o);
  lease.start();
  runFor(31s);
  ASSERT_GE(server_.times.size(), 4u);
  EXPECT_EQ(server_.times[3] - server_.times[2], 10200ms);
}

TEST_F(NodeLeaseTest, OwnerReferenceAddedOnceTheNodeUidIsKnown) {
  auto lease = make();
  lease->start();
  runFor(15s);
  EXPECT_FALSE(body(api_.requests().size() - 1)["metadata"].contains("ownerReferences"));
  lease->setNodeUid("node-uid-1");
  runFor(10s);
  json last = body(api_.requests().size() - 1);
  EXPECT_EQ(api_.requests().back().method, "PUT");
  EXPECT_EQ(last["metadata"]["ownerReferences"], json::parse(R"([{"apiVersion":"v1",
      "kind":"Node","name":"node-a","uid":"node-uid-1"}])"));
  EXPECT_EQ((*server_.lease)["metadata"]["ownerReferences"][0]["uid"], "node-uid-1");
  // A lease created after the uid is known carries it from the start.
  server_.lease.reset();
  api_.clearRequests();
  auto second = make();
  second->setNodeUid("node-uid-1");
  second->start();
  runFor(1s);
  ASSERT_EQ(api_.requests().size(), 2u);
  EXPECT_EQ(body(1)["metadata"]["ownerReferences"][0]["kind"], "Node");
}

TEST_F(NodeLeaseTest, ExistingLeaseIsAdoptedAndRenewed) {
  server_.lease = json::parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
      "metadata":{"name":"node-a","namespace":"kube-node-lease","uid":"old","resourceVersion":"7",
        "labels":{"keep":"me"}},
      "spec":{"holderIdentity":"node-a","leaseDurationSeconds":40,
        "renewTime":"2023-12-31T00:00:00.000000Z","leaseTransitions":2}})");
  auto lease = make();
  lease->start();
  runFor(1s);
  ASSERT_EQ(api_.requests().size(), 2u);
  EXPECT_EQ(api_.requests()[1].method, "PUT");
  json b = body(1);
  EXPECT_EQ(b["metadata"]["resourceVersion"], "7");
  EXPECT_EQ(b["metadata"]["labels"]["keep"], "me");
  EXPECT_EQ(b["spec"]["leaseTransitions"], 2);
  EXPECT_EQ(b["spec"]["renewTime"], "2024-01-01T00:00:00.000000Z");
}

TEST_F(NodeLeaseTest, ConflictOnRenewGetsAndRetries) {
  auto lease = make();
  lease->start();
  runFor(5s);
  server_.touch();  // someone else updated it: our resourceVersion is stale
  api_.clearRequests();
  runFor(10s);
  ASSERT_EQ(api_.requests().size(), 3u);
  EXPECT_EQ(api_.requests()[0].method, "PUT");
  EXPECT_EQ(api_.requests()[1].method, "GET");
  EXPECT_EQ(api_.requests()[2].method, "PUT");
  EXPECT_EQ(body(0)["metadata"]["resourceVersion"], "101");
  EXPECT_EQ(body(2)["metadata"]["resourceVersion"], "102");  // what the GET returned
  EXPECT_EQ(api_.count("PUT", kLeasePath), 2u);
  // Back to one PUT per renewal.
  api_.clearRequests();
  runFor(10s);
  ASSERT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(api_.requests()[0].method, "PUT");
}

TEST_F(NodeLeaseTest, DeletedLeaseIsRecreated) {
  auto lease = make();
  lease->start();
  runFor(5s);
  server_.lease.reset();
  api_.clearRequests();
  runFor(10s);
  ASSERT_EQ(api_.requests().size(), 2u);
  EXPECT_EQ(api_.requests()[0].method, "PUT");
  EXPECT_EQ(api_.requests()[1].method, "POST");
  EXPECT_FALSE(body(1)["metadata"].contains("resourceVersion"));
  EXPECT_TRUE(server_.lease.has_value());
}

TEST_F(NodeLeaseTest, ErrorsBackOffFrom200msTo7s) {
  auto lease = make();
  server_.failNext = 8;
  lease->start();
  runFor(40s);
  // GET fails 8 times: retries after 200, 400, 800, 1600, 3200, 6400, 7000, 7000 ms.
  ASSERT_GE(server_.times.size(), 10u);
  std::vector<core::Duration> gaps;
  for (size_t i = 1; i <= 8; ++i) {
    gaps.push_back(
        std::chrono::duration_cast<core::Duration>(server_.times[i] - server_.times[i - 1]));
  }
  EXPECT_EQ(gaps, (std::vector<core::Duration>{200ms, 400ms, 800ms, 1600ms, 3200ms, 6400ms, 7000ms,
                                               7000ms}));
  // Then it works: GET 404 -> POST, and the backoff is forgotten.
  EXPECT_EQ(api_.requests()[8].method, "GET");
  EXPECT_EQ(api_.requests()[9].method, "POST");
  server_.failNext = 1;
  size_t before = server_.times.size();
  runFor(11s);
  ASSERT_GE(server_.times.size(), before + 2);
  EXPECT_EQ(server_.times[before + 1] - server_.times[before], 200ms);
}

TEST_F(NodeLeaseTest, NothingRunsAfterDestruction) {
  auto lease = make();
  lease->start();
  lease.reset();
  runFor(30s);
  EXPECT_EQ(api_.requests().size(), 1u);
}

}  // namespace
}  // namespace agent::node

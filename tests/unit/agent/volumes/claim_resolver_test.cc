#include "agent/volumes/claim_resolver.h"

#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/api/storage_objects.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::volumes {
namespace {

using namespace std::chrono_literals;
using agent::kubeapi::Request;
using agent::kubeapi::Response;
using nlohmann::json;
using State = ClaimLookup::State;

constexpr char kClaimPath[] = "/api/v1/namespaces/ns1/persistentvolumeclaims/data";
constexpr char kVolumePath[] = "/api/v1/persistentvolumes/pv-1";

json boundClaim() {
  return {{"kind", "PersistentVolumeClaim"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", "data"}, {"namespace", "ns1"}, {"uid", "claim-uid"}}},
          {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"volumeName", "pv-1"}}},
          {"status", {{"phase", "Bound"}}}};
}

json volume(const json& source) {
  json pv = {{"kind", "PersistentVolume"},
             {"apiVersion", "v1"},
             {"metadata", {{"name", "pv-1"}, {"uid", "pv-uid"}}},
             {"spec",
              {{"accessModes", {"ReadWriteOnce"}},
               {"capacity", {{"storage", "1Gi"}}},
               {"claimRef",
                {{"kind", "PersistentVolumeClaim"},
                 {"namespace", "ns1"},
                 {"name", "data"},
                 {"uid", "claim-uid"}}}}},
             {"status", {{"phase", "Bound"}}}};
  pv["spec"].update(source);
  return pv;
}

json localVolume() { return volume({{"local", {{"path", "/mnt/disks/ssd1"}}}}); }

Response notFound(const std::string& resource, const std::string& name) {
  json j = {{"kind", "Status"},     {"apiVersion", "v1"},
            {"status", "Failure"},  {"message", resource + " \"" + name + "\" not found"},
            {"reason", "NotFound"}, {"code", 404}};
  return Response{absl::OkStatus(), 404, j.dump()};
}

class ClaimResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.setHandler([this](const Request& r) -> Response {
      auto it = objects.find(r.path);
      if (it == objects.end()) {
        return r.path == kClaimPath ? notFound("persistentvolumeclaims", "data")
                                    : notFound("persistentvolumes", "pv-1");
      }
      return Response{absl::OkStatus(), 200, it->second.dump()};
    });
  }

  ClaimLookup resolve() {
    claims.get("ns1", "data", "uid-1");
    loop.runPending();
    return claims.get("ns1", "data", "uid-1");
  }

  core::SimEventLoop loop;
  cubelet::testing::FakeApiClient api{loop};
  std::map<std::string, json> objects;  // by path
  std::vector<std::string> changes;
  ClaimResolver claims{loop, api, [this](const std::string& uid) { changes.push_back(uid); },
                       [] { return 0.0; }};
};

TEST_F(ClaimResolverTest, BoundLocalVolume) {
  objects[kClaimPath] = boundClaim();
  objects[kVolumePath] = localVolume();
  EXPECT_EQ(claims.get("ns1", "data", "uid-1").state, State::kPending);
  loop.runPending();
  ClaimLookup got = claims.get("ns1", "data", "uid-1");
  EXPECT_EQ(got.state, State::kReady) << got.error;
  EXPECT_EQ(got.pvName, "pv-1");
  EXPECT_EQ(got.path, "/mnt/disks/ssd1");
  EXPECT_TRUE(got.local);
  EXPECT_EQ(got.hostPathType, "");
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(changes, std::vector<std::string>{"uid-1"});
  ASSERT_EQ(api.requests().size(), 2u);
  EXPECT_EQ(api.requests()[0].method, "GET");
  EXPECT_EQ(api.requests()[0].path, kClaimPath);
  EXPECT_EQ(api.requests()[1].path, kVolumePath);

  // Kept for the pod's life: no re-fetch.
  loop.advance(std::chrono::hours(1));
  loop.runPending();
  EXPECT_EQ(claims.get("ns1", "data", "uid-1").state, State::kReady);
  EXPECT_EQ(api.requests().size(), 2u);
}

TEST_F(ClaimResolverTest, BoundHostPathVolume) {
  objects[kClaimPath] = boundClaim();
  objects[kVolumePath] =
      volume({{"hostPath", {{"path", "/srv/data"}, {"type", "DirectoryOrCreate"}}}});
  ClaimLookup got = resolve();
  EXPECT_EQ(got.state, State::kReady) << got.error;
  EXPECT_EQ(got.path, "/srv/data");
  EXPECT_FALSE(got.local);
  EXPECT_EQ(got.hostPathType, "DirectoryOrCreate");
}

struct FailureCase {
  std::string name;
  json claim;
  json pv;  // null: no PV object
  std::string error;
  size_t requests;  // GETs made by the first attempt
};

TEST_F(ClaimResolverTest, FailuresUseTheKubeletsMessages) {
  json pending = boundClaim();
  pending["status"]["phase"] = "Pending";
  pending["spec"].erase("volumeName");
  json noVolumeName = boundClaim();
  noVolumeName["spec"].erase("volumeName");
  json deleting = boundClaim();
  deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  json otherUid = localVolume();
  otherUid["spec"]["claimRef"]["uid"] = "someone-else";
  json unbound = localVolume();
  unbound["spec"].erase("claimRef");

  const std::string prefix = "error processing PVC ns1/data: ";
  std::vector<FailureCase> cases = {
      {"pending", pending, nullptr, prefix + "PVC is not bound", 1},
      {"no volumeName", noVolumeName, nullptr, prefix + "PVC has empty pvc.Spec.VolumeName", 1},
      {"being deleted", deleting, localVolume(), prefix + "PVC is being deleted", 1},
      {"missing claim", nullptr, nullptr,
       prefix + "failed to fetch PVC from API server: persistentvolumeclaims \"data\" not found",
       1},
      {"missing volume", boundClaim(), nullptr,
       prefix + "failed to fetch PV pv-1 from API server: persistentvolumes \"pv-1\" not found", 2},
      {"nfs", boundClaim(), volume({{"nfs", {{"server", "10.0.0.1"}, {"path", "/exports"}}}}),
       prefix + "PersistentVolume pv-1 uses nfs: cubelet supports only local and hostPath "
                "PersistentVolumes",
       2},
      {"claimRef uid", boundClaim(), otherUid,
       prefix + "found PV object pv-1 but its pv.Spec.ClaimRef.UID someone-else does not point to "
                "claim.UID claim-uid",
       2},
      {"no claimRef", boundClaim(), unbound,
       prefix +
           "found PV object pv-1 but it has a nil pv.Spec.ClaimRef indicating it is not yet bound "
           "to the claim",
       2},
  };
  for (const FailureCase& c : cases) {
    SCOPED_TRACE(c.name);
    core::SimEventLoop l;
    cubelet::testing::FakeApiClient client(l);
    client.setHandler([&](const Request& r) -> Response {
      if (r.path == kClaimPath) {
        return c.claim.is_null() ? notFound("persistentvolumeclaims", "data")
                                 : Response{absl::OkStatus(), 200, c.claim.dump()};
      }
      return c.pv.is_null() ? notFound("persistentvolumes", "pv-1")
                            : Response{absl::OkStatus(), 200, c.pv.dump()};
    });
    int changed = 0;
    ClaimResolver r(
        l, client, [&](const std::string&) { ++changed; }, [] { return 0.0; });
    r.get("ns1", "data", "uid-1");
    l.runPending();
    ClaimLookup got = r.get("ns1", "data", "uid-1");
    EXPECT_EQ(got.state, State::kFailed);
    EXPECT_EQ(got.error, c.error);
    EXPECT_EQ(changed, 1);
    EXPECT_EQ(client.requests().size(), c.requests);
    // Failed claims are re-fetched with backoff; the same failure is not news.
    l.advance(1s);
    l.runPending();
    EXPECT_EQ(client.requests().size(), 2 * c.requests);
    EXPECT_EQ(changed, 1);
  }
}

TEST_F(ClaimResolverTest, RetriesWithBackoffUntilBound) {
  json pending = boundClaim();
  pending["status"]["phase"] = "Pending";
  objects[kClaimPath] = pending;
  EXPECT_EQ(resolve().state, State::kFailed);
  EXPECT_EQ(changes.size(), 1u);

  loop.advance(1s);  // retry 1: still pending
  loop.runPending();
  EXPECT_EQ(api.count("GET", kClaimPath), 2u);
  loop.advance(1s);  // the next retry is 2 s after the last
  loop.runPending();
  EXPECT_EQ(api.count("GET", kClaimPath), 2u);

  objects[kClaimPath] = boundClaim();
  objects[kVolumePath] = localVolume();
  loop.advance(1s);
  loop.runPending();
  EXPECT_EQ(api.count("GET", kClaimPath), 3u);
  ClaimLookup got = claims.get("ns1", "data", "uid-1");
  EXPECT_EQ(got.state, State::kReady) << got.error;
  EXPECT_EQ(got.path, "/mnt/disks/ssd1");
  EXPECT_EQ(changes, (std::vector<std::string>{"uid-1", "uid-1"}));
  EXPECT_EQ(loop.armedTimerCount(), 0u);
}

TEST_F(ClaimResolverTest, ForgetPodStopsRetries) {
  resolve();  // 404
  EXPECT_EQ(claims.size(), 1u);
  EXPECT_EQ(loop.armedTimerCount(), 1u);
  claims.forgetPod("uid-1");
  EXPECT_EQ(claims.size(), 0u);
  EXPECT_EQ(loop.armedTimerCount(), 0u);

  // Forgotten mid-fetch: the answers are dropped.
  objects[kClaimPath] = boundClaim();
  objects[kVolumePath] = localVolume();
  changes.clear();
  claims.get("ns1", "data", "uid-2");
  claims.forgetPod("uid-2");
  loop.runPending();
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(api.count("GET", kVolumePath), 0u);
}

TEST(StorageObjectsTest, DecodesClaim) {
  json j = boundClaim();
  j["spec"]["volumeMode"] = "Filesystem";
  auto pvc = api::decodePersistentVolumeClaim(j);
  ASSERT_TRUE(pvc.ok()) << pvc.status();
  EXPECT_EQ(pvc->metadata.name, "data");
  EXPECT_EQ(pvc->metadata.uid, "claim-uid");
  EXPECT_EQ(pvc->volumeName, "pv-1");
  EXPECT_EQ(pvc->phase, "Bound");
  EXPECT_EQ(pvc->accessModes, std::vector<std::string>{"ReadWriteOnce"});
  EXPECT_EQ(pvc->volumeMode, "Filesystem");
}

TEST(StorageObjectsTest, DecodesVolumeSources) {
  auto local = api::decodePersistentVolume(localVolume());
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_TRUE(local->local);
  EXPECT_EQ(local->local->path, "/mnt/disks/ssd1");
  EXPECT_FALSE(local->hostPath);
  EXPECT_TRUE(local->otherSources.empty());
  ASSERT_TRUE(local->claimRef);
  EXPECT_EQ(local->claimRef->namespace_, "ns1");
  EXPECT_EQ(local->claimRef->name, "data");
  EXPECT_EQ(local->claimRef->uid, "claim-uid");

  auto csi = api::decodePersistentVolume(volume({{"csi", {{"driver", "ebs.csi.aws.com"}}}}));
  ASSERT_TRUE(csi.ok()) << csi.status();
  EXPECT_EQ(csi->otherSources, std::vector<std::string>{"csi"});
  EXPECT_FALSE(csi->local);
}

TEST(StorageObjectsTest, ErrorsNameTheField) {
  auto wrongKind = api::decodePersistentVolume(boundClaim());
  EXPECT_EQ(wrongKind.status().message(),
            "kind: Unsupported value: \"PersistentVolumeClaim\": expected \"PersistentVolume\"");
  auto badPath = api::decodePersistentVolume(volume({{"local", {{"path", 3}}}}));
  EXPECT_EQ(badPath.status().message(), "spec.local.path: expected string, got number 3");
  auto badSource = api::decodePersistentVolume(volume({{"nfs", "x"}}));
  EXPECT_FALSE(badSource.ok());
  EXPECT_FALSE(api::decodePersistentVolumeClaim(json::array()).ok());
}

}  // namespace
}  // namespace agent::volumes

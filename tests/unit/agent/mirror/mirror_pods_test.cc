#include "agent/mirror/mirror_pods.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::mirror {
namespace {

using cubelet::testing::FakeApiClient;
using kubeapi::Request;
using kubeapi::Response;
using nlohmann::json;

constexpr char kManifest[] =
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},)"
    R"("spec":{"containers":[{"name":"web","image":"busybox"}]}})";
constexpr char kPodsPath[] = "/api/v1/namespaces/default/pods";
constexpr char kPodPath[] = "/api/v1/namespaces/default/pods/web-node-1";

Response answer(long code, json body = json::object()) {
  Response r;
  r.code = code;
  r.body = body.dump();
  return r;
}

Response statusAnswer(long code, const std::string& reason) {
  return answer(code, {{"kind", "Status"}, {"status", "Failure"}, {"reason", reason}});
}

StaticPodEntry staticPod(const std::string& hash) {
  auto pod = std::make_shared<api::Pod>();
  pod->metadata.name = "web-node-1";
  pod->metadata.namespace_ = "default";
  pod->metadata.uid = hash;
  pod->metadata.annotations = {{"kubernetes.io/config.hash", hash},
                               {"kubernetes.io/config.source", "file"},
                               {"kubernetes.io/config.seen", "2024-01-01T00:00:00Z"}};
  pod->spec.nodeName = "node-1";
  return StaticPodEntry{pod, std::make_shared<const std::string>(kManifest)};
}

MirrorPodInfo mirrorInfo(const std::string& uid, const std::string& hash,
                         const std::string& name = "web-node-1") {
  MirrorPodInfo m;
  m.namespace_ = "default";
  m.name = name;
  m.uid = uid;
  m.annotations = {{"kubernetes.io/config.mirror", hash}, {"kubernetes.io/config.hash", hash}};
  return m;
}

class MirrorPodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.setHandler([this](const Request& req) {
      if (handler_) return handler_(req);
      return defaultAnswer(req);
    });
    MirrorOptions opts;
    opts.nodeName = "node-1";
    opts.random = [] { return 0.0; };
    mgr_ = std::make_unique<MirrorPodManager>(loop_, api_, opts);
    mgr_->setOnMirrorChanged(
        [this](const std::string& ns, const std::string& name, const std::string& uid) {
          changes_.push_back(ns + "/" + name + "=" + uid);
        });
  }

  // The API server: creates get a fresh uid, deletes succeed.
  Response defaultAnswer(const Request& req) {
    if (req.method == "POST") {
      json pod = json::parse(req.body);
      pod["metadata"]["uid"] = "mirror-" + std::to_string(++created_);
      return answer(201, pod);
    }
    if (req.method == "DELETE") return answer(200, {{"kind", "Pod"}});
    return statusAnswer(404, "NotFound");
  }

  // The usual start: static pods known, an empty informer, then registration.
  void startWith(const std::string& hash) {
    mgr_->setStaticPods({staticPod(hash)});
    mgr_->setMirrorPods({});
    mgr_->setNodeUid("node-uid-1");
    loop_.runPending();
  }

  const Request& request(size_t i) { return api_.requests().at(i); }
  std::vector<std::string> methods() {
    std::vector<std::string> out;
    for (const Request& r : api_.requests()) out.push_back(r.method);
    return out;
  }

  core::SimEventLoop loop_;
  FakeApiClient api_{loop_};
  std::function<Response(const Request&)> handler_;
  std::unique_ptr<MirrorPodManager> mgr_;
  std::vector<std::string> changes_;
  int created_ = 0;
};

TEST_F(MirrorPodsTest, NothingBeforeTheNodeUidIsKnown) {
  mgr_->setStaticPods({staticPod("h1")});
  mgr_->setMirrorPods({mirrorInfo("orphan", "hx", "orphan-node-1")});
  loop_.runPending();
  loop_.advance(std::chrono::minutes(3));
  loop_.runPending();
  EXPECT_TRUE(api_.requests().empty());
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), std::nullopt);

  mgr_->setNodeUid("node-uid-1");
  loop_.runPending();
  EXPECT_EQ(api_.count("POST", kPodsPath), 1u);
  EXPECT_EQ(api_.count("DELETE", "/api/v1/namespaces/default/pods/orphan-node-1"), 1u);
}

TEST_F(MirrorPodsTest, NothingBeforeTheInformersFirstList) {
  mgr_->setNodeUid("node-uid-1");
  mgr_->setStaticPods({staticPod("h1")});
  mgr_->mirrorPodUpdated(mirrorInfo("existing", "h1"));  // Seen while listing.
  loop_.runPending();
  EXPECT_TRUE(api_.requests().empty());
  mgr_->setMirrorPods({mirrorInfo("existing", "h1")});
  loop_.runPending();
  EXPECT_TRUE(api_.requests().empty());
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "existing");
}

TEST_F(MirrorPodsTest, CreatesMirrorWithAnnotationOwnerAndNode) {
  startWith("h1");
  ASSERT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(request(0).method, "POST");
  EXPECT_EQ(request(0).path, kPodsPath);
  EXPECT_EQ(request(0).contentType, "application/json");
  json pod = json::parse(request(0).body);
  EXPECT_EQ(pod["apiVersion"], "v1");
  EXPECT_EQ(pod["kind"], "Pod");
  EXPECT_EQ(pod["metadata"]["name"], "web-node-1");
  EXPECT_EQ(pod["metadata"]["namespace"], "default");
  EXPECT_FALSE(pod["metadata"].contains("uid"));
  EXPECT_EQ(pod["metadata"]["labels"], (json{{"app", "web"}}));
  EXPECT_EQ(pod["metadata"]["annotations"],
            (json{{"kubernetes.io/config.mirror", "h1"},
                  {"kubernetes.io/config.hash", "h1"},
                  {"kubernetes.io/config.source", "file"},
                  {"kubernetes.io/config.seen", "2024-01-01T00:00:00Z"}}));
  EXPECT_EQ(pod["metadata"]["ownerReferences"], (json::array({{{"apiVersion", "v1"},
                                                               {"kind", "Node"},
                                                               {"name", "node-1"},
                                                               {"uid", "node-uid-1"},
                                                               {"controller", true}}})));
  EXPECT_EQ(pod["spec"]["nodeName"], "node-1");
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], "busybox");
  EXPECT_FALSE(pod.contains("status"));

  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "mirror-1");
  EXPECT_EQ(changes_, (std::vector<std::string>{"default/web-node-1=mirror-1"}));

  // The informer confirming it, and resyncs, change nothing.
  mgr_->mirrorPodUpdated(mirrorInfo("mirror-1", "h1"));
  loop_.advance(std::chrono::minutes(5));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);
}

TEST_F(MirrorPodsTest, RecreatedAfterTheApiDeletesIt) {
  startWith("h1");
  mgr_->mirrorPodUpdated(mirrorInfo("mirror-1", "h1"));
  mgr_->mirrorPodDeleted("default", "web-node-1", "mirror-1");
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), std::nullopt);
  loop_.runPending();
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST", "POST"}));
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "mirror-2");
  EXPECT_EQ(changes_,
            (std::vector<std::string>{"default/web-node-1=mirror-1",
                                      "default/web-node-1=", "default/web-node-1=mirror-2"}));
}

TEST_F(MirrorPodsTest, HashChangeDeletesThenCreates) {
  startWith("h1");
  mgr_->mirrorPodUpdated(mirrorInfo("mirror-1", "h1"));
  mgr_->setStaticPods({staticPod("h2")});
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), std::nullopt);
  ASSERT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE"}));
  EXPECT_EQ(request(1).path, kPodPath);
  EXPECT_EQ(json::parse(request(1).body), (json{{"kind", "DeleteOptions"},
                                                {"apiVersion", "v1"},
                                                {"gracePeriodSeconds", 0},
                                                {"preconditions", {{"uid", "mirror-1"}}}}));
  // One request at a time: nothing more until the delete is answered.
  mgr_->resync();
  EXPECT_EQ(api_.requests().size(), 2u);

  loop_.runPending();
  ASSERT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE", "POST"}));
  json pod = json::parse(request(2).body);
  EXPECT_EQ(pod["metadata"]["annotations"]["kubernetes.io/config.mirror"], "h2");
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "mirror-2");

  // The late informer update about the deleted pod is ignored.
  mgr_->mirrorPodUpdated(mirrorInfo("mirror-1", "h1"));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 3u);
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "mirror-2");
}

TEST_F(MirrorPodsTest, MirrorBeingDeletedIsReplaced) {
  startWith("h1");
  MirrorPodInfo deleting = mirrorInfo("mirror-1", "h1");
  deleting.deletionTimestamp = "2024-01-01T00:00:30Z";
  mgr_->mirrorPodUpdated(deleting);
  loop_.runPending();
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE", "POST"}));
  EXPECT_EQ(json::parse(request(1).body)["preconditions"]["uid"], "mirror-1");
}

TEST_F(MirrorPodsTest, StaleMirrorDeletedWithUidPrecondition) {
  mgr_->setNodeUid("node-uid-1");
  // Before the static pods are known no mirror pod counts as orphaned.
  mgr_->setMirrorPods({mirrorInfo("old-uid", "h0", "gone-node-1")});
  loop_.runPending();
  EXPECT_TRUE(api_.requests().empty());

  mgr_->setStaticPods({});
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(request(0).method, "DELETE");
  EXPECT_EQ(request(0).path, "/api/v1/namespaces/default/pods/gone-node-1");
  EXPECT_EQ(json::parse(request(0).body)["preconditions"], (json{{"uid", "old-uid"}}));
  EXPECT_EQ(json::parse(request(0).body)["gracePeriodSeconds"], 0);

  // Pods without the mirror annotation are not ours.
  MirrorPodInfo plain = mirrorInfo("plain", "x", "plain");
  plain.annotations.clear();
  mgr_->mirrorPodUpdated(plain);
  loop_.advance(std::chrono::minutes(2));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);
}

TEST_F(MirrorPodsTest, StaticPodRemovedDeletesItsMirror) {
  startWith("h1");
  mgr_->setStaticPods({});
  loop_.runPending();
  ASSERT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE"}));
  EXPECT_EQ(json::parse(request(1).body)["preconditions"]["uid"], "mirror-1");
  EXPECT_EQ(changes_.back(), "default/web-node-1=");
}

TEST_F(MirrorPodsTest, AlreadyExistsWaitsForTheInformer) {
  handler_ = [](const Request&) { return statusAnswer(409, "AlreadyExists"); };
  startWith("h1");
  loop_.advance(std::chrono::seconds(30));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);

  handler_ = nullptr;
  // The informer shows the existing one, of an older hash: replace it.
  mgr_->mirrorPodUpdated(mirrorInfo("existing", "h0"));
  loop_.runPending();
  ASSERT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE", "POST"}));
  EXPECT_EQ(json::parse(request(1).body)["preconditions"]["uid"], "existing");
}

TEST_F(MirrorPodsTest, AlreadyExistsThenInformerShowsAMatchingMirror) {
  handler_ = [](const Request&) { return statusAnswer(409, "AlreadyExists"); };
  startWith("h1");
  mgr_->mirrorPodUpdated(mirrorInfo("existing", "h1"));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "existing");
}

TEST_F(MirrorPodsTest, FailuresRetryWithBackoff) {
  handler_ = [](const Request&) { return statusAnswer(500, "InternalError"); };
  startWith("h1");
  EXPECT_EQ(api_.requests().size(), 1u);
  loop_.advance(std::chrono::milliseconds(999));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);
  loop_.advance(std::chrono::milliseconds(1));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 2u);
  // Then 2 s.
  loop_.advance(std::chrono::milliseconds(1999));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 2u);
  handler_ = nullptr;
  loop_.advance(std::chrono::milliseconds(1));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 3u);
  EXPECT_EQ(mgr_->mirrorUid("default", "web-node-1"), "mirror-1");
}

TEST_F(MirrorPodsTest, DeleteLeftInPlaceByFinalizersWaitsUntilGone) {
  startWith("h1");
  handler_ = [this](const Request& req) {
    if (req.method == "DELETE") {
      json metadata = {{"uid", "mirror-1"},
                       {"deletionTimestamp", "2024-01-01T00:00:00Z"},
                       {"finalizers", json::array({"example.com/hold"})}};
      return answer(200, {{"kind", "Pod"}, {"metadata", metadata}});
    }
    return defaultAnswer(req);
  };
  mgr_->setStaticPods({staticPod("h2")});
  loop_.runPending();
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE"}));
  mgr_->mirrorPodDeleted("default", "web-node-1", "mirror-1");
  loop_.runPending();
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST", "DELETE", "POST"}));
}

TEST_F(MirrorPodsTest, RelistReplacesTheView) {
  startWith("h1");
  // A relist that no longer has our mirror (deleted while the watch was down).
  mgr_->setMirrorPods({});
  loop_.runPending();
  EXPECT_EQ(methods(), (std::vector<std::string>{"POST", "POST"}));
}

TEST(MirrorPodJsonTest, BadManifestIsAnError) {
  api::Pod pod;
  pod.metadata.name = "x-n";
  pod.metadata.namespace_ = "default";
  auto body = mirrorPodJson(pod, "[1]", "n", "u");
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("default/x-n"), std::string::npos);
}

TEST(IsMirrorPodTest, ByAnnotation) {
  EXPECT_TRUE(isMirrorPod({{"kubernetes.io/config.mirror", "abc"}}));
  EXPECT_FALSE(isMirrorPod({{"kubernetes.io/config.hash", "abc"}}));
  EXPECT_FALSE(isMirrorPod({}));
}

}  // namespace
}  // namespace agent::mirror

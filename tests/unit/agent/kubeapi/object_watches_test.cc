// The watch-based ConfigMap/Secret manager against the scripted FakeApiClient: one
// list/watch per referenced object with fieldSelector=metadata.name=<name>,
// refcounting, unknown/not-found/found lookups and change notifications.
#include "agent/kubeapi/object_watches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::kubeapi {
namespace {

using cubelet::testing::FakeApiClient;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using State = ConfigMapWatches::State;

json configMap(const std::string& ns, const std::string& name, const std::string& rv,
               const std::string& value) {
  return {{"kind", "ConfigMap"},
          {"apiVersion", "v1"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}}},
          {"data", {{"key", value}}}};
}

class ObjectWatchesTest : public ::testing::Test {
 protected:
  ObjectWatchesTest() : client_(loop_) {
    // Lists answer with whatever objects_ holds for the namespace and name asked for.
    client_.setHandler([this](const Request& r) {
      json items = json::array();
      for (const json& o : objects_) {
        std::string path = "/api/v1/namespaces/" + o["metadata"]["namespace"].get<std::string>() +
                           "/configmaps?fieldSelector=metadata.name%3D" +
                           o["metadata"]["name"].get<std::string>() + "&";
        if (r.path.rfind(path, 0) == 0) items.push_back(o);
      }
      return Response{absl::OkStatus(), 200,
                      json{{"kind", "ConfigMapList"},
                           {"metadata", {{"resourceVersion", "100"}}},
                           {"items", items}}
                          .dump()};
    });
    watches_ = makeConfigMapWatches(loop_, client_,
                                    [this](const std::string& ns, const std::string& name) {
                                      changes_.push_back(ns + "/" + name);
                                      if (onChange_) onChange_(ns, name);
                                    });
  }

  std::vector<std::string> takeChanges() { return std::exchange(changes_, {}); }
  // The open watch stream for an object.
  int streamFor(const std::string& ns, const std::string& name) {
    for (size_t i = 0; i < client_.openStreams(); ++i) {
      const std::string& p = client_.streamRequest(i).path;
      if (p.rfind("/api/v1/namespaces/" + ns + "/configmaps?", 0) == 0 &&
          p.find("fieldSelector=metadata.name%3D" + name + "&") != std::string::npos) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  core::SimEventLoop loop_;
  FakeApiClient client_;
  std::vector<json> objects_;
  std::vector<std::string> changes_;
  std::function<void(const std::string&, const std::string&)> onChange_;
  std::unique_ptr<ConfigMapWatches> watches_;
};

TEST_F(ObjectWatchesTest, OneWatchPerObjectWithTheNodeAuthorizersSelector) {
  objects_.push_back(configMap("ns1", "cm1", "7", "v1"));
  watches_->acquire("ns1", "cm1");
  EXPECT_EQ(watches_->lookup("ns1", "cm1").state, State::kUnknown);
  ASSERT_EQ(client_.requests().size(), 1u);
  EXPECT_EQ(client_.requests()[0].path,
            "/api/v1/namespaces/ns1/configmaps?fieldSelector=metadata.name%3Dcm1&limit=500&"
            "resourceVersion=0");
  loop_.runPending();
  auto found = watches_->lookup("ns1", "cm1");
  ASSERT_EQ(found.state, State::kFound);
  EXPECT_EQ(found.object->data.at("key"), "v1");
  EXPECT_THAT(takeChanges(), ElementsAre("ns1/cm1"));
  ASSERT_EQ(client_.openStreams(), 1u);
  EXPECT_THAT(client_.streamRequest(0).path,
              MatchesRegex("/api/v1/namespaces/ns1/configmaps\\?allowWatchBookmarks=true&"
                           "fieldSelector=metadata\\.name%3Dcm1&resourceVersion=100&"
                           "timeoutSeconds=[0-9]+&watch=true"));

  // A second user shares the watch.
  watches_->acquire("ns1", "cm1");
  EXPECT_EQ(watches_->refCount("ns1", "cm1"), 2);
  EXPECT_EQ(client_.requests().size(), 2u);

  // Same name in another namespace, and one that does not exist.
  objects_.push_back(configMap("ns2", "cm1", "8", "other"));
  watches_->acquire("ns2", "cm1");
  watches_->acquire("ns1", "missing");
  loop_.runPending();
  EXPECT_EQ(watches_->lookup("ns2", "cm1").object->data.at("key"), "other");
  EXPECT_EQ(watches_->lookup("ns1", "missing").state, State::kNotFound);
  EXPECT_THAT(takeChanges(), ElementsAre("ns2/cm1", "ns1/missing"));
  EXPECT_EQ(watches_->size(), 3u);
  EXPECT_EQ(client_.openStreams(), 3u);
}

TEST_F(ObjectWatchesTest, ChangesAndDeletionsNotify) {
  watches_->acquire("ns1", "cm1");
  loop_.runPending();
  EXPECT_THAT(takeChanges(), ElementsAre("ns1/cm1"));  // now known not to exist
  int s = streamFor("ns1", "cm1");
  ASSERT_GE(s, 0);
  client_.pushLine(s,
                   json{{"type", "ADDED"}, {"object", configMap("ns1", "cm1", "101", "a")}}.dump());
  loop_.runPending();
  EXPECT_EQ(watches_->lookup("ns1", "cm1").object->data.at("key"), "a");
  client_.pushLine(
      s, json{{"type", "MODIFIED"}, {"object", configMap("ns1", "cm1", "102", "b")}}.dump());
  loop_.runPending();
  EXPECT_EQ(watches_->lookup("ns1", "cm1").object->data.at("key"), "b");
  client_.pushLine(
      s, json{{"type", "DELETED"}, {"object", configMap("ns1", "cm1", "103", "b")}}.dump());
  loop_.runPending();
  EXPECT_EQ(watches_->lookup("ns1", "cm1").state, State::kNotFound);
  EXPECT_THAT(takeChanges(), ElementsAre("ns1/cm1", "ns1/cm1", "ns1/cm1"));
}

TEST_F(ObjectWatchesTest, LastReleaseStopsTheWatchEvenFromTheChangeCallback) {
  objects_.push_back(configMap("ns1", "cm1", "7", "v1"));
  watches_->acquire("ns1", "cm1");
  watches_->acquire("ns1", "cm1");
  loop_.runPending();
  watches_->release("ns1", "cm1");
  EXPECT_EQ(client_.openStreams(), 1u);
  EXPECT_EQ(watches_->lookup("ns1", "cm1").state, State::kFound);

  // The agent re-syncs the pod on a change and finds it no longer needs the object.
  onChange_ = [this](const std::string& ns, const std::string& name) {
    watches_->release(ns, name);
  };
  client_.pushLine(
      0, json{{"type", "MODIFIED"}, {"object", configMap("ns1", "cm1", "9", "v2")}}.dump());
  loop_.runPending();
  EXPECT_EQ(watches_->size(), 0u);
  EXPECT_EQ(client_.openStreams(), 0u);
  EXPECT_EQ(watches_->lookup("ns1", "cm1").state, State::kUnknown);
  watches_->release("ns1", "cm1");  // unknown: ignored
  onChange_ = nullptr;

  // Acquiring again starts afresh.
  watches_->acquire("ns1", "cm1");
  EXPECT_EQ(watches_->lookup("ns1", "cm1").state, State::kUnknown);
  loop_.runPending();
  EXPECT_EQ(watches_->lookup("ns1", "cm1").state, State::kFound);
}

TEST(SecretWatchesTest, DecodesSecrets) {
  core::SimEventLoop loop;
  FakeApiClient client(loop);
  client.setHandler([](const Request&) {
    json s = {{"metadata", {{"namespace", "ns"}, {"name", "pull"}, {"resourceVersion", "3"}}},
              {"type", "Opaque"},
              {"data", {{"password", "aHVudGVyMg=="}}}};
    return Response{
        absl::OkStatus(), 200,
        json{{"metadata", {{"resourceVersion", "4"}}}, {"items", json::array({s})}}.dump()};
  });
  int changes = 0;
  auto secrets = makeSecretWatches(loop, client, [&](auto&, auto&) { ++changes; });
  secrets->acquire("ns", "pull");
  loop.runPending();
  EXPECT_EQ(client.requests()[0].path.rfind("/api/v1/namespaces/ns/secrets?", 0), 0u);
  auto l = secrets->lookup("ns", "pull");
  ASSERT_EQ(l.state, SecretWatches::State::kFound);
  EXPECT_EQ(l.object->data.at("password"), "hunter2");
  EXPECT_EQ(changes, 1);
}

}  // namespace
}  // namespace agent::kubeapi

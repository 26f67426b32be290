// The reflector and informer against the scripted FakeApiClient on simulated time:
// the list and watch requests, pagination, bookmarks, 410 Gone (as an ERROR event
// and as HTTP 410) with deletes synthesized by the relist, re-watch after a
// server-side timeout, backoff after transport errors, undecodable objects skipped.
#include "agent/kubeapi/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/json_decode.h"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::kubeapi {
namespace {

using cubelet::testing::FakeApiClient;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A small typed object: name, namespace, resourceVersion and data.value (string).
struct Thing {
  std::string ns, name, rv, value;
};

absl::StatusOr<Thing> decodeThing(const json& j) {
  Thing t;
  core::JsonField f(j);
  absl::Status s =
      core::decodeObject(f["metadata"], "namespace", t.ns, "name", t.name, "resourceVersion", t.rv);
  if (s.ok()) s = core::decodeObject(f["data"], "value", t.value);
  if (!s.ok()) return s;
  return t;
}

json thing(const std::string& name, const std::string& rv, const std::string& value) {
  return {{"metadata", {{"namespace", "ns"}, {"name", name}, {"resourceVersion", rv}}},
          {"data", {{"value", value}}}};
}

std::string event(const std::string& type, const json& obj) {
  return json{{"type", type}, {"object", obj}}.dump();
}

std::string bookmark(const std::string& rv) {
  return event("BOOKMARK", {{"kind", "Thing"}, {"metadata", {{"resourceVersion", rv}}}});
}

Response listAnswer(const std::vector<json>& items, const std::string& rv,
                    const std::string& cont = "") {
  json meta = {{"resourceVersion", rv}};
  if (!cont.empty()) meta["continue"] = cont;
  return Response{absl::OkStatus(), 200,
                  json{{"kind", "ThingList"}, {"metadata", meta}, {"items", items}}.dump()};
}

std::map<std::string, std::string> queryOf(const std::string& path) {
  std::map<std::string, std::string> q;
  size_t pos = path.find('?');
  if (pos == std::string::npos) return q;
  std::string rest = path.substr(pos + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t amp = rest.find('&', start);
    std::string kv = rest.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = kv.find('=');
    q[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return q;
}

class InformerTest : public ::testing::Test {
 protected:
  InformerTest() : client_(loop_) {}

  void makeInformer(ReflectorConfig cfg = {}) {
    if (cfg.collectionPath.empty()) cfg.collectionPath = "/api/v1/namespaces/ns/things";
    cfg.random = [] { return 0.5; };
    Informer<Thing>::Handlers h;
    h.onAdd = [this](const auto& o) { log_.push_back("add " + o->name + "=" + o->value); };
    h.onUpdate = [this](const auto& a, const auto& b) {
      log_.push_back("update " + a->name + "=" + a->value + "->" + b->value);
    };
    h.onDelete = [this](const auto& o) { log_.push_back("delete " + o->name); };
    h.onSynced = [this] { log_.push_back("synced"); };
    informer_ = std::make_unique<Informer<Thing>>(loop_, client_, cfg, decodeThing, h);
  }

  // Answers the next list request(s) and runs the loop.
  void answerList(std::vector<Response> pages) {
    size_t next = 0;
    client_.setHandler([pages, next](const Request&) mutable {
      return next < pages.size() ? pages[next++]
                                 : Response{absl::UnavailableError("no more"), 0, ""};
    });
    informer_->start();
    loop_.runPending();
  }

  std::vector<std::string> takeLog() { return std::exchange(log_, {}); }

  core::SimEventLoop loop_;
  FakeApiClient client_;
  std::unique_ptr<Informer<Thing>> informer_;
  std::vector<std::string> log_;
};

TEST_F(InformerTest, ListsWithPagesThenWatchesFromTheListVersion) {
  ReflectorConfig cfg;
  cfg.fieldSelector = "spec.nodeName=n1";
  cfg.labelSelector = "app=web";
  makeInformer(cfg);
  client_.setHandler([](const Request& r) {
    auto q = queryOf(r.path);
    if (q.count("continue") == 0) return listAnswer({thing("a", "5", "1")}, "10", "tok/1");
    return listAnswer({thing("b", "7", "2")}, "10");
  });
  informer_->start();
  EXPECT_FALSE(informer_->hasSynced());
  loop_.runPending();

  ASSERT_EQ(client_.requests().size(), 3u);
  const std::string& first = client_.requests()[0].path;
  EXPECT_THAT(first, StartsWith("/api/v1/namespaces/ns/things?"));
  auto q0 = queryOf(first);
  EXPECT_EQ(q0["fieldSelector"], "spec.nodeName%3Dn1");
  EXPECT_EQ(q0["labelSelector"], "app%3Dweb");
  EXPECT_EQ(q0["limit"], "500");
  EXPECT_EQ(q0["resourceVersion"], "0");
  auto q1 = queryOf(client_.requests()[1].path);
  EXPECT_EQ(q1["continue"], "tok%2F1");
  EXPECT_EQ(q1.count("resourceVersion"), 0u);

  EXPECT_TRUE(informer_->hasSynced());
  EXPECT_THAT(takeLog(), ElementsAre("add a=1", "add b=2", "synced"));
  ASSERT_EQ(client_.openStreams(), 1u);
  auto w = queryOf(client_.streamRequest(0).path);
  EXPECT_EQ(w["watch"], "true");
  EXPECT_EQ(w["allowWatchBookmarks"], "true");
  EXPECT_EQ(w["resourceVersion"], "10");
  EXPECT_EQ(w["timeoutSeconds"], "450");  // 300 * (1 + 0.5)
  EXPECT_EQ(w["fieldSelector"], "spec.nodeName%3Dn1");

  client_.pushLine(0, event("MODIFIED", thing("a", "11", "1b")));
  client_.pushLine(0, event("ADDED", thing("c", "12", "3")));
  client_.pushLine(0, event("DELETED", thing("b", "13", "2")));
  client_.pushLine(0, bookmark("20"));
  loop_.runPending();
  EXPECT_THAT(takeLog(), ElementsAre("update a=1->1b", "add c=3", "delete b"));
  EXPECT_EQ(informer_->reflector().lastResourceVersion(), "20");
  ASSERT_NE(informer_->get("ns/a"), nullptr);
  EXPECT_EQ(informer_->get("ns/a")->value, "1b");
  EXPECT_EQ(informer_->get("ns/b"), nullptr);
  EXPECT_EQ(informer_->size(), 2u);

  // The server's timeout ends the stream: re-watch from the bookmark's version at once.
  client_.endStream(0, Response{absl::OkStatus(), 200, ""});
  loop_.runPending();
  loop_.advance(core::Duration(0));
  ASSERT_EQ(client_.openStreams(), 1u);
  EXPECT_EQ(queryOf(client_.streamRequest(0).path)["resourceVersion"], "20");
  EXPECT_EQ(informer_->reflector().listCount(), 1u);
}

TEST_F(InformerTest, ErrorEvent410RelistsAndSynthesizesDeletes) {
  makeInformer();
  answerList(
      {listAnswer({thing("a", "5", "1"), thing("b", "6", "2"), thing("c", "7", "3")}, "10")});
  takeLog();
  client_.clearRequests();
  client_.pushLine(0, event("ERROR", {{"kind", "Status"},
                                      {"status", "Failure"},
                                      {"message", "too old resource version: 10 (50)"},
                                      {"reason", "Expired"},
                                      {"code", 410}}));
  // b unchanged (same resourceVersion), a changed, c gone, d new.
  answerList(
      {listAnswer({thing("a", "40", "1b"), thing("b", "6", "2"), thing("d", "45", "4")}, "50")});
  loop_.advance(core::Duration(0));
  loop_.runPending();
  ASSERT_GE(client_.requests().size(), 1u);
  auto q = queryOf(client_.requests()[0].path);
  EXPECT_EQ(q.count("resourceVersion"), 0u) << "after a 410 the relist asks for the latest";
  EXPECT_THAT(takeLog(), ElementsAre("delete c", "update a=1->1b", "add d=4"));
  ASSERT_EQ(client_.openStreams(), 1u);
  EXPECT_EQ(queryOf(client_.streamRequest(0).path)["resourceVersion"], "50");
  EXPECT_EQ(informer_->reflector().listCount(), 2u);
}

TEST_F(InformerTest, Http410RelistsAndLaterRelistsUseTheLastVersion) {
  makeInformer();
  answerList({listAnswer({thing("a", "5", "1")}, "10")});
  takeLog();
  client_.clearRequests();
  client_.endStream(
      0, Response{absl::OkStatus(), 410, R"({"kind":"Status","reason":"Gone","code":410})"});
  answerList({listAnswer({}, "60")});
  loop_.advance(core::Duration(0));
  loop_.runPending();
  EXPECT_THAT(takeLog(), ElementsAre("delete a"));
  EXPECT_EQ(informer_->size(), 0u);
  ASSERT_EQ(client_.openStreams(), 1u);
  EXPECT_EQ(queryOf(client_.streamRequest(0).path)["resourceVersion"], "60");
}

TEST_F(InformerTest, TransportErrorsBackOffThenResume) {
  makeInformer();
  answerList({listAnswer({thing("a", "5", "1")}, "10")});
  takeLog();
  client_.clearRequests();
  client_.pushLine(0, bookmark("15"));
  client_.endStream(0, Response{absl::UnavailableError("connection reset"), 0, ""});
  loop_.runPending();
  // A healthy stream resets the backoff: the first retry comes after 800 ms (+ up to 20%).
  loop_.advance(core::Duration(799));
  EXPECT_EQ(client_.openStreams(), 0u);
  loop_.advance(core::Duration(200));
  ASSERT_EQ(client_.openStreams(), 1u);
  EXPECT_EQ(queryOf(client_.streamRequest(0).path)["resourceVersion"], "15");

  // Failing at once again and again: the delays keep doubling (1.6 s, 3.2 s, ...).
  // (With the fixed random 0.5 each delay is stretched by 10%.)
  for (int i = 0; i < 4; ++i) {
    client_.endStream(0, Response{absl::OkStatus(), 503, "busy"});
    loop_.runPending();
    core::MonoTime before = loop_.monotonicNow();
    while (client_.openStreams() == 0) loop_.advance(core::Duration(10));
    auto waited = loop_.monotonicNow() - before;
    EXPECT_GE(waited, core::Duration(1600 << i)) << i;
    EXPECT_LE(waited, core::Duration((1600 << i) * 12 / 10 + 10)) << i;
  }
  EXPECT_EQ(informer_->reflector().listCount(), 1u);  // no relist for these
}

TEST_F(InformerTest, ListFailuresRetryWithBackoff) {
  makeInformer();
  client_.setHandler([](const Request&) {
    return Response{absl::OkStatus(), 403,
                    R"({"kind":"Status","reason":"Forbidden","message":"no","code":403})"};
  });
  informer_->start();
  loop_.runPending();
  EXPECT_EQ(client_.count("GET", "/api/v1/namespaces/ns/things"), 1u);
  EXPECT_FALSE(informer_->hasSynced());
  loop_.advance(core::Duration(1000));
  loop_.runPending();
  EXPECT_EQ(client_.count("GET", "/api/v1/namespaces/ns/things"), 2u);
  answerList({listAnswer({thing("a", "5", "1")}, "10")});
  loop_.advance(core::Duration(2000));
  loop_.runPending();
  EXPECT_TRUE(informer_->hasSynced());
  EXPECT_THAT(takeLog(), ElementsAre("add a=1", "synced"));
}

TEST_F(InformerTest, UndecodableObjectsAreSkippedAndTheRestFlow) {
  makeInformer();
  json bad = thing("bad", "6", "x");
  bad["data"]["value"] = 42;
  answerList({listAnswer({thing("a", "5", "1"), bad}, "10")});
  EXPECT_THAT(takeLog(), ElementsAre("add a=1", "synced"));
  EXPECT_EQ(informer_->get("ns/bad"), nullptr);

  client_.pushLine(0, "not json");
  client_.pushLine(0, event("MODIFIED", [] {
                     json j = thing("a", "12", "z");
                     j["data"] = "not an object";
                     return j;
                   }()));
  client_.pushLine(0, event("ADDED", thing("b", "13", "2")));
  loop_.runPending();
  EXPECT_THAT(takeLog(), ElementsAre("add b=2"));
  EXPECT_EQ(informer_->get("ns/a")->value, "1");  // the last good version stays
  EXPECT_EQ(client_.openStreams(), 1u);
}

TEST_F(InformerTest, DestroyingTheInformerCancelsEverything) {
  makeInformer();
  answerList({listAnswer({}, "10")});
  ASSERT_EQ(client_.openStreams(), 1u);
  client_.pushLine(0, event("ADDED", thing("b", "13", "2")));
  informer_.reset();
  EXPECT_EQ(client_.openStreams(), 0u);
  loop_.runPending();
  loop_.advance(std::chrono::minutes(1));
  EXPECT_THAT(takeLog(), ElementsAre("synced"));
}

}  // namespace
}  // namespace agent::kubeapi

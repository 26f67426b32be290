// Watch semantics of the fake API server over HTTPS: replay from a resourceVersion,
// live events, 410 Expired, bookmarks, timeouts, selector transitions, stop/resume.
#include "gmock/gmock.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string watchFrom(const std::string& path, const std::string& rv,
                      const std::string& extra = "") {
  return path + "?watch=1&resourceVersion=" + rv + extra;
}

TEST_F(FakeApiTest, WatchReplaysFromResourceVersionThenStreamsLive) {
  json a = admin_->post(kPods, pod("a")).json();
  ASSERT_EQ(admin_->post(kPods, pod("b")).code, 201);
  a["metadata"]["labels"]["x"] = "1";
  ASSERT_EQ(admin_->put(std::string(kPods) + "/a", a).code, 200);

  WatchStream w(*admin_, watchFrom(kPods, rv(a)));
  auto e1 = w.next();
  ASSERT_TRUE(e1);
  EXPECT_EQ((*e1)["type"], "ADDED");
  EXPECT_EQ((*e1)["object"]["metadata"]["name"], "b");
  EXPECT_EQ((*e1)["object"]["kind"], "Pod");
  auto e2 = w.next();
  ASSERT_TRUE(e2);
  EXPECT_EQ((*e2)["type"], "MODIFIED");
  EXPECT_EQ((*e2)["object"]["metadata"]["labels"]["x"], "1");

  // Live: a delete of a bound pod is MODIFIED (deletionTimestamp) then nothing until grace 0.
  ASSERT_TRUE(server_->create(kPods, pod("c", "n1")).ok());
  auto e3 = w.next();
  ASSERT_TRUE(e3);
  EXPECT_EQ((*e3)["type"], "ADDED");
  ASSERT_TRUE(server_->remove(std::string(kPods) + "/c").ok());
  auto e4 = w.next();
  ASSERT_TRUE(e4);
  EXPECT_EQ((*e4)["type"], "MODIFIED");
  EXPECT_TRUE((*e4)["object"]["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(server_->remove(std::string(kPods) + "/c", 0).ok());
  json last;
  for (auto e = w.next(); e; e = w.next(200ms)) last = *e;
  EXPECT_EQ(last["type"], "DELETED");
  EXPECT_GT(std::stoll(rv(last["object"])), std::stoll(rv((*e4)["object"])));

  // Other namespaces and kinds are not this watch's business.
  ASSERT_TRUE(server_->create("/api/v1/namespaces/kube-system/pods", pod("sys")).ok());
  ASSERT_TRUE(
      server_->create("/api/v1/namespaces/default/configmaps", json{{"metadata", {{"name", "cm"}}}})
          .ok());
  EXPECT_FALSE(w.next(200ms));
}

TEST_F(FakeApiTest, WatchWithoutResourceVersionStartsWithAddedEvents) {
  ASSERT_TRUE(server_->create(kPods, pod("a")).ok());
  ASSERT_TRUE(server_->create(kPods, pod("b")).ok());
  WatchStream w(*admin_, std::string(kPods) + "?watch=true");
  auto e1 = w.next(), e2 = w.next();
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ((*e1)["type"], "ADDED");
  EXPECT_EQ((*e2)["object"]["metadata"]["name"], "b");
  WatchStream zero(*admin_, watchFrom(kPods, "0"));
  EXPECT_EQ((*zero.next())["type"], "ADDED");
}

TEST_F(FakeApiTest, WatchFromCompactedResourceVersionIsExpired) {
  json a = admin_->post(kPods, pod("a")).json();
  ASSERT_TRUE(server_->create(kPods, pod("b")).ok());
  server_->compactHistory();
  const int64_t now = server_->currentResourceVersion();

  WatchStream w(*admin_, watchFrom(kPods, rv(a)));
  auto e = w.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "ERROR");
  EXPECT_EQ((*e)["object"]["kind"], "Status");
  EXPECT_EQ((*e)["object"]["code"], 410);
  EXPECT_EQ((*e)["object"]["reason"], "Expired");
  EXPECT_EQ((*e)["object"]["message"],
            "too old resource version: " + rv(a) + " (" + std::to_string(now) + ")");
  EXPECT_TRUE(w.waitEnded());
  EXPECT_EQ(w.code(), 200);

  // From the current RV the watch works.
  WatchStream ok(*admin_, watchFrom(kPods, std::to_string(now)));
  ASSERT_TRUE(server_->create(kPods, pod("c")).ok());
  EXPECT_EQ((*ok.next())["type"], "ADDED");
}

TEST_F(FakeApiTest, HistoryLimitExpiresOldResourceVersions) {
  server_.reset();
  FakeApiServerOptions opts;
  opts.historyLimit = 3;
  startServer(opts);
  json first = server_->create(kPods, pod("a")).value();
  for (const char* n : {"b", "c", "d", "e"}) ASSERT_TRUE(server_->create(kPods, pod(n)).ok());
  WatchStream w(*admin_, watchFrom(kPods, rv(first)));
  auto e = w.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["object"]["code"], 410);
}

TEST_F(FakeApiTest, WatchBookmarksCarryTheCurrentResourceVersion) {
  const std::string from = std::to_string(server_->currentResourceVersion());
  WatchStream w(*admin_, watchFrom(kPods, from, "&allowWatchBookmarks=true"));
  ASSERT_TRUE(
      server_->create("/api/v1/namespaces/default/configmaps", json{{"metadata", {{"name", "cm"}}}})
          .ok());
  auto e = w.next(2s);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "BOOKMARK");
  EXPECT_EQ((*e)["object"]["kind"], "Pod");
  EXPECT_EQ((*e)["object"]["apiVersion"], "v1");
  EXPECT_EQ((*e)["object"]["metadata"]["resourceVersion"],
            std::to_string(server_->currentResourceVersion()));

  WatchStream none(*admin_, watchFrom(kPods, from));
  EXPECT_FALSE(none.next(300ms));  // no bookmarks unless asked for
}

TEST_F(FakeApiTest, WatchTimeoutSecondsEndsTheStreamCleanly) {
  WatchStream w(*admin_, watchFrom(kPods, "0", "&timeoutSeconds=1"));
  EXPECT_TRUE(w.waitEnded(3s));
  EXPECT_EQ(w.code(), 200);
}

TEST_F(FakeApiTest, SelectorWatchSeesObjectsEnterAndLeave) {
  json p = server_->create(kPods, pod("p")).value();
  WatchStream byNode(*admin_, watchFrom(kPods, rv(p), "&fieldSelector=spec.nodeName%3Dn1"));
  WatchStream byLabel(*admin_, watchFrom(kPods, rv(p), "&labelSelector=tier%3Dfront"));

  p["spec"]["nodeName"] = "n1";
  p = server_->update(std::string(kPods) + "/p", p).value();
  auto added = byNode.next();
  ASSERT_TRUE(added);
  EXPECT_EQ((*added)["type"], "ADDED");

  p["metadata"]["labels"]["tier"] = "front";
  p = server_->update(std::string(kPods) + "/p", p).value();
  EXPECT_EQ((*byNode.next())["type"], "MODIFIED");
  EXPECT_EQ((*byLabel.next())["type"], "ADDED");

  p["metadata"]["labels"].erase("tier");
  json dropped = server_->update(std::string(kPods) + "/p", p).value();
  auto gone = byLabel.next();
  ASSERT_TRUE(gone);
  EXPECT_EQ((*gone)["type"], "DELETED");
  // The previous content, at the event's resourceVersion.
  EXPECT_EQ((*gone)["object"]["metadata"]["labels"]["tier"], "front");
  EXPECT_EQ(rv((*gone)["object"]), rv(dropped));
}

TEST_F(FakeApiTest, CloseWatchesAndStopResume) {
  ASSERT_TRUE(server_->create(kPods, pod("a")).ok());
  {
    WatchStream w(*admin_, watchFrom(kPods, "0"));
    ASSERT_TRUE(w.next());
    server_->closeWatches();
    EXPECT_TRUE(w.waitEnded(2s));
  }
  WatchStream w(*admin_, watchFrom(kPods, "0"));
  ASSERT_TRUE(w.next());
  const int port = server_->port();
  server_->stop();
  EXPECT_TRUE(w.waitEnded(2s));
  EXPECT_NE(admin_->get(kPods).error, "");  // refused while stopped
  ASSERT_TRUE(server_->resume().ok());
  EXPECT_EQ(server_->port(), port);
  auto list = admin_->get(kPods);
  ASSERT_EQ(list.code, 200) << list.error;
  EXPECT_EQ(list.json()["items"].size(), 1u);
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

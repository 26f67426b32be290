#include "agent/events/event_recorder.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_api_client.h"
#include "tests/fakes/sim_event_loop.h"

namespace agent::events {
namespace {

using cubelet::testing::FakeApiClient;
using kubeapi::Request;
using kubeapi::Response;
using nlohmann::json;

constexpr int64_t kEpochNanos = core::SimEventLoop::kWallEpochSeconds * 1'000'000'000LL;

Response answer(long code, json body = json::object()) {
  Response r;
  r.code = code;
  r.body = body.dump();
  return r;
}

Response statusAnswer(long code, const std::string& reason) {
  return answer(code, {{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"status", "Failure"},
                       {"reason", reason},
                       {"code", code}});
}

Response transportError() {
  Response r;
  r.transport = absl::UnavailableError("connect: connection refused");
  return r;
}

api::Pod makePod() {
  api::Pod pod;
  pod.metadata.name = "web-abc";
  pod.metadata.namespace_ = "ns1";
  pod.metadata.uid = "uid-1";
  pod.metadata.resourceVersion = "42";
  pod.spec.containers.push_back(api::Container{.name = "web", .image = "busybox"});
  pod.spec.initContainers.push_back(api::Container{.name = "setup", .image = "busybox"});
  return pod;
}

class EventRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.setHandler([this](const Request& req) {
      if (handler_) return handler_(req);
      return answer(req.method == "POST" ? 201 : 200);
    });
  }

  std::unique_ptr<ApiEventRecorder> makeRecorder(RecorderOptions opts = {}) {
    opts.nodeName = "node-1";
    opts.random = [] { return 0.5; };
    return std::make_unique<ApiEventRecorder>(loop_, api_, std::move(opts));
  }

  const Request& request(size_t i) { return api_.requests().at(i); }
  json body(size_t i) { return json::parse(request(i).body); }

  core::SimEventLoop loop_;
  FakeApiClient api_{loop_};
  std::function<Response(const Request&)> handler_;
  api::Pod pod_ = makePod();
};

TEST_F(EventRecorderTest, CreatesEventWithTheKubeletsFields) {
  auto rec = makeRecorder();
  rec->record(containerRef(pod_, "web"), EventType::kNormal, reasons::kPulledImage,
              "Successfully pulled image \"busybox\"");
  EXPECT_TRUE(api_.requests().empty()) << "sending must not happen inside record()";
  loop_.runPending();

  ASSERT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(request(0).method, "POST");
  EXPECT_EQ(request(0).path, "/api/v1/namespaces/ns1/events");
  EXPECT_EQ(request(0).contentType, "application/json");
  json e = body(0);
  EXPECT_EQ(e["kind"], "Event");
  EXPECT_EQ(e["apiVersion"], "v1");
  EXPECT_EQ(e["metadata"]["name"], absl::StrFormat("web-abc.%x", kEpochNanos));
  EXPECT_EQ(e["metadata"]["namespace"], "ns1");
  EXPECT_EQ(e["involvedObject"], (json{{"kind", "Pod"},
                                       {"namespace", "ns1"},
                                       {"name", "web-abc"},
                                       {"uid", "uid-1"},
                                       {"apiVersion", "v1"},
                                       {"resourceVersion", "42"},
                                       {"fieldPath", "spec.containers{web}"}}));
  EXPECT_EQ(e["reason"], "Pulled");
  EXPECT_EQ(e["message"], "Successfully pulled image \"busybox\"");
  EXPECT_EQ(e["source"], (json{{"component", "kubelet"}, {"host", "node-1"}}));
  EXPECT_EQ(e["firstTimestamp"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(e["lastTimestamp"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(e["type"], "Normal");
  ASSERT_TRUE(e.contains("eventTime"));
  EXPECT_TRUE(e["eventTime"].is_null());
  EXPECT_EQ(e["reportingComponent"], "kubelet");
  EXPECT_EQ(e["reportingInstance"], "node-1");
  EXPECT_FALSE(rec->busy());
}

TEST_F(EventRecorderTest, ReferencesForInitContainersAndTheNode) {
  EXPECT_EQ(containerRef(pod_, "setup").fieldPath, "spec.initContainers{setup}");
  EXPECT_EQ(containerRef(pod_, "nope").fieldPath, "");

  auto rec = makeRecorder();
  rec->record(nodeRef("node-1"), EventType::kNormal, reasons::kStartingKubelet,
              "Starting kubelet.");
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 1u);
  // A cluster-scoped object's events live in "default"; the kubelet's node
  // reference carries the node name as uid.
  EXPECT_EQ(request(0).path, "/api/v1/namespaces/default/events");
  json e = body(0);
  EXPECT_EQ(e["metadata"]["namespace"], "default");
  EXPECT_EQ(e["involvedObject"], (json{{"kind", "Node"}, {"name", "node-1"}, {"uid", "node-1"}}));
  EXPECT_EQ(e["reason"], "Starting");
}

TEST_F(EventRecorderTest, RepeatIsAStrategicMergePatchOfCount) {
  auto rec = makeRecorder();
  ObjectRef ref = containerRef(pod_, "web");
  rec->record(ref, EventType::kWarning, reasons::kBackOffStartContainer, "Back-off restarting");
  loop_.runPending();
  loop_.advance(std::chrono::seconds(5));
  rec->record(ref, EventType::kWarning, reasons::kBackOffStartContainer, "Back-off restarting");
  loop_.runPending();
  loop_.advance(std::chrono::seconds(5));
  rec->record(ref, EventType::kWarning, reasons::kBackOffStartContainer, "Back-off restarting");
  loop_.runPending();

  ASSERT_EQ(api_.requests().size(), 3u);
  std::string name = body(0)["metadata"]["name"];
  for (size_t i : {1, 2}) {
    EXPECT_EQ(request(i).method, "PATCH");
    EXPECT_EQ(request(i).path, "/api/v1/namespaces/ns1/events/" + name);
    EXPECT_EQ(request(i).contentType, "application/strategic-merge-patch+json");
  }
  EXPECT_EQ(body(1), (json{{"count", 2},
                           {"lastTimestamp", "2024-01-01T00:00:05Z"},
                           {"message", "Back-off restarting"}}));
  EXPECT_EQ(body(2)["count"], 3);
  EXPECT_EQ(body(2)["lastTimestamp"], "2024-01-01T00:00:10Z");

  // A different message is a different event.
  rec->record(ref, EventType::kWarning, reasons::kBackOffStartContainer, "other");
  loop_.runPending();
  EXPECT_EQ(request(3).method, "POST");
}

TEST_F(EventRecorderTest, ExpiredEventIsCreatedAnew) {
  auto rec = makeRecorder();
  ObjectRef ref = podRef(pod_);
  rec->record(ref, EventType::kNormal, "Pulling", "Pulling image");
  loop_.runPending();
  handler_ = [](const Request& req) {
    return req.method == "PATCH" ? statusAnswer(404, "NotFound") : answer(201);
  };
  loop_.advance(std::chrono::seconds(7));
  rec->record(ref, EventType::kNormal, "Pulling", "Pulling image");
  loop_.runPending();

  ASSERT_EQ(api_.requests().size(), 3u);
  EXPECT_EQ(request(1).method, "PATCH");
  EXPECT_EQ(request(2).method, "POST");
  json e = body(2);
  EXPECT_EQ(e["metadata"]["name"], body(0)["metadata"]["name"]);
  EXPECT_EQ(e["count"], 2);
  EXPECT_EQ(e["firstTimestamp"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(e["lastTimestamp"], "2024-01-01T00:00:07Z");
  EXPECT_EQ(rec->dropped(), 0u);
}

TEST_F(EventRecorderTest, SpamFilterAllowsBurstOf25PerObjectThenOneEvery5Minutes) {
  auto rec = makeRecorder();
  ObjectRef ref = podRef(pod_);
  // Distinct reasons, so that neither counting nor aggregation merges them.
  for (int i = 0; i < 30; ++i) {
    rec->record(ref, EventType::kNormal, "Reason" + std::to_string(i), "m");
  }
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 25u);
  EXPECT_EQ(body(24)["reason"], "Reason24");

  // Another object has its own bucket.
  api::Pod other = pod_;
  other.metadata.name = "other";
  other.metadata.uid = "uid-2";
  rec->record(podRef(other), EventType::kNormal, "Reason0", "m");
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 26u);

  // One token back after 5 minutes.
  loop_.advance(std::chrono::minutes(5));
  rec->record(ref, EventType::kNormal, "Late1", "m");
  rec->record(ref, EventType::kNormal, "Late2", "m");
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 27u);
  EXPECT_EQ(body(26)["reason"], "Late1");
}

TEST_F(EventRecorderTest, TenSimilarEventsAreCombined) {
  auto rec = makeRecorder();
  ObjectRef ref = podRef(pod_);
  for (int i = 0; i < 9; ++i) {
    rec->record(ref, EventType::kWarning, "FailedMount", "volume v" + std::to_string(i));
    loop_.runPending();
    loop_.advance(std::chrono::seconds(1));
  }
  ASSERT_EQ(api_.requests().size(), 9u);
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(body(i)["message"], "volume v" + std::to_string(i));

  rec->record(ref, EventType::kWarning, "FailedMount", "volume v9");
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 10u);
  EXPECT_EQ(request(9).method, "POST");
  json combined = body(9);
  EXPECT_EQ(combined["message"], "(combined from similar events): volume v9");
  EXPECT_EQ(combined["reason"], "FailedMount");
  EXPECT_EQ(combined["count"], 1);

  // Further similar events update the combined one.
  loop_.advance(std::chrono::seconds(1));
  rec->record(ref, EventType::kWarning, "FailedMount", "volume v10");
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 11u);
  EXPECT_EQ(request(10).method, "PATCH");
  EXPECT_EQ(request(10).path,
            "/api/v1/namespaces/ns1/events/" + combined["metadata"]["name"].get<std::string>());
  EXPECT_EQ(body(10)["count"], 2);
  EXPECT_EQ(body(10)["message"], "(combined from similar events): volume v10");

  // After 10 quiet minutes the window starts over.
  loop_.advance(std::chrono::minutes(11));
  rec->record(ref, EventType::kWarning, "FailedMount", "volume fresh");
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 12u);
  EXPECT_EQ(request(11).method, "POST");
  EXPECT_EQ(body(11)["message"], "volume fresh");
}

TEST_F(EventRecorderTest, RetriesTwelveTimesThenDrops) {
  handler_ = [](const Request&) { return transportError(); };
  auto rec = makeRecorder();
  rec->record(podRef(pod_), EventType::kNormal, "Started", "Started container web");
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);

  // The first wait is a random part of 10 s (0.5 here), the rest 10 s each.
  loop_.advance(std::chrono::milliseconds(4900));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 1u);
  loop_.advance(std::chrono::milliseconds(100));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 2u);
  for (int i = 0; i < 20; ++i) {
    loop_.advance(std::chrono::seconds(10));
    loop_.runPending();
  }
  EXPECT_EQ(api_.requests().size(), 12u);
  EXPECT_EQ(rec->dropped(), 1u);
  EXPECT_FALSE(rec->busy());
  for (const Request& r : api_.requests()) EXPECT_EQ(r.method, "POST");

  // The recorder carries on with the next event.
  handler_ = nullptr;
  rec->record(podRef(pod_), EventType::kNormal, "Killing", "Stopping container web");
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 13u);
  EXPECT_EQ(body(12)["reason"], "Killing");
}

TEST_F(EventRecorderTest, ServerErrorsRetryAndRejectionsDrop) {
  int calls = 0;
  handler_ = [&](const Request&) {
    return ++calls == 1 ? statusAnswer(503, "ServiceUnavailable") : answer(201);
  };
  auto rec = makeRecorder();
  rec->record(podRef(pod_), EventType::kNormal, "Created", "Created container web");
  loop_.runPending();
  loop_.advance(std::chrono::seconds(5));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 2u);
  EXPECT_EQ(rec->dropped(), 0u);

  handler_ = [](const Request&) { return statusAnswer(422, "Invalid"); };
  rec->record(podRef(pod_), EventType::kNormal, "Other", "m");
  loop_.runPending();
  loop_.advance(std::chrono::minutes(5));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 3u);
  EXPECT_EQ(rec->dropped(), 1u);

  handler_ = [](const Request&) { return statusAnswer(409, "AlreadyExists"); };
  rec->record(podRef(pod_), EventType::kNormal, "Third", "m");
  loop_.runPending();
  loop_.advance(std::chrono::minutes(5));
  loop_.runPending();
  EXPECT_EQ(api_.requests().size(), 4u);
  EXPECT_FALSE(rec->busy());
}

TEST_F(EventRecorderTest, QueueIsBoundedAndDropsTheOldest) {
  EXPECT_EQ(RecorderOptions{}.maxQueued, 1000u);
  handler_ = [](const Request&) { return transportError(); };
  RecorderOptions opts;
  opts.maxQueued = 3;
  auto rec = makeRecorder(opts);
  rec->record(podRef(pod_), EventType::kNormal, "First", "m");
  loop_.runPending();  // "First" is being written (and failing).
  ASSERT_TRUE(rec->busy());
  for (int i = 1; i <= 5; ++i) {
    rec->record(podRef(pod_), EventType::kNormal, "Queued" + std::to_string(i), "m");
  }
  EXPECT_EQ(rec->queued(), 3u);
  EXPECT_EQ(rec->dropped(), 2u);

  handler_ = nullptr;
  loop_.advance(std::chrono::seconds(5));
  loop_.runPending();
  std::vector<std::string> sent;
  for (size_t i = 0; i < api_.requests().size(); ++i) {
    if (i > 0) sent.push_back(body(i)["reason"]);
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"First", "Queued3", "Queued4", "Queued5"}));
  EXPECT_EQ(rec->queued(), 0u);
}

TEST_F(EventRecorderTest, RecordFromAnotherThreadIsPostedToTheLoop) {
  auto rec = makeRecorder();
  std::thread t([&] {
    rec->record(podRef(pod_), EventType::kWarning, "Unhealthy", "Liveness probe failed");
  });
  t.join();
  loop_.runPending();
  ASSERT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(body(0)["reason"], "Unhealthy");
  EXPECT_EQ(body(0)["type"], "Warning");
}

TEST_F(EventRecorderTest, DestroyedWithRequestInFlightIsSafe) {
  auto rec = makeRecorder();
  rec->record(podRef(pod_), EventType::kNormal, "Started", "m");
  loop_.runPending();
  rec->record(podRef(pod_), EventType::kNormal, "Started2", "m");
  rec.reset();
  loop_.runPending();
  loop_.advance(std::chrono::minutes(1));
  SUCCEED();
}

TEST(EventCorrelatorTest, NamesStayUniqueWithinOneInstant) {
  EventCorrelator c;
  core::WallTime t{std::chrono::seconds(100)};
  EXPECT_EQ(c.eventName("p", t), "p.174876e800");
  EXPECT_EQ(c.eventName("p", t), "p.174876e801");
  EXPECT_EQ(formatTime(t), "1970-01-01T00:01:40Z");
}

TEST(EventCorrelatorTest, SkippedEventsStillCount) {
  // As upstream: the logger counts before the spam filter, so the next update
  // that gets through reports every occurrence.
  CorrelatorOptions opts;
  opts.spamBurst = 2;
  EventCorrelator c(opts);
  core::WallTime wall{std::chrono::seconds(1000)};
  core::MonoTime mono{std::chrono::seconds(1000)};
  Event e;
  e.name = "p.1";
  e.namespace_ = "ns";
  e.involved = ObjectRef{.kind = "Pod", .namespace_ = "ns", .name = "p", .uid = "u"};
  e.reason = "BackOff";
  e.message = "m";
  e.type = "Warning";
  e.sourceComponent = "kubelet";
  EXPECT_FALSE(c.correlate(e, wall, mono).patch);
  EXPECT_TRUE(c.correlate(e, wall, mono).patch);
  EXPECT_TRUE(c.correlate(e, wall, mono).skip);
  CorrelateResult later = c.correlate(e, wall, mono + std::chrono::minutes(5));
  ASSERT_FALSE(later.skip);
  EXPECT_EQ(later.event.count, 4);
  EXPECT_EQ(json::parse(*later.patch)["count"], 4);
}

}  // namespace
}  // namespace agent::events

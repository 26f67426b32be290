// Recording core/v1 Events the way the kubelet's recorder (client-go tools/record)
// does. record() never blocks and never fails: the event is logged at --v=3, queued
// (at most 1000; the oldest is dropped, with a log line, beyond that) and written
// later on the loop, one request at a time, in order:
//  - correlated first (event_correlator.h): a repeat becomes a strategic merge
//    PATCH of count and lastTimestamp on the first event, similar events are
//    combined, a noisy object is throttled;
//  - POST /api/v1/namespaces/<ns>/events, or PATCH .../events/<name> (a 404 there
//    means the event expired: it is created anew, count and all);
//  - a transport error, 429 or 5xx is retried up to 12 tries in all, 10 s apart
//    (the first wait a random part of that, so nodes that failed together do not
//    retry together); the event waits at the head of the queue meanwhile. Any other
//    answer (AlreadyExists, a namespace being deleted, validation) drops the event.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/events/event_correlator.h"
#include "agent/events/event_reasons.h"
#include "agent/events/object_ref.h"
#include "agent/kubeapi/api_client.h"
#include "core/event_loop.h"

namespace agent::events {

enum class EventType { kNormal, kWarning };
std::string_view typeName(EventType t);

// What the agent's components hold. Implementations must be cheap and safe to
// call from anywhere on the loop, including inside other callbacks.
class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  virtual void record(const ObjectRef& involved, EventType type, std::string_view reason,
                      std::string_view message) = 0;
};
using EventRecorderPtr = std::unique_ptr<EventRecorder>;

// For an agent without an API server (static pods only): events are only logged,
// as the kubelet does without an event client.
class LogOnlyEventRecorder : public EventRecorder {
 public:
  void record(const ObjectRef& involved, EventType type, std::string_view reason,
              std::string_view message) override;
};

struct RecorderOptions {
  std::string nodeName;  // source.host and reportingInstance.
  std::string component = std::string(kKubeletComponent);
  size_t maxQueued = 1000;  // Waiting events, beside the one being written.
  int maxTries = 12;
  core::Duration retryInterval = std::chrono::seconds(10);
  core::Duration requestTimeout = std::chrono::seconds(30);
  CorrelatorOptions correlator;
  // Values in [0, 1) for the first retry's jitter; a seeded generator by default.
  std::function<double()> random;
};

// Writes events through the API client. Not thread-safe beyond record(), which
// may be called from any thread (off the loop it posts to the loop).
class ApiEventRecorder : public EventRecorder {
 public:
  ApiEventRecorder(core::EventLoop& loop, kubeapi::ApiClient& client, RecorderOptions opts);
  ~ApiEventRecorder() override;
  ApiEventRecorder(const ApiEventRecorder&) = delete;
  ApiEventRecorder& operator=(const ApiEventRecorder&) = delete;

  void record(const ObjectRef& involved, EventType type, std::string_view reason,
              std::string_view message) override;

  // Events waiting behind the one being written.
  size_t queued() const { return queue_.size(); }
  // Events given up on: queue overflow, retries exhausted, rejected by the API.
  uint64_t dropped() const { return dropped_; }
  // Whether an event is being written or waits for a retry.
  bool busy() const { return current_.has_value(); }

 private:
  struct InFlight {
    CorrelateResult result;
    int tries = 0;
  };

  void enqueue(Event e);
  void schedulePump();
  void pump();
  void attempt();
  void sendCreate();
  void onAnswer(const kubeapi::Request& req, const kubeapi::Response& resp, bool wasPatch);
  void finishCurrent();

  core::EventLoop& loop_;
  kubeapi::ApiClient& client_;
  RecorderOptions opts_;
  EventCorrelator correlator_;
  std::deque<Event> queue_;
  std::optional<InFlight> current_;
  bool requestPending_ = false;
  bool pumpScheduled_ = false;
  core::TimerPtr retryTimer_;
  uint64_t dropped_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The Event as POSTed: every field the kubelet sends, eventTime null.
std::string eventJson(const Event& e);

}  // namespace agent::events

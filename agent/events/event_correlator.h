// The event correlator of client-go's tools/record (events_cache.go), which every
// kubelet event passes through before it is written: pure bookkeeping, no I/O.
//
// In order, for each event:
//  1. Aggregator: events alike in source, involved object, type and reason but
//     with different messages are counted per 10-minute window (reset when 10
//     minutes pass without one); from the 10th distinct message on, the event is
//     replaced by one "(combined from similar events): <message>" event, which
//     later ones update.
//  2. Logger: an event seen before (same key: source, involved object, type,
//     reason, message) becomes an update of the first one: same name and
//     firstTimestamp, count + 1, sent as a strategic merge patch of count,
//     lastTimestamp and message.
//  3. Spam filter: a token bucket per source + involved object (burst 25, one
//     token per 5 minutes) drops what exceeds it. The logger has counted the
//     event already, as upstream does, so the next update carries the true count.
// Each cache is an LRU of 4096 entries.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "agent/events/object_ref.h"
#include "core/event_loop.h"

namespace agent::events {

struct Event {
  std::string name{};
  std::string namespace_{};
  ObjectRef involved{};
  std::string reason{};
  std::string message{};
  std::string type{};  // "Normal" or "Warning".
  std::string sourceComponent{};
  std::string sourceHost{};
  core::WallTime firstTimestamp{};
  core::WallTime lastTimestamp{};
  int32_t count = 1;
  // Go's Event.ReportingController; JSON "reportingComponent".
  std::string reportingComponent{};
  std::string reportingInstance{};
};

struct CorrelatorOptions {
  size_t lruCacheSize = 4096;
  int spamBurst = 25;
  // One spam-filter token comes back per this interval (qps 1/300).
  core::Duration spamRefillInterval = std::chrono::minutes(5);
  size_t aggregateMaxEvents = 10;
  core::Duration aggregateInterval = std::chrono::minutes(10);
};

struct CorrelateResult {
  Event event;
  // Set when the event updates one already written: the strategic merge patch
  // body for PATCH .../events/<event.name>.
  std::optional<std::string> patch;
  bool skip = false;
};

namespace detail {

// A least-recently-used map of bounded size (groupcache/lru semantics: get and
// add both make an entry the most recent; add beyond the bound evicts the oldest).
template <typename V>
class LruCache {
 public:
  explicit LruCache(size_t maxEntries) : max_(maxEntries) {}
  V* get(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  void add(const std::string& key, V value) {
    if (V* v = get(key)) {
      *v = std::move(value);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (max_ > 0 && order_.size() > max_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }
  size_t size() const { return order_.size(); }

 private:
  size_t max_;
  std::list<std::pair<std::string, V>> order_;
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
};

}  // namespace detail

class EventCorrelator {
 public:
  explicit EventCorrelator(CorrelatorOptions opts = {});

  // Filters, aggregates and counts `e` at `now` (wall time for timestamps and
  // names, `mono` for intervals and the token buckets).
  CorrelateResult correlate(Event e, core::WallTime now, core::MonoTime mono);

  // "<name>.<hex unix nanos>", the name the recorder gives a new event. Two names
  // made for the same instant still differ (the nanos are kept increasing), which
  // matters on a simulated clock and for bursts within one clock tick.
  std::string eventName(const std::string& involvedName, core::WallTime now);

 private:
  struct AggregateRecord {
    std::set<std::string> localKeys;  // Distinct messages seen in the window.
    core::MonoTime last{};
    bool valid = false;
  };
  struct EventLog {
    int32_t count = 0;
    core::WallTime firstTimestamp{};
    std::string name;
  };
  struct TokenBucket {
    double tokens = 0;
    core::MonoTime last{};
  };

  std::pair<Event, std::string> aggregate(Event e, core::WallTime now, core::MonoTime mono);
  std::optional<std::string> observe(Event& e, const std::string& key);
  bool spamFiltered(const Event& e, core::MonoTime mono);

  CorrelatorOptions opts_;
  detail::LruCache<AggregateRecord> aggregates_;
  detail::LruCache<EventLog> logs_;
  detail::LruCache<TokenBucket> spam_;
  int64_t lastNameNanos_ = 0;
};

// The correlation keys, as upstream builds them (fields joined without separator).
std::string eventKey(const Event& e);
std::string spamKey(const Event& e);

// RFC 3339 in UTC with seconds, as metav1.Time marshals: "2024-01-01T00:00:00Z".
std::string formatTime(core::WallTime t);

}  // namespace agent::events

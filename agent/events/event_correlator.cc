#include "agent/events/event_correlator.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace agent::events {
namespace {

constexpr char kCombinedPrefix[] = "(combined from similar events): ";

// Source, involved object (without fieldPath), type, reason and reporter: what
// makes events "similar" for the aggregator (EventAggregatorByReasonFunc).
std::string aggregateKey(const Event& e) {
  const ObjectRef& o = e.involved;
  return absl::StrCat(e.sourceComponent, e.sourceHost, o.kind, o.namespace_, o.name, o.uid,
                      o.apiVersion, e.type, e.reason, e.reportingComponent, e.reportingInstance);
}

int64_t unixNanos(core::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string eventKey(const Event& e) {
  const ObjectRef& o = e.involved;
  return absl::StrCat(e.sourceComponent, e.sourceHost, o.kind, o.namespace_, o.name, o.fieldPath,
                      o.uid, o.apiVersion, e.type, e.reason, e.message);
}

std::string spamKey(const Event& e) {
  const ObjectRef& o = e.involved;
  return absl::StrCat(e.sourceComponent, e.sourceHost, o.kind, o.namespace_, o.name, o.uid,
                      o.apiVersion);
}

std::string formatTime(core::WallTime t) {
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  if (std::chrono::seconds(secs) > t.time_since_epoch()) --secs;  // Floor for times before 1970.
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

EventCorrelator::EventCorrelator(CorrelatorOptions opts)
    : opts_(opts),
      aggregates_(opts.lruCacheSize),
      logs_(opts.lruCacheSize),
      spam_(opts.lruCacheSize) {}

std::string EventCorrelator::eventName(const std::string& involvedName, core::WallTime now) {
  int64_t nanos = std::max(unixNanos(now), lastNameNanos_ + 1);
  lastNameNanos_ = nanos;
  return absl::StrFormat("%s.%x", involvedName, nanos);
}

std::pair<Event, std::string> EventCorrelator::aggregate(Event e, core::WallTime now,
                                                         core::MonoTime mono) {
  std::string fullKey = eventKey(e);
  std::string aggKey = aggregateKey(e);
  AggregateRecord record;
  if (AggregateRecord* found = aggregates_.get(aggKey)) record = *found;
  if (!record.valid || mono - record.last > opts_.aggregateInterval) record = AggregateRecord{};
  record.valid = true;
  record.localKeys.insert(e.message);
  record.last = mono;
  bool aggregateNow = record.localKeys.size() >= opts_.aggregateMaxEvents;
  // Upstream pops an arbitrary member so the set never grows past the maximum:
  // the next new message aggregates again, a repeat of a kept one does not.
  if (aggregateNow) record.localKeys.erase(record.localKeys.begin());
  aggregates_.add(aggKey, record);
  if (!aggregateNow) return {std::move(e), std::move(fullKey)};

  Event combined;
  combined.name = eventName(e.involved.name, now);
  combined.namespace_ = e.namespace_;
  combined.involved = e.involved;
  combined.reason = e.reason;
  combined.message = kCombinedPrefix + e.message;
  combined.type = e.type;
  combined.sourceComponent = e.sourceComponent;
  combined.sourceHost = e.sourceHost;
  combined.firstTimestamp = now;
  combined.lastTimestamp = now;
  combined.count = 1;
  // Upstream leaves the reporting fields of the combined event empty; the API
  // accepts both, and a reader is better served by knowing who reported it.
  combined.reportingComponent = e.reportingComponent;
  combined.reportingInstance = e.reportingInstance;
  return {std::move(combined), std::move(aggKey)};
}

std::optional<std::string> EventCorrelator::observe(Event& e, const std::string& key) {
  std::optional<std::string> patch;
  EventLog* last = logs_.get(key);
  if (last != nullptr && last->count > 0) {
    e.name = last->name;
    e.firstTimestamp = last->firstTimestamp;
    e.count = last->count + 1;
    // The two-way strategic merge patch between the event with count 0, epoch
    // lastTimestamp and no message, and the event itself: exactly these fields.
    nlohmann::json p = nlohmann::json::object();
    p["count"] = e.count;
    p["lastTimestamp"] = formatTime(e.lastTimestamp);
    if (!e.message.empty()) p["message"] = e.message;
    patch = p.dump();
  }
  logs_.add(key, EventLog{e.count, e.firstTimestamp, e.name});
  return patch;
}

bool EventCorrelator::spamFiltered(const Event& e, core::MonoTime mono) {
  std::string key = spamKey(e);
  TokenBucket bucket;
  if (TokenBucket* found = spam_.get(key)) {
    bucket = *found;
    double refill = std::chrono::duration<double>(mono - bucket.last) /
                    std::chrono::duration<double>(opts_.spamRefillInterval);
    bucket.tokens = std::min<double>(opts_.spamBurst, bucket.tokens + std::max(0.0, refill));
  } else {
    bucket.tokens = opts_.spamBurst;
  }
  bucket.last = mono;
  bool filtered = bucket.tokens < 1.0;
  if (!filtered) bucket.tokens -= 1.0;
  spam_.add(key, bucket);
  return filtered;
}

CorrelateResult EventCorrelator::correlate(Event e, core::WallTime now, core::MonoTime mono) {
  auto [event, key] = aggregate(std::move(e), now, mono);
  CorrelateResult result;
  result.patch = observe(event, key);
  if (spamFiltered(event, mono)) {
    result.skip = true;
    result.patch.reset();
    return result;
  }
  result.event = std::move(event);
  return result;
}

}  // namespace agent::events

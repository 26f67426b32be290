// Backoff policies. Backoff is the kubelet's per-key restart backoff
// (k8s.io/client-go/util/flowcontrol.Backoff, without jitter): the CrashLoopBackOff
// delays 10 s, 20 s, ... capped at 300 s, forgotten after 2 * max without a failure.
// ExponentialBackoff is a single jittered sequence for reconnect loops.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "core/event_loop.h"

namespace core {

// Not thread-safe: owned by the loop thread like the rest of agent state.
class Backoff {
 public:
  Backoff(const Clock& clock, Duration initial, Duration max);

  // Records a failure of `id` observed at `eventTime` (for a container: when it
  // finished): the first, or the first after a quiet period longer than 2 * max,
  // sets the delay to `initial`; each later one doubles it, up to `max`.
  void next(const std::string& id, MonoTime eventTime);
  // Whether `id` must still wait: less than its current delay has passed since
  // `eventTime`. An unknown id, or one whose last failure is more than 2 * max
  // before `eventTime`, is not in backoff.
  bool isInBackOffSince(const std::string& id, MonoTime eventTime) const;
  // The current delay of `id`; zero when unknown.
  Duration get(const std::string& id) const;
  void reset(const std::string& id);
  // Forgets ids not updated for more than 2 * max. Call periodically.
  void gc();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Duration backoff;
    MonoTime lastUpdate;
  };
  bool hasExpired(MonoTime eventTime, MonoTime lastUpdate) const {
    return eventTime - lastUpdate > 2 * max_;
  }

  const Clock& clock_;
  Duration initial_;
  Duration max_;
  std::unordered_map<std::string, Entry> entries_;
};

// initial, 2*initial, 4*initial, ... capped at max, each delay stretched by a
// random fraction in [0, jitter) of itself so that many clients that failed
// together do not retry together.
class ExponentialBackoff {
 public:
  // `random` returns values in [0, 1); by default a generator seeded per instance.
  ExponentialBackoff(Duration initial, Duration max, double jitter = 0.1,
                     std::function<double()> random = nullptr);

  Duration nextDelay();
  // Back to `initial`, after a success.
  void reset() { current_ = initial_; }

 private:
  Duration initial_;
  Duration max_;
  double jitter_;
  std::function<double()> random_;
  Duration current_;
};

}  // namespace core

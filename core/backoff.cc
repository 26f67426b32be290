#include "core/backoff.h"

#include <algorithm>
#include <memory>
#include <random>

namespace core {

Backoff::Backoff(const Clock& clock, Duration initial, Duration max)
    : clock_(clock), initial_(initial), max_(max) {}

void Backoff::next(const std::string& id, MonoTime eventTime) {
  auto it = entries_.find(id);
  if (it == entries_.end() || hasExpired(eventTime, it->second.lastUpdate)) {
    Entry& e = entries_[id];
    e.backoff = initial_;
    e.lastUpdate = clock_.monotonicNow();
    return;
  }
  it->second.backoff = std::min(it->second.backoff * 2, max_);
  it->second.lastUpdate = clock_.monotonicNow();
}

bool Backoff::isInBackOffSince(const std::string& id, MonoTime eventTime) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  if (hasExpired(eventTime, it->second.lastUpdate)) return false;
  return clock_.monotonicNow() - eventTime < it->second.backoff;
}

Duration Backoff::get(const std::string& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? Duration::zero() : it->second.backoff;
}

void Backoff::reset(const std::string& id) { entries_.erase(id); }

void Backoff::gc() {
  MonoTime now = clock_.monotonicNow();
  std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.lastUpdate > 2 * max_; });
}

ExponentialBackoff::ExponentialBackoff(Duration initial, Duration max, double jitter,
                                       std::function<double()> random)
    : initial_(initial), max_(max), jitter_(jitter), random_(std::move(random)), current_(initial) {
  if (!random_) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
}

Duration ExponentialBackoff::nextDelay() {
  Duration base = current_;
  current_ = std::min(current_ * 2, max_);
  double r = std::clamp(random_(), 0.0, 1.0);
  return base + std::chrono::round<Duration>(
                    std::chrono::duration<double, std::milli>(base.count() * jitter_ * r));
}

}  // namespace core

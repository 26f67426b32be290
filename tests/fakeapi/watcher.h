// One open watch on the fake API server's store: a queue of encoded watch events
// ({"type":..,"object":..}) with the selection the watch was opened with. The store
// fills it under its own lock; the connection thread drains it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/fakeapi/selectors.h"

namespace cubelet::fakeapi {

struct ResourceInfo;

// Which objects a list or watch selects.
struct Selection {
  std::string ns;  // empty: every namespace
  LabelSelector labels;
  FieldSelector fields;
  bool matches(const nlohmann::json& obj) const;
};

class Watcher {
 public:
  Watcher(const ResourceInfo& info, Selection sel) : info_(info), sel_(std::move(sel)) {}

  enum class Next { kEvent, kTimeout, kClosed };
  // Waits until an event is queued (moved to *line), `deadline` passes, or the watch is
  // closed (queued events are still delivered first).
  Next next(std::string* line, std::chrono::steady_clock::time_point deadline);
  // Ends the watch after the queued events; `final` (e.g. an ERROR event) is queued last.
  void close(const std::string& finalLine = "");
  bool closed() const;

  const ResourceInfo& info() const { return info_; }
  const Selection& selection() const { return sel_; }
  // Queues an encoded event (called by the store under its lock).
  void push(std::string line);

 private:
  const ResourceInfo& info_;
  const Selection sel_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};
using WatcherPtr = std::shared_ptr<Watcher>;

// {"type": type, "object": obj} as one line (no trailing newline).
std::string encodeWatchEvent(const std::string& type, const nlohmann::json& obj);

}  // namespace cubelet::fakeapi

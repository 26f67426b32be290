#include "tests/fakeapi/watcher.h"

namespace cubelet::fakeapi {

bool Selection::matches(const nlohmann::json& obj) const {
  const auto& meta = obj.value("metadata", nlohmann::json::object());
  if (!ns.empty() && meta.value("namespace", "") != ns) return false;
  return labels.matches(meta.value("labels", nlohmann::json::object())) && fields.matches(obj);
}

Watcher::Next Watcher::next(std::string* line, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return !queue_.empty() || closed_; });
  if (!queue_.empty()) {
    *line = std::move(queue_.front());
    queue_.pop_front();
    return Next::kEvent;
  }
  return closed_ ? Next::kClosed : Next::kTimeout;
}

void Watcher::close(const std::string& finalLine) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (!finalLine.empty()) queue_.push_back(finalLine);
  closed_ = true;
  cv_.notify_all();
}

bool Watcher::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void Watcher::push(std::string line) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  queue_.push_back(std::move(line));
  cv_.notify_all();
}

std::string encodeWatchEvent(const std::string& type, const nlohmann::json& obj) {
  return nlohmann::json{{"type", type}, {"object", obj}}.dump();
}

}  // namespace cubelet::fakeapi

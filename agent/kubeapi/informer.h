// Informer<T>: a Reflector plus the typed cache the agent reads, keyed
// "namespace/name", with add/update/delete handlers (client-go's shared informer,
// minus the sharing). Objects are decoded once into T and shared immutably; no
// JSON is kept. A relist replaces the cache at once and reports the difference
// (deletes for objects gone, adds and updates for the rest); an object whose
// resourceVersion did not change is neither decoded again nor reported.
//
// An object that fails to decode is logged with its key and the field error and
// skipped; on a watch update the previous version stays in the cache.
//
// Handlers run on the loop. They must not destroy the informer (post that).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "agent/kubeapi/reflector.h"
#include "core/log.h"

namespace agent::kubeapi {

template <typename T>
class Informer : private ReflectorSink {
 public:
  using ObjectPtr = std::shared_ptr<const T>;
  using Decode = std::function<absl::StatusOr<T>(const nlohmann::json&)>;
  struct Handlers {
    std::function<void(const ObjectPtr&)> onAdd;
    std::function<void(const ObjectPtr& oldObj, const ObjectPtr& newObj)> onUpdate;
    std::function<void(const ObjectPtr&)> onDelete;
    // Once, after the first complete list (its adds already reported).
    std::function<void()> onSynced;
  };

  Informer(core::EventLoop& loop, ApiClient& client, ReflectorConfig config, Decode decode,
           Handlers handlers = {})
      : decode_(std::move(decode)),
        handlers_(std::move(handlers)),
        reflector_(loop, client, std::move(config), *this) {}

  void start() { reflector_.start(); }

  // True once the first list has been applied (then get() answers "not found" truthfully).
  bool hasSynced() const { return synced_; }
  // nullptr when absent.
  ObjectPtr get(const std::string& key) const {
    auto it = items_.find(key);
    return it == items_.end() ? nullptr : it->second.obj;
  }
  size_t size() const { return items_.size(); }
  // Calls fn(key, object) for every cached object, in key order.
  template <typename Fn>
  void forEach(Fn&& fn) const {
    for (const auto& [key, e] : items_) fn(key, e.obj);
  }
  const Reflector& reflector() const { return reflector_; }

 private:
  struct Entry {
    ObjectPtr obj;
    std::string resourceVersion;
  };

  ObjectPtr decode(const std::string& key, const nlohmann::json& obj) {
    absl::StatusOr<T> v = decode_(obj);
    if (!v.ok()) {
      LOG_WARNING << reflector_.name() << ": skipping " << key << ": " << v.status().message();
      return nullptr;
    }
    return std::make_shared<const T>(std::move(*v));
  }

  void listBegin() override { next_.clear(); }

  void listItem(const std::string& key, const std::string& rv, const nlohmann::json& obj) override {
    auto old = items_.find(key);
    if (old != items_.end() && !rv.empty() && old->second.resourceVersion == rv) {
      next_[key] = old->second;  // unchanged: share it, skip decoding
      return;
    }
    ObjectPtr p = decode(key, obj);
    if (p) {
      next_[key] = Entry{std::move(p), rv};
    } else if (old != items_.end()) {
      next_[key] = old->second;  // undecodable now: keep what we had rather than delete it
    }
  }

  void listAborted() override { next_.clear(); }

  void listDone() override {
    std::map<std::string, Entry> old;
    old.swap(items_);
    items_.swap(next_);
    bool first = !synced_;
    synced_ = true;
    // The cache already holds the new state while handlers run.
    for (auto& [key, e] : old) {
      if (items_.count(key) == 0 && handlers_.onDelete) handlers_.onDelete(e.obj);
    }
    for (auto& [key, e] : items_) {
      auto o = old.find(key);
      if (o == old.end()) {
        if (handlers_.onAdd) handlers_.onAdd(e.obj);
      } else if (o->second.obj != e.obj && handlers_.onUpdate) {
        handlers_.onUpdate(o->second.obj, e.obj);
      }
    }
    if (first && handlers_.onSynced) handlers_.onSynced();
  }

  void watchEvent(WatchEventType type, const std::string& key, const std::string& rv,
                  const nlohmann::json& obj) override {
    auto it = items_.find(key);
    if (type == WatchEventType::kDeleted) {
      if (it == items_.end()) return;
      ObjectPtr gone = std::move(it->second.obj);
      items_.erase(it);
      if (handlers_.onDelete) handlers_.onDelete(gone);
      return;
    }
    if (it != items_.end() && !rv.empty() && it->second.resourceVersion == rv) return;
    ObjectPtr p = decode(key, obj);
    if (!p) return;
    if (it == items_.end()) {
      items_.emplace(key, Entry{p, rv});
      if (handlers_.onAdd) handlers_.onAdd(p);
    } else {
      ObjectPtr prev = std::exchange(it->second.obj, p);
      it->second.resourceVersion = rv;
      if (handlers_.onUpdate) handlers_.onUpdate(prev, p);
    }
  }

  Decode decode_;
  Handlers handlers_;
  std::map<std::string, Entry> items_;
  std::map<std::string, Entry> next_;  // a relist in progress
  bool synced_ = false;
  Reflector reflector_;  // last: destroyed first, so no callback reaches a dead cache
};

}  // namespace agent::kubeapi

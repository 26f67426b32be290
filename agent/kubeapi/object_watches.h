// The kubelet's watch-based ConfigMap/Secret manager: the objects the node's pods
// reference, each watched on its own (a list/watch in its namespace with
// fieldSelector=metadata.name=<name>, the only list/watch of them the Node
// authorizer allows a node), refcounted by the pods that use them. A lookup answers
// "not known yet", "does not exist" or the object; a change callback tells the agent
// when any of them changes so it can re-sync the pods that reference it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/api/config_objects.h"
#include "agent/kubeapi/informer.h"

namespace agent::kubeapi {

// The reflector config for one object: "/api/v1/namespaces/<ns>/<resource>",
// fieldSelector=metadata.name=<name>, on top of `base` (timeouts, backoff).
ReflectorConfig singleObjectConfig(const ReflectorConfig& base, const std::string& resource,
                                   const std::string& ns, const std::string& name);

template <typename T>
class ObjectWatches {
 public:
  enum class State { kUnknown, kNotFound, kFound };
  struct Lookup {
    State state = State::kUnknown;
    std::shared_ptr<const T> object;  // set when kFound
  };
  using Decode = typename Informer<T>::Decode;
  // The object (namespace, name) appeared, changed, vanished, or is now known not
  // to exist. Runs on the loop; may call acquire()/release().
  using OnChange = std::function<void(const std::string& ns, const std::string& name)>;

  // `resource` is the API resource: "configmaps", "secrets".
  ObjectWatches(core::EventLoop& loop, ApiClient& client, std::string resource, Decode decode,
                OnChange onChange, ReflectorConfig base = {})
      : loop_(loop),
        client_(client),
        resource_(std::move(resource)),
        decode_(std::move(decode)),
        onChange_(std::move(onChange)),
        base_(std::move(base)) {}
  ~ObjectWatches() { *alive_ = false; }
  ObjectWatches(const ObjectWatches&) = delete;
  ObjectWatches& operator=(const ObjectWatches&) = delete;

  // One more user of the object; the first starts its watch.
  void acquire(const std::string& ns, const std::string& name) {
    Item& item = items_[{ns, name}];
    if (item.refs++ > 0) return;
    item.informer = std::make_unique<Informer<T>>(loop_, client_,
                                                  singleObjectConfig(base_, resource_, ns, name),
                                                  decode_, handlersFor(ns, name));
    item.informer->start();
  }

  // One user fewer; the last stops the watch (after the current callback returns).
  void release(const std::string& ns, const std::string& name) {
    auto it = items_.find({ns, name});
    if (it == items_.end()) return;
    if (--it->second.refs > 0) return;
    retired_.push_back(std::move(it->second.informer));
    items_.erase(it);
    auto alive = alive_;
    loop_.post([this, alive] {
      if (*alive) retired_.clear();
    });
  }

  Lookup lookup(const std::string& ns, const std::string& name) const {
    auto it = items_.find({ns, name});
    if (it == items_.end() || !it->second.informer->hasSynced()) return {};
    auto obj = it->second.informer->get(objectKey(ns, name));
    if (!obj) return {State::kNotFound, nullptr};
    return {State::kFound, std::move(obj)};
  }

  // Objects watched now, and the users of one.
  size_t size() const { return items_.size(); }
  int refCount(const std::string& ns, const std::string& name) const {
    auto it = items_.find({ns, name});
    return it == items_.end() ? 0 : it->second.refs;
  }

 private:
  struct Item {
    int refs = 0;
    std::unique_ptr<Informer<T>> informer;
  };

  typename Informer<T>::Handlers handlersFor(const std::string& ns, const std::string& name) {
    typename Informer<T>::Handlers h;
    auto changed = [this, ns, name](const auto&...) {
      if (onChange_) onChange_(ns, name);
    };
    h.onAdd = changed;
    h.onUpdate = changed;
    h.onDelete = changed;
    // Found objects were reported by onAdd; "does not exist" is news too.
    h.onSynced = [this, ns, name] {
      if (lookup(ns, name).state == State::kNotFound && onChange_) onChange_(ns, name);
    };
    return h;
  }

  core::EventLoop& loop_;
  ApiClient& client_;
  std::string resource_;
  Decode decode_;
  OnChange onChange_;
  ReflectorConfig base_;
  std::map<std::pair<std::string, std::string>, Item> items_;
  std::vector<std::unique_ptr<Informer<T>>> retired_;  // released, destroyed from a post
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

using ConfigMapWatches = ObjectWatches<api::ConfigMap>;
using SecretWatches = ObjectWatches<api::Secret>;

std::unique_ptr<ConfigMapWatches> makeConfigMapWatches(core::EventLoop& loop, ApiClient& client,
                                                       ConfigMapWatches::OnChange onChange,
                                                       ReflectorConfig base = {});
std::unique_ptr<SecretWatches> makeSecretWatches(core::EventLoop& loop, ApiClient& client,
                                                 SecretWatches::OnChange onChange,
                                                 ReflectorConfig base = {});

}  // namespace agent::kubeapi

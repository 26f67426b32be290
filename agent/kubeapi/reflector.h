// The list-then-watch machinery of client-go's Reflector, on the event loop: list a
// collection (paginated), then watch it from the list's resourceVersion with
// bookmarks; re-watch from the last resourceVersion when a watch times out; relist
// on 410 Gone (an HTTP 410 or an ERROR event carrying a 410 Status); reconnect with
// jittered exponential backoff after transport errors, 5xx, 429 and 403.
//
// The reflector parses each list item and watch event and hands the JSON to a
// ReflectorSink only for the duration of the call: the sink (an Informer) decodes it
// into a typed object and nothing keeps the JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/kubeapi/api_client.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::kubeapi {

struct ReflectorConfig {
  // The collection: "/api/v1/pods", "/api/v1/namespaces/ns1/configmaps".
  std::string collectionPath;
  std::string fieldSelector;  // "spec.nodeName=node-1"
  std::string labelSelector;
  int64_t pageSize = 500;  // client-go's default list chunk size
  // Watches ask the server to end after a random time in [min, 2*min), as
  // client-go does, so that load spreads over API servers.
  core::Duration minWatchTimeout = std::chrono::minutes(5);
  // Deadline for each list page, and for a watch's response headers.
  core::Duration requestTimeout = std::chrono::seconds(60);
  // Reconnect backoff (client-go: 800 ms initial, 30 s cap, jittered).
  core::Duration initialBackoff = std::chrono::milliseconds(800);
  core::Duration maxBackoff = std::chrono::seconds(30);
  // Values in [0, 1) for jitter and the watch timeout; nullptr: random.
  std::function<double()> random;
};

enum class WatchEventType { kAdded, kModified, kDeleted };

// Where a reflector delivers objects. `key` is "namespace/name" (or "name" for
// cluster-scoped objects); `obj` is valid only during the call.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A full list starts; items follow, then listDone() or listAborted().
  virtual void listBegin() = 0;
  virtual void listItem(const std::string& key, const std::string& resourceVersion,
                        const nlohmann::json& obj) = 0;
  // The list is complete: everything not listed is gone.
  virtual void listDone() = 0;
  // The list failed part way; a new one will follow.
  virtual void listAborted() = 0;
  virtual void watchEvent(WatchEventType type, const std::string& key,
                          const std::string& resourceVersion, const nlohmann::json& obj) = 0;
};

// "namespace/name" or "name" (client-go's MetaNamespaceKeyFunc).
std::string objectKey(std::string_view ns, std::string_view name);

class Reflector {
 public:
  Reflector(core::EventLoop& loop, ApiClient& client, ReflectorConfig config, ReflectorSink& sink);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Starts listing. Calling it again does nothing.
  void start();

  // "/api/v1/pods?fieldSelector=..." for logs.
  const std::string& name() const { return name_; }
  // The resourceVersion the next watch resumes from ("" before the first list).
  const std::string& lastResourceVersion() const { return resourceVersion_; }
  bool watching() const { return stream_ != nullptr; }
  // Completed lists, for tests and metrics.
  uint64_t listCount() const { return lists_; }

 private:
  enum class Next { kList, kWatch };
  void list();
  void requestPage();
  void onPage(const Request& req, const Response& resp);
  void watch();
  void onWatchLine(std::string_view line);
  void onWatchEnd(const Request& req, const Response& resp);
  // Drops the stream (from a loop callback, never inside its own callback).
  void stopWatch();
  void retryLater(Next next, const std::string& why);
  void schedule(Next next, core::Duration after);
  std::string selectorQuery() const;

  core::EventLoop& loop_;
  ApiClient& client_;
  ReflectorConfig config_;
  ReflectorSink& sink_;
  std::string name_;
  core::ExponentialBackoff backoff_;
  std::function<double()> random_;

  bool started_ = false;
  std::string resourceVersion_;
  // The last version was refused with 410: the next list asks for the latest.
  bool rvExpired_ = false;
  std::string continue_;
  uint64_t lists_ = 0;
  uint64_t requestGeneration_ = 0;  // answers to requests from older generations are dropped
  StreamPtr stream_;
  bool streamClosing_ = false;  // an ERROR event ended it; ignore further lines
  bool streamHealthy_ = false;  // it delivered an event
  core::MonoTime streamStarted_{};
  Next next_ = Next::kList;
  core::TimerPtr timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::kubeapi

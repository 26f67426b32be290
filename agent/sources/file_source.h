// The static pod file source on the event loop: watches staticPodPath with
// inotify, rescans it every fileCheckFrequency as a safety net (and to notice
// the directory appearing), reads manifests on the worker pool, and hands the
// complete set of pods to the consumer. Bad manifests are logged once per
// distinct error and never stop the good ones.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/sources/static_pods.h"
#include "core/event_loop.h"
#include "core/inotify_watcher.h"
#include "core/worker_pool.h"

namespace agent::sources {

// The static pods, each with its manifest JSON (for its mirror pod).
using PodSet = std::vector<StaticPod>;

class FileSource {
 public:
  FileSource(core::EventLoop& loop, core::WorkerPool& pool, std::string path, std::string nodeName,
             core::Duration checkFrequency, std::function<void(const PodSet&)> onPods);
  ~FileSource();

  // Scans synchronously (start-up: the agent must know its pods before it
  // touches the runtime), then watches.
  void start();

 private:
  void ensureWatch();
  void rescan();
  void apply(const struct ManifestScan& scan);

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  std::string path_;
  std::string nodeName_;
  core::Duration checkFrequency_;
  std::function<void(const PodSet&)> onPods_;
  std::unique_ptr<core::DirWatcher> watcher_;
  core::TimerPtr periodic_;
  bool scanning_ = false;
  bool rescanAgain_ = false;
  std::map<std::string, std::shared_ptr<const api::Pod>> byUid_;
  std::set<std::string> reportedErrors_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::sources

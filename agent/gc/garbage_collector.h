// The loop side of garbage collection, as the kubelet's StartGarbageCollection:
// container GC every ContainerGCPeriod (1 min), image GC every ImageGCPeriod
// (5 min; off when imageGCHighThresholdPercent is 100), plus the two reclaims the
// eviction manager asks for under disk pressure. The pods' state is snapshot on the
// loop, the CRI work runs on the worker pool, and results come back to the loop,
// where the node's Warning events are recorded: ContainerGCFailed when a container
// pass fails, the image manager's FreeDiskSpaceFailed / InvalidDiskCapacity, and
// ImageGCFailed when image GC fails twice in a row.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/gc/container_gc.h"
#include "agent/gc/image_gc.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"

namespace agent::gc {

inline constexpr char kContainerGCFailed[] = "ContainerGCFailed";

struct GarbageCollectorOptions {
  core::Duration containerGcPeriod = std::chrono::minutes(1);
  core::Duration imageGcPeriod = std::chrono::minutes(5);
  bool imageGcEnabled = true;  // false when highThresholdPercent is 100
};

struct GarbageCollectorDeps {
  // The pods the workers know, with their state; nullopt while the runtime has not
  // been listed yet (nothing is collected then). Called on the loop.
  std::function<std::optional<PodGcStates>()> podStates;
  // A Warning event on the node. Called on the loop.
  std::function<void(const std::string& reason, const std::string& message)> nodeWarning;
};

class GarbageCollector {
 public:
  using Done = std::function<void(absl::Status)>;

  // Not owned: the loop, the pool and both collectors outlive this object (pool
  // jobs in flight when it is destroyed still use the collectors).
  GarbageCollector(core::EventLoop& loop, core::WorkerPool& pool, ContainerGc& containers,
                   ImageGcManager& images, GarbageCollectorOptions opts, GarbageCollectorDeps deps);
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Records the images present now (their first detection) and arms the timers.
  void start();

  // One container pass now; `evictNonDeletedPods` also clears terminated pods.
  void collectContainers(bool evictNonDeletedPods, Done done);
  // One periodic image pass now (threshold check).
  void collectImages(Done done);
  // The eviction manager's reclaims (DeleteAllUnusedContainers, DeleteUnusedImages).
  void deleteAllUnusedContainers(Done done) { collectContainers(true, std::move(done)); }
  void deleteUnusedImages(Done done);

 private:
  void onContainerTick();
  void onImageTick();

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  ContainerGc& containers_;
  ImageGcManager& images_;
  GarbageCollectorOptions opts_;
  GarbageCollectorDeps deps_;
  core::TimerPtr containerTimer_;
  core::TimerPtr imageTimer_;
  bool containerPassRunning_ = false;
  bool imagePassRunning_ = false;
  bool prevImageGcFailed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::gc

#include "agent/gc/garbage_collector.h"

#include "core/log.h"

namespace agent::gc {

GarbageCollector::GarbageCollector(core::EventLoop& loop, core::WorkerPool& pool,
                                   ContainerGc& containers, ImageGcManager& images,
                                   GarbageCollectorOptions opts, GarbageCollectorDeps deps)
    : loop_(loop),
      pool_(pool),
      containers_(containers),
      images_(images),
      opts_(opts),
      deps_(std::move(deps)) {}

GarbageCollector::~GarbageCollector() { *alive_ = false; }

void GarbageCollector::start() {
  containerTimer_ = loop_.createTimer([this] { onContainerTick(); });
  containerTimer_->enableTimer(opts_.containerGcPeriod);
  // Every image present now counts as first detected now (the image manager's
  // Start), so that none is old enough to go before imageMinimumGCAge has passed.
  core::WallTime now = loop_.wallNow();
  core::runOnPool(
      pool_, loop_, [images = &images_, now] { return images->detectImages(now); },
      [](absl::Status s) {
        if (!s.ok()) LOG_WARNING << "image GC: detecting images: " << s.message();
      });
  if (!opts_.imageGcEnabled) {
    VLOG(2) << "ImageGCHighThresholdPercent is set 100, Disable image GC";
    return;
  }
  imageTimer_ = loop_.createTimer([this] { onImageTick(); });
  imageTimer_->enableTimer(opts_.imageGcPeriod);
}

void GarbageCollector::onContainerTick() {
  containerTimer_->enableTimer(opts_.containerGcPeriod);
  if (containerPassRunning_) return;  // a slow runtime: skip a beat
  containerPassRunning_ = true;
  collectContainers(false, [this](absl::Status s) {
    containerPassRunning_ = false;
    if (!s.ok()) {
      LOG_ERROR << "Container garbage collection failed: " << s.message();
      if (deps_.nodeWarning) deps_.nodeWarning(kContainerGCFailed, std::string(s.message()));
    } else {
      VLOG(4) << "Container garbage collection succeeded";
    }
  });
}

void GarbageCollector::onImageTick() {
  imageTimer_->enableTimer(opts_.imageGcPeriod);
  if (imagePassRunning_) return;
  imagePassRunning_ = true;
  collectImages([this](absl::Status) { imagePassRunning_ = false; });
}

void GarbageCollector::collectContainers(bool evictNonDeletedPods, Done done) {
  std::optional<PodGcStates> states = deps_.podStates ? deps_.podStates() : std::nullopt;
  if (!states) {
    done(absl::OkStatus());
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  core::runOnPool(
      pool_, loop_,
      [c = &containers_, states = std::move(*states), evictNonDeletedPods] {
        return c->garbageCollect(states, evictNonDeletedPods);
      },
      [alive, done = std::move(done)](absl::StatusOr<ContainerGcResult> r) {
        if (alive.expired()) return;
        if (r.ok() && (!r->containers.empty() || !r->sandboxes.empty())) {
          LOG_INFO << "container GC: removed " << r->containers.size() << " containers and "
                   << r->sandboxes.size() << " sandboxes";
        }
        done(r.status());
      });
}

void GarbageCollector::collectImages(Done done) {
  core::WallTime now = loop_.wallNow();
  std::weak_ptr<bool> alive = alive_;
  core::runOnPool(
      pool_, loop_, [images = &images_, now] { return images->garbageCollect(now); },
      [this, alive, done = std::move(done)](ImageGcOutcome out) {
        if (alive.expired()) return;
        for (const auto& e : out.events) {
          if (deps_.nodeWarning) deps_.nodeWarning(e.reason, e.message);
        }
        if (!out.status.ok()) {
          if (prevImageGcFailed_) {
            LOG_ERROR << "Image garbage collection failed multiple times in a row: "
                      << out.status.message();
            // Only repeated failures make an event, as the kubelet's.
            if (deps_.nodeWarning) {
              deps_.nodeWarning(kImageGCFailed, std::string(out.status.message()));
            }
          } else {
            LOG_ERROR << "Image garbage collection failed once. Stats initialization may not "
                         "have completed yet: "
                      << out.status.message();
          }
          prevImageGcFailed_ = true;
        } else {
          if (prevImageGcFailed_) {
            LOG_INFO << "Image garbage collection succeeded";
          } else {
            VLOG(4) << "Image garbage collection succeeded";
          }
          prevImageGcFailed_ = false;
        }
        if (!out.freed.removed.empty()) {
          LOG_INFO << "image GC: freed " << out.freed.bytesFreed << " bytes in "
                   << out.freed.removed.size() << " images";
        }
        done(out.status);
      });
}

void GarbageCollector::deleteUnusedImages(Done done) {
  core::WallTime now = loop_.wallNow();
  std::weak_ptr<bool> alive = alive_;
  core::runOnPool(
      pool_, loop_, [images = &images_, now] { return images->deleteUnusedImages(now); },
      [alive, done = std::move(done)](absl::StatusOr<ImageGcResult> r) {
        if (alive.expired()) return;
        if (r.ok()) {
          LOG_INFO << "image GC: freed " << r->bytesFreed << " bytes in " << r->removed.size()
                   << " images";
        }
        done(r.status());
      });
}

}  // namespace agent::gc

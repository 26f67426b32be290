// Image garbage collection, as the kubelet's imageGCManager (image_gc_manager.go).
// It remembers, per image id, when the image was first detected and last used by a
// container (running or exited); an image no container uses, that is neither pinned
// nor the runtime's sandbox (pause) image, and was first detected at least minAge
// ago may be removed, least recently used first.
//  - garbageCollect(): every ImageGCPeriod; when the image filesystem's usage
//    (100 - available*100/capacity) is at or over highThresholdPercent, frees down to
//    lowThresholdPercent, and reports FreeDiskSpaceFailed when it cannot.
//  - deleteUnusedImages(): the eviction manager's first reclaim under disk pressure
//    on the image filesystem: every eligible image.
//
// Blocking CRI calls: run it on the worker pool. Thread-safe: one pass at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/event_loop.h"
#include "cri/runtime_service.h"

namespace agent::gc {

struct ImageGcResult {
  int64_t bytesFreed = 0;
  std::vector<std::string> removed;  // image ids
};

// The sandbox image the runtime uses, from CRI Status verbose info ("config" →
// "sandboxImage", as containerd reports it); "" when the runtime does not say.
std::string sandboxImage(const ::runtime::v1::StatusResponse& status);

// The kubelet's ImageGCPolicy (imageGCHighThresholdPercent, imageGCLowThresholdPercent,
// imageMinimumGCAge).
struct ImageGcPolicy {
  int highThresholdPercent = 85;
  int lowThresholdPercent = 80;
  core::Duration minAge = std::chrono::minutes(2);
};

// The image filesystem's size, as the stats provider's ImageFsStats gives it.
struct ImageFsUsage {
  int64_t capacityBytes = 0;
  int64_t availableBytes = 0;
};
using ImageFsStatsFn = std::function<absl::StatusOr<ImageFsUsage>()>;
// CRI ImageFsInfo names the filesystem (its mountpoint); statvfs of that mountpoint
// gives its capacity and available bytes.
absl::StatusOr<ImageFsUsage> criImageFsStats(cri::ImageService& images);

// What the manager remembers of an image (the kubelet's imageRecord).
struct ImageRecord {
  core::WallTime firstDetected{};
  core::WallTime lastUsed{};  // epoch: never seen in use
  int64_t size = 0;
  bool pinned = false;
};

// An event for the node (Warning), recorded by the caller on the loop.
struct ImageGcEvent {
  std::string reason;
  std::string message;
};

struct ImageGcOutcome {
  absl::Status status;  // not OK: the pass failed (the kubelet's GarbageCollect error)
  std::vector<ImageGcEvent> events;
  ImageGcResult freed;
  int usagePercent = 0;
};

// Event reasons (pkg/kubelet/events).
inline constexpr char kInvalidDiskCapacity[] = "InvalidDiskCapacity";
inline constexpr char kFreeDiskSpaceFailed[] = "FreeDiskSpaceFailed";
inline constexpr char kImageGCFailed[] = "ImageGCFailed";

class ImageGcManager {
 public:
  // Not owned; the services outlive the manager.
  ImageGcManager(cri::RuntimeService& runtime, cri::ImageService& images, ImageGcPolicy policy,
                 ImageFsStatsFn fsStats);

  // Lists images and containers and updates the records at `now`.
  absl::Status detectImages(core::WallTime now);
  // One periodic pass at `now`.
  ImageGcOutcome garbageCollect(core::WallTime now);
  // Removes every eligible image.
  absl::StatusOr<ImageGcResult> deleteUnusedImages(core::WallTime now);

  std::optional<ImageRecord> record(const std::string& imageId) const;
  const ImageGcPolicy& policy() const { return policy_; }

 private:
  // The image ids in use (by a container or as the sandbox image); mu_ held.
  absl::StatusOr<std::vector<std::string>> detectLocked(core::WallTime now);
  // Frees at least `bytesToFree` if it can; the bytes freed come back with an
  // error when some removals failed. mu_ held.
  absl::StatusOr<ImageGcResult> freeSpaceLocked(int64_t bytesToFree, core::WallTime now,
                                                absl::Status* removalErrors);

  cri::RuntimeService& runtime_;
  cri::ImageService& images_;
  ImageGcPolicy policy_;
  ImageFsStatsFn fsStats_;
  mutable std::mutex mu_;
  std::map<std::string, ImageRecord> records_;  // by image id
};

}  // namespace agent::gc

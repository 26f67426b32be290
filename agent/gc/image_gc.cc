#include "agent/gc/image_gc.h"

#include <algorithm>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/fs_usage.h"
#include "core/log.h"
#include "nlohmann/json.hpp"

namespace agent::gc {

std::string sandboxImage(const ::runtime::v1::StatusResponse& status) {
  auto it = status.info().find("config");
  if (it == status.info().end()) return "";
  auto j = nlohmann::json::parse(it->second, nullptr, false);
  if (!j.is_object()) return "";
  auto s = j.find("sandboxImage");
  return s != j.end() && s->is_string() ? s->get<std::string>() : "";
}

absl::StatusOr<ImageFsUsage> criImageFsStats(cri::ImageService& images) {
  auto info = images.imageFsInfo();
  if (!info.ok()) return info.status();
  if (info->image_filesystems().empty()) {
    return absl::UnavailableError("the runtime reports no image filesystem");
  }
  // The kubelet uses the first image filesystem (the others are container fs).
  const std::string& mountpoint = info->image_filesystems(0).fs_id().mountpoint();
  auto fs = core::filesystemStats(mountpoint);
  if (!fs.ok()) return fs.status();
  return ImageFsUsage{static_cast<int64_t>(fs->capacityBytes),
                      static_cast<int64_t>(fs->availableBytes)};
}

ImageGcManager::ImageGcManager(cri::RuntimeService& runtime, cri::ImageService& images,
                               ImageGcPolicy policy, ImageFsStatsFn fsStats)
    : runtime_(runtime), images_(images), policy_(policy), fsStats_(std::move(fsStats)) {}

absl::StatusOr<std::vector<std::string>> ImageGcManager::detectLocked(core::WallTime now) {
  std::string pause;
  if (auto st = runtime_.status(true); st.ok()) pause = sandboxImage(*st);
  auto images = images_.listImages(::runtime::v1::ImageFilter());
  if (!images.ok()) return images.status();
  auto containers = runtime_.listContainers(::runtime::v1::ContainerFilter());
  if (!containers.ok()) return containers.status();
  // A container names its image by id (image_ref) and by the reference it was
  // created with; either marks the image in use, running or exited.
  std::set<std::string> refs;
  for (const auto& c : *containers) {
    refs.insert(c.image_ref());
    refs.insert(c.image().image());
  }
  if (!pause.empty()) refs.insert(pause);
  std::vector<std::string> inUse;
  std::set<std::string> present;
  for (const auto& img : *images) {
    present.insert(img.id());
    auto [it, added] = records_.try_emplace(img.id());
    ImageRecord& r = it->second;
    if (added) {
      r.firstDetected = now;
      VLOG(5) << "image GC: image " << img.id() << " is new";
    }
    bool used = refs.count(img.id()) > 0;
    for (const auto& t : img.repo_tags()) used = used || refs.count(t);
    for (const auto& d : img.repo_digests()) used = used || refs.count(d);
    if (used) {
      r.lastUsed = now;
      inUse.push_back(img.id());
    }
    r.size = static_cast<int64_t>(img.size());
    r.pinned = img.pinned();
  }
  std::erase_if(records_, [&](const auto& kv) { return !present.count(kv.first); });
  return inUse;
}

absl::Status ImageGcManager::detectImages(core::WallTime now) {
  std::lock_guard lock(mu_);
  return detectLocked(now).status();
}

absl::StatusOr<ImageGcResult> ImageGcManager::freeSpaceLocked(int64_t bytesToFree,
                                                              core::WallTime now,
                                                              absl::Status* removalErrors) {
  auto inUse = detectLocked(now);
  if (!inUse.ok()) return inUse.status();
  std::set<std::string> used(inUse->begin(), inUse->end());
  struct Candidate {
    std::string id;
    ImageRecord record;
  };
  std::vector<Candidate> order;
  for (const auto& [id, r] : records_) {
    if (used.count(id) || r.pinned) continue;
    order.push_back({id, r});
  }
  // Least recently used first; never-used ones (lastUsed at the epoch) before all,
  // ties by first detection.
  std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
    if (a.record.lastUsed != b.record.lastUsed) return a.record.lastUsed < b.record.lastUsed;
    if (a.record.firstDetected != b.record.firstDetected) {
      return a.record.firstDetected < b.record.firstDetected;
    }
    return a.id < b.id;
  });
  ImageGcResult out;
  std::vector<std::string> errors;
  for (const auto& c : order) {
    // A young image may just have been pulled for a container about to start.
    if (now - c.record.firstDetected < policy_.minAge) {
      VLOG(5) << "image GC: image " << c.id << " is younger than the minimum GC age";
      continue;
    }
    LOG_INFO << "image GC: removing image " << c.id << " to free " << c.record.size << " bytes";
    ::runtime::v1::ImageSpec spec;
    spec.set_image(c.id);
    if (absl::Status s = images_.removeImage(spec); !s.ok()) {
      LOG_WARNING << "image GC: remove image " << c.id << ": " << s.message();
      errors.push_back(absl::StrCat(c.id, ": ", s.message()));
      continue;
    }
    records_.erase(c.id);
    out.bytesFreed += c.record.size;
    out.removed.push_back(c.id);
    if (out.bytesFreed >= bytesToFree) break;
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) absl::StrAppend(&all, all.empty() ? "" : "; ", e);
    *removalErrors = absl::InternalError(
        absl::StrCat("wanted to free ", bytesToFree, " bytes, but freed ", out.bytesFreed,
                     " bytes space with errors in image deletion: [", all, "]"));
  }
  return out;
}

ImageGcOutcome ImageGcManager::garbageCollect(core::WallTime now) {
  ImageGcOutcome out;
  std::lock_guard lock(mu_);
  if (auto d = detectLocked(now); !d.ok()) {
    out.status = d.status();
    return out;
  }
  auto fs = fsStats_ ? fsStats_() : absl::UnavailableError("no image filesystem stats");
  if (!fs.ok()) {
    out.status = absl::UnavailableError(
        absl::StrCat("failed to get image filesystem stats: ", fs.status().message()));
    return out;
  }
  int64_t capacity = fs->capacityBytes, available = fs->availableBytes;
  if (available > capacity) {
    LOG_INFO << "image GC: availability is larger than capacity (available " << available
             << ", capacity " << capacity << ")";
    available = capacity;
  }
  if (capacity <= 0) {
    out.status = absl::FailedPreconditionError("invalid capacity 0 on image filesystem");
    out.events.push_back({kInvalidDiskCapacity, std::string(out.status.message())});
    return out;
  }
  // Integer percent, as the kubelet computes it.
  out.usagePercent = 100 - static_cast<int>(available * 100 / capacity);
  if (out.usagePercent < policy_.highThresholdPercent) return out;
  int64_t amountToFree = capacity * (100 - policy_.lowThresholdPercent) / 100 - available;
  LOG_INFO << "Disk usage on image filesystem is over the high threshold, trying to free bytes "
              "down to the low threshold usage="
           << out.usagePercent << " highThreshold=" << policy_.highThresholdPercent
           << " amountToFree=" << amountToFree << " lowThreshold=" << policy_.lowThresholdPercent;
  absl::Status removalErrors;
  auto freed = freeSpaceLocked(amountToFree, now, &removalErrors);
  if (!freed.ok()) {
    out.status = freed.status();
    return out;
  }
  out.freed = std::move(*freed);
  if (!removalErrors.ok()) {
    out.status = removalErrors;
    return out;
  }
  if (out.freed.bytesFreed < amountToFree) {
    std::string msg = absl::StrCat(
        "Failed to garbage collect required amount of images. Attempted to free ", amountToFree,
        " bytes, but only found ", out.freed.bytesFreed, " bytes eligible to free.");
    out.events.push_back({kFreeDiskSpaceFailed, msg});
    out.status = absl::ResourceExhaustedError(msg);
  }
  return out;
}

absl::StatusOr<ImageGcResult> ImageGcManager::deleteUnusedImages(core::WallTime now) {
  LOG_INFO << "image GC: attempting to delete unused images";
  std::lock_guard lock(mu_);
  absl::Status removalErrors;
  auto freed = freeSpaceLocked(std::numeric_limits<int64_t>::max(), now, &removalErrors);
  if (!freed.ok()) return freed.status();
  if (!removalErrors.ok()) return removalErrors;
  return freed;
}

std::optional<ImageRecord> ImageGcManager::record(const std::string& imageId) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(imageId);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

}  // namespace agent::gc

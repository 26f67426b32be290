// Image garbage collection, as the kubelet's imageGCManager.DeleteUnusedImages: every
// image that no container (running or exited) uses is removed, except the runtime's
// sandbox (pause) image and images the runtime marks pinned. The eviction manager
// calls it as the first reclaim under disk pressure on the image filesystem.
//
// Blocking CRI calls: run it on the worker pool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/runtime_service.h"

namespace agent::gc {

struct ImageGcResult {
  int64_t bytesFreed = 0;
  std::vector<std::string> removed;  // image ids
};

// The sandbox image the runtime uses, from CRI Status verbose info ("config" →
// "sandboxImage", as containerd reports it); "" when the runtime does not say.
std::string sandboxImage(const ::runtime::v1::StatusResponse& status);

// Removes the unused images. A failure to remove one image is logged and the others
// are still tried; listing failures fail the whole call.
absl::StatusOr<ImageGcResult> deleteUnusedImages(cri::RuntimeService& runtime,
                                                 cri::ImageService& images);

}  // namespace agent::gc

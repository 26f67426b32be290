#include "agent/gc/image_gc.h"

#include <set>

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

absl::StatusOr<ImageGcResult> deleteUnusedImages(cri::RuntimeService& runtime,
                                                 cri::ImageService& images) {
  std::string pause;
  if (auto st = runtime.status(true); st.ok()) pause = sandboxImage(*st);
  auto containers = runtime.listContainers(::runtime::v1::ContainerFilter());
  if (!containers.ok()) return containers.status();
  // A container names its image by id (image_ref) and by the reference it was
  // created with; either marks the image in use.
  std::set<std::string> used;
  for (const auto& c : *containers) {
    used.insert(c.image_ref());
    used.insert(c.image().image());
  }
  auto list = images.listImages(::runtime::v1::ImageFilter());
  if (!list.ok()) return list.status();
  ImageGcResult out;
  for (const auto& img : *list) {
    bool keep = img.pinned() || used.count(img.id());
    for (const auto& t : img.repo_tags()) keep = keep || used.count(t) || t == pause;
    for (const auto& d : img.repo_digests()) keep = keep || used.count(d) || d == pause;
    if (keep) continue;
    ::runtime::v1::ImageSpec spec;
    spec.set_image(img.id());
    if (absl::Status s = images.removeImage(spec); !s.ok()) {
      LOG_WARNING << "image GC: remove image " << img.id() << ": " << s.message();
      continue;
    }
    LOG_INFO << "image GC: removed unused image " << img.id() << " (" << img.size() << " bytes)";
    out.bytesFreed += static_cast<int64_t>(img.size());
    out.removed.push_back(img.id());
  }
  return out;
}

}  // namespace agent::gc

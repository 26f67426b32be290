#include "agent/volumes/pod_volume_facts.h"

#include <algorithm>

namespace agent::volumes {

std::optional<uint64_t> memoryEmptyDirSize(const api::Pod& pod,
                                           const api::EmptyDirVolumeSource& src,
                                           const runtime::EnvSources* sources) {
  // Unlike upstream (which always knows its Node), an unknown allocatable is no bound.
  std::optional<int64_t> size;
  if (sources != nullptr) {
    auto it = sources->nodeAllocatable.find("memory");
    if (it != sources->nodeAllocatable.end() && it->second.value() > 0) size = it->second.value();
  }
  // Each bound is used only when positive and not above what is already allowed.
  auto narrow = [&size](int64_t bound) {
    if (bound > 0 && (!size || bound <= *size)) size = bound;
  };
  if (auto limit = podMemoryLimit(pod)) narrow(*limit);
  if (src.sizeLimit) narrow(src.sizeLimit->value());
  if (!size) return std::nullopt;
  return static_cast<uint64_t>(*size);
}

std::optional<int64_t> podMemoryLimit(const api::Pod& pod) {
  auto limitOf = [](const api::Container& c) -> int64_t {
    auto it = c.resources.limits.find("memory");
    return it == c.resources.limits.end() ? 0 : it->second.value();
  };
  int64_t sum = 0;
  for (const auto& c : pod.spec.containers) {
    if (limitOf(c) == 0) return std::nullopt;
    sum += limitOf(c);
  }
  int64_t sidecars = 0;
  int64_t initPeak = 0;
  for (const auto& c : pod.spec.initContainers) {
    int64_t l = limitOf(c);
    if (l == 0) return std::nullopt;
    if (c.restartPolicy && *c.restartPolicy == "Always") {
      sidecars += l;
      sum += l;
      initPeak = std::max(initPeak, sidecars);
    } else {
      // A regular init container runs beside the sidecars started before it.
      initPeak = std::max(initPeak, sidecars + l);
    }
  }
  return std::max(sum, initPeak);
}

std::optional<int64_t> fsUserFrom(const api::Pod& pod) {
  std::optional<int64_t> podUser =
      pod.spec.securityContext ? pod.spec.securityContext->runAsUser : std::nullopt;
  std::optional<int64_t> fsUser;
  for (const auto* list : {&pod.spec.initContainers, &pod.spec.containers}) {
    for (const api::Container& c : *list) {
      std::optional<int64_t> user = podUser;
      if (c.securityContext && c.securityContext->runAsUser) user = c.securityContext->runAsUser;
      if (!user || (fsUser && *fsUser != *user)) return std::nullopt;
      fsUser = user;
    }
  }
  return fsUser;
}

}  // namespace agent::volumes

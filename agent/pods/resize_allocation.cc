#include "agent/pods/resize_allocation.h"

namespace agent::pods {
namespace {

constexpr const char* kResizable[] = {"cpu", "memory"};

// The cpu and memory entries of `from`.
std::map<std::string, api::Quantity> resizable(const std::map<std::string, api::Quantity>& from) {
  std::map<std::string, api::Quantity> out;
  for (const char* r : kResizable) {
    if (auto it = from.find(r); it != from.end()) out.emplace(r, it->second);
  }
  return out;
}

bool sameQuantities(const std::map<std::string, api::Quantity>& a,
                    const std::map<std::string, api::Quantity>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, q] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second.milliValue() != q.milliValue()) return false;
  }
  return true;
}

}  // namespace

PodAllocation allocationOf(const api::Pod& pod) {
  PodAllocation out;
  for (const auto& c : pod.spec.containers) {
    api::ResourceRequirements r;
    r.requests = resizable(c.resources.requests);
    r.limits = resizable(c.resources.limits);
    out.emplace(c.name, std::move(r));
  }
  return out;
}

bool resizeRequested(const api::Pod& pod, const PodAllocation& allocated) {
  for (const auto& c : pod.spec.containers) {
    auto it = allocated.find(c.name);
    if (it == allocated.end()) continue;
    if (!sameQuantities(resizable(c.resources.requests), it->second.requests) ||
        !sameQuantities(resizable(c.resources.limits), it->second.limits)) {
      return true;
    }
  }
  return false;
}

std::optional<ResizePending> checkResize(const api::Pod& pod,
                                         const std::vector<const api::Pod*>& others,
                                         const NodeAllocatable& node) {
  auto available = [&](const char* r) {
    auto it = node.resources.find(r);
    return it == node.resources.end() ? int64_t{0} : it->second.milliValue();
  };
  int64_t cpuRequest = podRequestMilli(pod, "cpu");
  int64_t memRequest = podRequestMilli(pod, "memory");
  int64_t cpuAvailable = available("cpu");
  int64_t memAvailable = available("memory");
  if (memRequest > memAvailable) {
    return ResizePending{kResizeInfeasible,
                         "Node didn't have enough capacity: memory, requested: " +
                             std::to_string(memRequest / 1000) +
                             ", capacity: " + std::to_string(memAvailable / 1000)};
  }
  if (cpuRequest > cpuAvailable) {
    return ResizePending{kResizeInfeasible, "Node didn't have enough capacity: cpu, requested: " +
                                                std::to_string(cpuRequest) +
                                                ", capacity: " + std::to_string(cpuAvailable)};
  }
  if (auto rejection = admitPod(pod, others, node)) {
    return ResizePending{kResizeDeferred, rejection->message};
  }
  return std::nullopt;
}

api::Pod withAllocation(const api::Pod& pod, const PodAllocation& allocated) {
  api::Pod out = pod;
  for (auto& c : out.spec.containers) {
    auto it = allocated.find(c.name);
    if (it == allocated.end()) continue;
    for (const char* r : kResizable) {
      c.resources.requests.erase(r);
      c.resources.limits.erase(r);
    }
    for (const auto& [k, q] : it->second.requests) c.resources.requests[k] = q;
    for (const auto& [k, q] : it->second.limits) c.resources.limits[k] = q;
  }
  return out;
}

}  // namespace agent::pods

#include "agent/pods/admission.h"

#include <algorithm>
#include <set>

namespace agent::pods {
namespace {

constexpr char kBindAllHostIP[] = "0.0.0.0";

int64_t requestMilli(const api::Container& c, const std::string& resource) {
  auto it = c.resources.requests.find(resource);
  if (it != c.resources.requests.end()) return it->second.milliValue();
  // An unset request defaults to the limit (the API server's defaulting).
  auto lim = c.resources.limits.find(resource);
  return lim == c.resources.limits.end() ? 0 : lim->second.milliValue();
}

// cpu in millicores, everything else in whole units, as the kubelet prints them.
int64_t display(const std::string& resource, int64_t milli) {
  if (resource == "cpu") return milli;
  return (milli + 999) / 1000;
}

std::string insufficient(const std::string& resource, int64_t requested, int64_t used,
                         int64_t capacity) {
  return "Node didn't have enough resource: " + resource +
         ", requested: " + std::to_string(requested) + ", used: " + std::to_string(used) +
         ", capacity: " + std::to_string(capacity);
}

// The scheduler's HostPortInfo.CheckConflict: "" is 0.0.0.0 and "" is TCP; a
// wildcard IP conflicts with any IP on the same protocol and port, a specific IP
// with itself and the wildcard. Ports without a hostPort never conflict.
bool portsConflict(const api::ContainerPort& want, const api::ContainerPort& used) {
  if (want.hostPort <= 0 || used.hostPort <= 0 || want.hostPort != used.hostPort) return false;
  auto proto = [](const std::string& p) { return p.empty() ? std::string("TCP") : p; };
  if (proto(want.protocol) != proto(used.protocol)) return false;
  auto ip = [](const std::string& i) { return i.empty() ? std::string(kBindAllHostIP) : i; };
  std::string a = ip(want.hostIP), b = ip(used.hostIP);
  return a == kBindAllHostIP || b == kBindAllHostIP || a == b;
}

}  // namespace

bool hostPortsFit(const api::Pod& pod, const std::vector<const api::Pod*>& active) {
  // The nodeports plugin looks at app containers only, on both sides.
  for (const auto& c : pod.spec.containers) {
    for (const auto& want : c.ports) {
      for (const api::Pod* other : active) {
        for (const auto& oc : other->spec.containers) {
          for (const auto& used : oc.ports) {
            if (portsConflict(want, used)) return false;
          }
        }
      }
    }
  }
  return true;
}

int64_t podRequestMilli(const api::Pod& pod, const std::string& resource) {
  int64_t sum = 0;
  for (const auto& c : pod.spec.containers) sum += requestMilli(c, resource);
  int64_t sidecars = 0;
  int64_t initMax = 0;
  for (const auto& c : pod.spec.initContainers) {
    if (c.restartPolicy && *c.restartPolicy == "Always") {
      sidecars += requestMilli(c, resource);
      sum += requestMilli(c, resource);
    } else {
      // A regular init container runs beside the sidecars started before it.
      initMax = std::max(initMax, sidecars + requestMilli(c, resource));
    }
  }
  int64_t total = std::max(sum, initMax);
  // The RuntimeClass's pod overhead comes on top (PodRequests with overhead).
  if (auto it = pod.spec.overhead.find(resource); it != pod.spec.overhead.end()) {
    total += it->second.milliValue();
  }
  return total;
}

std::optional<Rejection> admitPod(const api::Pod& pod, const std::vector<const api::Pod*>& active,
                                  const NodeAllocatable& node) {
  for (const auto& [k, v] : pod.spec.nodeSelector) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) {
      return Rejection{"NodeAffinity", "Predicate NodeAffinity failed"};
    }
  }
  if (static_cast<int64_t>(active.size()) + 1 > node.maxPods) {
    return Rejection{"OutOfpods",
                     insufficient("pods", 1, static_cast<int64_t>(active.size()), node.maxPods)};
  }
  // Every resource the pod asks for, in a stable order (cpu and memory first).
  std::set<std::string> asked;
  for (const auto* list : {&pod.spec.containers, &pod.spec.initContainers}) {
    for (const auto& c : *list) {
      for (const auto& [r, q] : c.resources.requests) asked.insert(r);
      for (const auto& [r, q] : c.resources.limits) asked.insert(r);
    }
  }
  for (const auto& [r, q] : pod.spec.overhead) asked.insert(r);
  std::vector<std::string> order;
  for (const char* first : {"cpu", "memory"}) {
    if (asked.erase(first)) order.push_back(first);
  }
  order.insert(order.end(), asked.begin(), asked.end());
  for (const auto& r : order) {
    int64_t want = podRequestMilli(pod, r);
    if (want == 0) continue;
    auto alloc = node.resources.find(r);
    int64_t capacity = alloc == node.resources.end() ? 0 : alloc->second.milliValue();
    int64_t used = 0;
    for (const api::Pod* p : active) used += podRequestMilli(*p, r);
    if (want > capacity - used) {
      return Rejection{"OutOf" + r,
                       insufficient(r, display(r, want), display(r, used), display(r, capacity))};
    }
  }
  if (!hostPortsFit(pod, active)) return Rejection{kNodePorts, kNodePortsMessage};
  return std::nullopt;
}

}  // namespace agent::pods

// RuntimeManager::doPodResizeAction: carrying out PodResizeActions (pod_resize.h) on
// the pod cgroup and through CRI UpdateContainerResources, in the kubelet's order.
#include <limits>
#include <map>

#include "agent/cm/pod_resources.h"
#include "agent/runtime/runtime_manager.h"
#include "agent/runtime/sandbox_config.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::runtime {
namespace {

constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();

// A cgroup limit for ordering: unset or -1 ("max") is larger than any.
int64_t limitOrder(const std::optional<int64_t>& v) { return !v || *v < 0 ? kUnlimited : *v; }

// CPU requests and limits from `cpu`, memory ones from `memory`.
api::ResourceRequirements mix(const api::ResourceRequirements& cpu,
                              const api::ResourceRequirements& memory) {
  return withResources(api::Container{}, cpu, memory).resources;
}

}  // namespace

absl::StatusOr<int64_t> RuntimeManager::memoryUsage(const PodRuntimeStatus& status,
                                                    const std::string& id) {
  int64_t total = 0;
  for (const auto& c : status.containers) {
    if (c.state != ContainerState::kRunning || (!id.empty() && c.id != id)) continue;
    auto stats = runtime_.containerStats(c.id);
    if (!stats.ok()) {
      return absl::Status(stats.status().code(), "memory usage of container " + c.id + ": " +
                                                     std::string(stats.status().message()));
    }
    const auto& m = stats->memory();
    // usage_bytes is what the cgroup's memory.usage_in_bytes / memory.current say (the
    // kubelet's GetPodCgroupMemoryUsage); the working set when it is not reported.
    total += static_cast<int64_t>(m.has_usage_bytes() && m.usage_bytes().value() > 0
                                      ? m.usage_bytes().value()
                                      : m.working_set_bytes().value());
  }
  return total;
}

absl::Status RuntimeManager::doPodResizeAction(const api::Pod& pod, const PodRuntimeStatus& status,
                                               const PodResizeActions& resize) {
  const cm::ContainerResourceOptions& ro = opts_.resources;
  const auto period = static_cast<uint64_t>(ro.cpuCFSQuotaPeriodUs);
  // What the pod cgroup is set to now is what its running containers were given.
  const cgroups::ResourceConfig want = cm::resourceConfigForPod(pod, ro.cpuCFSQuota, period, false);
  const cgroups::ResourceConfig have =
      cm::resourceConfigForPod(podAsRunning(pod, status), ro.cpuCFSQuota, period, false);
  auto podPtr = std::make_shared<const api::Pod>(pod);

  // Each container's resources as far as the runtime has taken them: a memory update
  // leaves CPU as it was, and the CPU update after it keeps the new memory.
  std::map<std::string, api::ResourceRequirements> applied;
  for (const auto* list : {&resize.memory, &resize.cpu}) {
    for (const auto& u : *list) applied.emplace(u.id, u.current);
  }

  auto setPodCgroup = [&](const cgroups::ResourceConfig& part, const char* resource) {
    if (!opts_.updatePodCgroup) return absl::OkStatus();
    absl::Status s = opts_.updatePodCgroup(podPtr, part);
    if (!s.ok()) {
      LOG_WARNING << "Failed to set cgroup config for resource " << resource << " of pod "
                  << formatPod(pod) << ": " << s.message();
    }
    return s;
  };

  auto updateContainers = [&](const std::vector<ContainerToUpdate>& list,
                              bool memory) -> absl::Status {
    for (const auto& u : list) {
      api::ResourceRequirements& now = applied[u.id];
      api::ResourceRequirements next = memory ? mix(now, u.desired) : mix(u.desired, now);
      const ResizeValues from = resizeValuesOf(now), to = resizeValuesOf(next);
      if (memory && to.memoryLimit != 0 &&
          (from.memoryLimit == 0 || to.memoryLimit < from.memoryLimit)) {
        // A limit below what the container uses is refused by a cgroup v1 kernel and
        // OOM-kills on v2: wait until it uses less.
        ASSIGN_OR_RETURN(int64_t used, memoryUsage(status, u.id));
        if (used >= to.memoryLimit) {
          return absl::FailedPreconditionError(
              "Aborting attempt to set container " + u.name +
              " memory limit less than current memory usage for pod " + pod.metadata.name);
        }
      }
      api::Container c = withResources(pod.spec.containers[u.index], next, next);
      ::runtime::v1::LinuxContainerResources r = cm::linuxContainerResources(pod, c, ro);
      if (absl::Status s = runtime_.updateContainerResources(u.id, r); !s.ok()) {
        // The order matters (the pod cgroup must hold its containers' limits): the rest
        // waits for the next sync.
        return absl::Status(s.code(), "updateContainerResources failed for container " + u.name +
                                          " (" + u.id + "): " + std::string(s.message()));
      }
      VLOG(2) << "pod " << formatPod(pod) << ": container " << u.name << " resized ("
              << (memory ? "memory" : "cpu") << ")";
      now = next;
      if (absl::Status s = actuated_.set(u.id, now); !s.ok()) {
        LOG_WARNING << "record resources of container " << u.id << ": " << s.message();
      }
    }
    return absl::OkStatus();
  };

  // resizeContainers: limits grow before requests and shrink after them, so that the
  // pod's requests never exceed its limits, and the pod cgroup's limit is never below
  // the sum of its containers'.
  auto resizeContainers = [&](const std::vector<ContainerToUpdate>& list, bool memory,
                              int64_t curLimit, int64_t newLimit, int64_t curRequest,
                              int64_t newRequest, const cgroups::ResourceConfig& limitPart,
                              const cgroups::ResourceConfig& requestPart) -> absl::Status {
    const char* resource = memory ? "memory" : "cpu";
    if (newLimit > curLimit) RETURN_IF_ERROR(setPodCgroup(limitPart, resource));
    if (newRequest > curRequest) RETURN_IF_ERROR(setPodCgroup(requestPart, resource));
    RETURN_IF_ERROR(updateContainers(list, memory));
    if (newRequest < curRequest) RETURN_IF_ERROR(setPodCgroup(requestPart, resource));
    if (newLimit < curLimit) RETURN_IF_ERROR(setPodCgroup(limitPart, resource));
    return absl::OkStatus();
  };

  if (!resize.memory.empty()) {
    int64_t curLimit = limitOrder(have.memoryMax);
    // No pod limit wanted: the pod cgroup's stays as it is (removing limits is not
    // supported upstream either).
    int64_t newLimit = want.memoryMax ? limitOrder(want.memoryMax) : curLimit;
    if (want.memoryMax && *want.memoryMax > 0) {
      ASSIGN_OR_RETURN(int64_t used, memoryUsage(status));
      if (used >= *want.memoryMax) {
        return absl::FailedPreconditionError(
            "Aborting attempt to set pod memory limit less than current memory usage for pod " +
            pod.metadata.name);
      }
    }
    cgroups::ResourceConfig limitPart;
    limitPart.memoryMax = want.memoryMax;
    // Memory requests are not written to cgroups.
    RETURN_IF_ERROR(resizeContainers(resize.memory, true, curLimit, newLimit, 0, 0, limitPart, {}));
  }
  if (!resize.cpu.empty()) {
    int64_t curLimit = limitOrder(have.cpuQuotaUs);
    int64_t newLimit = want.cpuQuotaUs ? limitOrder(want.cpuQuotaUs) : curLimit;
    cgroups::ResourceConfig limitPart, requestPart;
    if (want.cpuQuotaUs) {
      limitPart.cpuQuotaUs = want.cpuQuotaUs;
      limitPart.cpuPeriodUs = want.cpuPeriodUs;
    }
    requestPart.cpuWeight = want.cpuWeight;
    RETURN_IF_ERROR(resizeContainers(
        resize.cpu, false, curLimit, newLimit, static_cast<int64_t>(have.cpuWeight.value_or(0)),
        static_cast<int64_t>(want.cpuWeight.value_or(0)), limitPart, requestPart));
  }
  return absl::OkStatus();
}

}  // namespace agent::runtime

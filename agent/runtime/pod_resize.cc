#include "agent/runtime/pod_resize.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "agent/runtime/actuated_resources.h"
#include "cgroups/resource_math.h"
#include "core/log.h"

namespace agent::runtime {
namespace {

// cm.MinMilliCPULimit: the smallest CPU limit the kernel's minimum quota (1 ms of a
// 100 ms period) can express.
constexpr int64_t kMinMilliCpuLimit =
    cgroups::kMinQuotaPeriodUs * cgroups::kMilliCpuToCpu / cgroups::kQuotaPeriodUs;

int64_t milliOf(const std::map<std::string, api::Quantity>& l, const char* name) {
  auto it = l.find(name);
  return it == l.end() ? 0 : it->second.milliValue();
}
int64_t valueOf(const std::map<std::string, api::Quantity>& l, const char* name) {
  auto it = l.find(name);
  return it == l.end() ? 0 : it->second.value();
}

// A limit of 0 is no limit: larger than any.
int64_t limitOrder(int64_t limit) {
  return limit == 0 ? std::numeric_limits<int64_t>::max() : limit;
}

api::Quantity milliQuantity(int64_t milli) {
  return *api::Quantity::parse(std::to_string(milli) + "m");
}
api::Quantity byteQuantity(int64_t bytes) { return *api::Quantity::parse(std::to_string(bytes)); }

// kuberuntime's inverse of calculateLinuxResources (sharesToMilliCPU, quotaToMilliCPU).
api::ResourceRequirements fromReported(const ContainerRuntimeStatus::Reported& r,
                                       const api::Container& spec) {
  api::ResourceRequirements out;
  if (r.cpuShares >= cgroups::kMinShares) {
    int64_t milli = static_cast<int64_t>(std::ceil(
        static_cast<double>(r.cpuShares) * cgroups::kMilliCpuToCpu / cgroups::kSharesPerCpu));
    out.requests["cpu"] = milliQuantity(milli);
  }
  if (r.cpuQuota > 0 && r.cpuPeriod > 0) {
    out.limits["cpu"] = milliQuantity(r.cpuQuota * cgroups::kMilliCpuToCpu / r.cpuPeriod);
  }
  if (r.memoryLimitInBytes > 0) out.limits["memory"] = byteQuantity(r.memoryLimitInBytes);
  // No cgroup holds the memory request: it is taken to be the spec's.
  if (auto it = spec.resources.requests.find("memory"); it != spec.resources.requests.end())
    out.requests["memory"] = it->second;
  return out;
}

void setEntry(std::map<std::string, api::Quantity>& into,
              const std::map<std::string, api::Quantity>& from, const char* name) {
  if (auto it = from.find(name); it != from.end()) {
    into[name] = it->second;
  } else {
    into.erase(name);
  }
}

// Whether the container's resizePolicy for `resource` is RestartContainer (the
// default is NotRequired).
bool restartsFor(const api::Container& spec, const char* resource) {
  for (const auto& p : spec.resizePolicy) {
    if (p.resourceName == resource) return p.restartPolicy == "RestartContainer";
  }
  return false;
}

// Decreases go first, increases last (markContainerForUpdate).
void enqueue(std::vector<ContainerToUpdate>& list, ContainerToUpdate u, int64_t want,
             int64_t have) {
  if (want < have) {
    list.insert(list.begin(), std::move(u));
  } else if (want > have) {
    list.push_back(std::move(u));
  }
}

}  // namespace

ResizeValues resizeValuesOf(const api::ResourceRequirements& r) {
  return {milliOf(r.requests, "cpu"), milliOf(r.limits, "cpu"), valueOf(r.requests, "memory"),
          valueOf(r.limits, "memory")};
}

bool inPlaceResizeAllowed(const api::Pod& pod) {
  const auto& ann = pod.metadata.annotations;
  auto it = ann.find("kubernetes.io/config.source");
  return it == ann.end() || it->second == "api";
}

std::optional<api::ResourceRequirements> runningResources(const api::Container& spec,
                                                          const ContainerRuntimeStatus& status) {
  if (status.actuated) return status.actuated;
  if (status.reported) return fromReported(*status.reported, spec);
  return std::nullopt;
}

api::Pod podAsRunning(const api::Pod& pod, const PodRuntimeStatus& status) {
  api::Pod out = pod;
  for (auto& c : out.spec.containers) {
    const auto* s = status.findContainer(c.name);
    if (!s || s->state != ContainerState::kRunning) continue;
    std::optional<api::ResourceRequirements> running = runningResources(c, *s);
    if (!running) continue;
    c = withResources(c, *running, *running);
  }
  return out;
}

api::Container withResources(const api::Container& spec, const api::ResourceRequirements& cpu,
                             const api::ResourceRequirements& memory) {
  api::Container c = spec;
  setEntry(c.resources.requests, cpu.requests, "cpu");
  setEntry(c.resources.limits, cpu.limits, "cpu");
  setEntry(c.resources.requests, memory.requests, "memory");
  setEntry(c.resources.limits, memory.limits, "memory");
  return c;
}

ResizeNeed computeContainerResize(const api::Pod& pod, size_t index,
                                  const ContainerRuntimeStatus& status, PodResizeActions* out) {
  const api::Container& spec = pod.spec.containers[index];
  if (status.state != ContainerState::kRunning) return ResizeNeed::kNone;
  std::optional<api::ResourceRequirements> running = runningResources(spec, status);
  if (!running) {
    VLOG(4) << "Missing runtime resource information for container " << spec.name << " of pod "
            << pod.metadata.namespace_ << "/" << pod.metadata.name;
    return ResizeNeed::kNone;
  }
  ResizeValues want = resizeValuesOf(spec.resources);
  ResizeValues have = resizeValuesOf(*running);
  // Values at or below what the kernel can express are equal (MinShares, MinMilliCPULimit).
  if (want.cpuRequestMilli <= cgroups::kMinShares && have.cpuRequestMilli <= cgroups::kMinShares)
    want.cpuRequestMilli = have.cpuRequestMilli;
  if (want.cpuLimitMilli != 0 && have.cpuLimitMilli != 0 &&
      want.cpuLimitMilli <= kMinMilliCpuLimit && have.cpuLimitMilli <= kMinMilliCpuLimit)
    want.cpuLimitMilli = have.cpuLimitMilli;
  // No cgroup holds the memory request: it alone never needs an update.
  want.memoryRequest = have.memoryRequest;
  if (want == have) return ResizeNeed::kNone;

  // determineContainerResize: a changed resource whose policy is RestartContainer
  // restarts the container (with everything new) instead of any update in place.
  const bool memoryChanged = want.memoryLimit != have.memoryLimit;
  const bool cpuChanged =
      want.cpuLimitMilli != have.cpuLimitMilli || want.cpuRequestMilli != have.cpuRequestMilli;
  if ((memoryChanged && restartsFor(spec, "memory")) || (cpuChanged && restartsFor(spec, "cpu"))) {
    return ResizeNeed::kRestart;
  }

  ContainerToUpdate u;
  u.index = index;
  u.id = status.id;
  u.name = spec.name;
  u.desired = cpuAndMemory(spec.resources);
  u.current = cpuAndMemory(*running);
  if (want.memoryLimit != have.memoryLimit) {
    enqueue(out->memory, u, limitOrder(want.memoryLimit), limitOrder(have.memoryLimit));
  }
  if (want.cpuLimitMilli != have.cpuLimitMilli) {
    enqueue(out->cpu, u, limitOrder(want.cpuLimitMilli), limitOrder(have.cpuLimitMilli));
  } else if (want.cpuRequestMilli != have.cpuRequestMilli) {
    enqueue(out->cpu, std::move(u), want.cpuRequestMilli, have.cpuRequestMilli);
  }
  return ResizeNeed::kInPlace;
}

std::string resizeRestartMessage(const std::string& container) {
  return "Container " + container + " resize requires restart";
}

bool podResizeInProgress(const api::Pod& pod, const PodRuntimeStatus& status) {
  if (!inPlaceResizeAllowed(pod)) return false;
  PodResizeActions scratch;
  for (size_t i = 0; i < pod.spec.containers.size(); ++i) {
    const auto* s = status.findContainer(pod.spec.containers[i].name);
    if (s && computeContainerResize(pod, i, *s, &scratch) != ResizeNeed::kNone) return true;
  }
  return false;
}

api::ResourceRequirements statusResources(const api::Container& spec,
                                          const ContainerRuntimeStatus& status) {
  api::ResourceRequirements out = spec.resources;
  std::optional<api::ResourceRequirements> running;
  if (status.state == ContainerState::kRunning) running = runningResources(spec, status);
  if (!running) return out;
  // As convertContainerStatusResources: the allocated (spec) entries, with the CPU
  // limit and request and the memory limit the container runs with (no cgroup holds
  // the memory request).
  auto replace = [](std::map<std::string, api::Quantity>& into,
                    const std::map<std::string, api::Quantity>& from, const char* name) {
    auto have = into.find(name);
    auto run = from.find(name);
    if (have != into.end() && run != from.end()) have->second = run->second;
  };
  replace(out.limits, running->limits, "cpu");
  replace(out.limits, running->limits, "memory");
  replace(out.requests, running->requests, "cpu");
  return out;
}

std::string podResizeErrorMessage(const api::Pod& pod, const std::string& error) {
  using nlohmann::ordered_json;
  auto list = [](const std::map<std::string, api::Quantity>& l) {
    ordered_json out = ordered_json::object();
    for (const auto& [k, q] : l) out[k] = q.str();
    return out;
  };
  auto containers = [&](const std::vector<api::Container>& cs) {
    ordered_json out = ordered_json::array();
    for (const auto& c : cs) {
      ordered_json r = ordered_json::object();
      if (!c.resources.limits.empty()) r["limits"] = list(c.resources.limits);
      if (!c.resources.requests.empty()) r["requests"] = list(c.resources.requests);
      out.push_back({{"name", c.name}, {"resources", std::move(r)}});
    }
    return out;
  };
  ordered_json summary = ordered_json::object();
  if (!pod.spec.initContainers.empty())
    summary["initContainers"] = containers(pod.spec.initContainers);
  if (!pod.spec.containers.empty()) summary["containers"] = containers(pod.spec.containers);
  summary["generation"] = pod.metadata.generation;
  if (!error.empty()) summary["error"] = error;
  return "Pod resize error: " + summary.dump();
}

}  // namespace agent::runtime

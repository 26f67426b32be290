#include "agent/cm/pod_resources.h"

#include <algorithm>
#include <functional>

#include "agent/status/pod_status_compute.h"

namespace agent::cm {
namespace {

using cgroups::QosClass;

// The priority from which a pod is critical (scheduling.SystemCriticalPriority).
constexpr int64_t kSystemCriticalPriority = 2000000000;

void add(ResourceAmounts& into, const ResourceAmounts& more) {
  for (const auto& [k, v] : more) into[k] += v;
}

void maxInto(ResourceAmounts& into, const ResourceAmounts& more) {
  for (const auto& [k, v] : more) {
    auto it = into.find(k);
    if (it == into.end() || v > it->second) into[k] = v;
  }
}

bool isSidecar(const api::Container& c) { return c.restartPolicy.value_or("") == "Always"; }

using Pick = std::function<const std::map<std::string, api::Quantity>&(const api::Container&)>;
// Called with each app container's amounts, then each init container's effective
// amounts (its own plus the sidecars started before it), as ContainerFn upstream.
using Visit = std::function<void(const ResourceAmounts&)>;

// component-helpers AggregateContainerRequests / AggregateContainerLimits.
ResourceAmounts aggregate(const api::Pod& pod, const Pick& pick, const Visit& visit) {
  ResourceAmounts total;
  for (const auto& c : pod.spec.containers) {
    ResourceAmounts a = amountsOf(pick(c));
    if (visit) visit(a);
    add(total, a);
  }
  ResourceAmounts sidecars, initMax;
  for (const auto& c : pod.spec.initContainers) {
    ResourceAmounts a = amountsOf(pick(c));
    ResourceAmounts effective;
    if (isSidecar(c)) {
      // A sidecar keeps running next to the app containers: it adds to the total.
      add(total, a);
      add(sidecars, a);
      effective = sidecars;
    } else {
      effective = a;
      add(effective, sidecars);
    }
    if (visit) visit(effective);
    maxInto(initMax, effective);
  }
  maxInto(total, initMax);
  return total;
}

const std::map<std::string, api::Quantity>& requestsOf(const api::Container& c) {
  return c.resources.requests;
}
const std::map<std::string, api::Quantity>& limitsOf(const api::Container& c) {
  return c.resources.limits;
}

int64_t amount(const ResourceAmounts& a, const char* name) {
  auto it = a.find(name);
  return it == a.end() ? 0 : it->second;
}

const api::Quantity* find(const std::map<std::string, api::Quantity>& l, const char* name) {
  auto it = l.find(name);
  return it == l.end() ? nullptr : &it->second;
}
int64_t milli(const std::map<std::string, api::Quantity>& l, const char* name) {
  const api::Quantity* q = find(l, name);
  return q ? q->milliValue() : 0;
}
int64_t value(const std::map<std::string, api::Quantity>& l, const char* name) {
  const api::Quantity* q = find(l, name);
  return q ? q->value() : 0;
}

}  // namespace

ResourceAmounts amountsOf(const std::map<std::string, api::Quantity>& list) {
  ResourceAmounts out;
  for (const auto& [name, q] : list) out[name] = name == "cpu" ? q.milliValue() : q.value();
  return out;
}

void addOverheadToRequests(const api::Pod& pod, ResourceAmounts& reqs) {
  add(reqs, amountsOf(pod.spec.overhead));
}

void addOverheadToLimits(const api::Pod& pod, ResourceAmounts& limits) {
  for (const auto& [k, v] : amountsOf(pod.spec.overhead)) {
    if (auto it = limits.find(k); it != limits.end()) it->second += v;
  }
}

ResourceAmounts podRequests(const api::Pod& pod) {
  ResourceAmounts r = aggregate(pod, requestsOf, nullptr);
  addOverheadToRequests(pod, r);
  return r;
}
ResourceAmounts podLimits(const api::Pod& pod) {
  ResourceAmounts l = aggregate(pod, limitsOf, nullptr);
  addOverheadToLimits(pod, l);
  return l;
}

QosClass qosClassOf(const api::Pod& pod) {
  std::string q = status::podQosClass(pod);
  if (q == "Guaranteed") return QosClass::kGuaranteed;
  if (q == "Burstable") return QosClass::kBurstable;
  return QosClass::kBestEffort;
}

bool isCriticalPod(const api::Pod& pod) {
  const auto& ann = pod.metadata.annotations;
  if (auto it = ann.find("kubernetes.io/config.source"); it != ann.end() && it->second != "api")
    return true;
  if (ann.count("kubernetes.io/config.mirror")) return true;
  return pod.spec.priority && *pod.spec.priority >= kSystemCriticalPriority;
}

bool isNodeCriticalPod(const api::Pod& pod) {
  return isCriticalPod(pod) && pod.spec.priorityClassName == "system-node-critical";
}

cgroups::CgroupName kubepodsCgroup(const cgroups::CgroupName& root) {
  return cgroups::child(root, "kubepods");
}

cgroups::CgroupName qosCgroup(const cgroups::CgroupName& root, QosClass qos) {
  switch (qos) {
    case QosClass::kBurstable:
      return cgroups::child(kubepodsCgroup(root), "burstable");
    case QosClass::kBestEffort:
      return cgroups::child(kubepodsCgroup(root), "besteffort");
    case QosClass::kGuaranteed:
      break;
  }
  return kubepodsCgroup(root);
}

cgroups::CgroupName podCgroup(const cgroups::CgroupName& root, QosClass qos,
                              const std::string& uid) {
  return cgroups::child(qosCgroup(root, qos), kPodCgroupPrefix + uid);
}

cgroups::CgroupName podCgroup(const cgroups::CgroupName& root, const api::Pod& pod) {
  return podCgroup(root, qosClassOf(pod), pod.metadata.uid);
}

cgroups::ResourceConfig resourceConfigForPod(const api::Pod& pod, bool enforceCpuLimits,
                                             uint64_t cpuPeriodUs, bool memoryQoS) {
  ResourceAmounts reqs = podRequests(pod);
  bool cpuLimitsDeclared = true, memoryLimitsDeclared = true;
  ResourceAmounts limits = aggregate(pod, limitsOf, [&](const ResourceAmounts& l) {
    if (amount(l, "cpu") == 0) cpuLimitsDeclared = false;
    if (amount(l, "memory") == 0) memoryLimitsDeclared = false;
  });
  addOverheadToLimits(pod, limits);
  int64_t cpuShares = cgroups::milliCpuToShares(amount(reqs, "cpu"));
  int64_t cpuQuota =
      cgroups::milliCpuToQuota(amount(limits, "cpu"), static_cast<int64_t>(cpuPeriodUs));
  // Quota unset ("max") when CFS quota is off.
  if (!enforceCpuLimits) cpuQuota = -1;
  int64_t memoryLimit = amount(limits, "memory");

  cgroups::ResourceConfig rc;
  switch (qosClassOf(pod)) {
    case QosClass::kGuaranteed:
      rc.cpuWeight = cgroups::cpuSharesToWeight(static_cast<uint64_t>(cpuShares));
      rc.cpuQuotaUs = cpuQuota;
      rc.cpuPeriodUs = cpuPeriodUs;
      rc.memoryMax = memoryLimit;
      break;
    case QosClass::kBurstable:
      rc.cpuWeight = cgroups::cpuSharesToWeight(static_cast<uint64_t>(cpuShares));
      if (cpuLimitsDeclared) {
        rc.cpuQuotaUs = cpuQuota;
        rc.cpuPeriodUs = cpuPeriodUs;
      }
      if (memoryLimitsDeclared) rc.memoryMax = memoryLimit;
      break;
    case QosClass::kBestEffort:
      rc.cpuWeight = cgroups::cpuSharesToWeight(cgroups::kMinShares);
      break;
  }
  if (memoryQoS) {
    if (int64_t min = amount(reqs, "memory"); min > 0) rc.memoryMin = min;
  }
  return rc;
}

::runtime::v1::LinuxContainerResources calculateLinuxResources(
    std::optional<int64_t> cpuRequestMilli, int64_t cpuLimitMilli, int64_t memoryLimit,
    const ContainerResourceOptions& opts) {
  ::runtime::v1::LinuxContainerResources r;
  // Without a request the request is the limit (the API server defaults it so; the
  // kubelet repeats it for older objects).
  r.set_cpu_shares(cgroups::milliCpuToShares(cpuRequestMilli.value_or(cpuLimitMilli)));
  if (memoryLimit != 0) r.set_memory_limit_in_bytes(memoryLimit);
  if (opts.cpuCFSQuota) {
    r.set_cpu_quota(cgroups::milliCpuToQuota(cpuLimitMilli, opts.cpuCFSQuotaPeriodUs));
    r.set_cpu_period(opts.cpuCFSQuotaPeriodUs);
  }
  // assign(1, '1'): GCC 12 misreads `= "1"` into a protobuf map value (-Wrestrict).
  if (opts.oomGroup) (*r.mutable_unified())["memory.oom.group"].assign(1, '1');
  return r;
}

int containerOomScoreAdj(const api::Pod& pod, const api::Container& container,
                         int64_t memoryCapacity) {
  cgroups::OomScoreInput in;
  in.qos = qosClassOf(pod);
  in.nodeCritical = isNodeCriticalPod(pod);
  in.memoryRequest = value(container.resources.requests, "memory");
  in.memoryCapacity = memoryCapacity;
  bool sidecar = isSidecar(container) &&
                 std::any_of(pod.spec.initContainers.begin(), pod.spec.initContainers.end(),
                             [&](const api::Container& c) { return c.name == container.name; });
  if (sidecar && !pod.spec.containers.empty()) {
    int64_t min = value(pod.spec.containers[0].resources.requests, "memory");
    for (const auto& c : pod.spec.containers) {
      min = std::min(min, value(c.resources.requests, "memory"));
    }
    in.sidecarMinRegularRequest = min;
  }
  return cgroups::containerOomScoreAdjust(in);
}

::runtime::v1::LinuxContainerResources linuxContainerResources(
    const api::Pod& pod, const api::Container& container, const ContainerResourceOptions& opts) {
  const auto& req = container.resources.requests;
  const auto& lim = container.resources.limits;
  std::optional<int64_t> cpuRequest;
  if (find(req, "cpu")) cpuRequest = milli(req, "cpu");
  ::runtime::v1::LinuxContainerResources r =
      calculateLinuxResources(cpuRequest, milli(lim, "cpu"), value(lim, "memory"), opts);
  r.set_oom_score_adj(containerOomScoreAdj(pod, container, opts.memoryCapacity));
  if (opts.memoryQoS) {
    int64_t memRequest = value(req, "memory");
    int64_t memLimit = value(lim, "memory");
    auto& unified = *r.mutable_unified();
    if (memRequest != 0) unified["memory.min"] = std::to_string(memRequest);
    // request == limit (Guaranteed memory) gets no throttling below the limit.
    if (memRequest != memLimit) {
      int64_t ceiling = memLimit != 0 ? memLimit : opts.allocatableMemory;
      int64_t high = ceiling > 0 ? cgroups::memoryHigh(memRequest, ceiling,
                                                       opts.memoryThrottlingFactor, opts.pageSize)
                                 : 0;
      if (high != 0) unified["memory.high"] = std::to_string(high);
    }
  }
  return r;
}

::runtime::v1::LinuxContainerResources sandboxLinuxResources(const api::Pod& pod,
                                                             const ContainerResourceOptions& opts) {
  // Without the overhead (ExcludeOverhead): that goes to the sandbox's own field.
  ResourceAmounts reqs = aggregate(pod, requestsOf, nullptr);
  ResourceAmounts limits = aggregate(pod, limitsOf, nullptr);
  std::optional<int64_t> cpuRequest;
  if (reqs.count("cpu")) cpuRequest = reqs["cpu"];
  return calculateLinuxResources(cpuRequest, amount(limits, "cpu"), amount(limits, "memory"), opts);
}

::runtime::v1::LinuxContainerResources sandboxOverheadResources(
    const api::Pod& pod, const ContainerResourceOptions& opts) {
  if (pod.spec.overhead.empty()) return {};
  // No difference between requests and limits: the overhead is "guaranteed".
  int64_t cpu = milli(pod.spec.overhead, "cpu");
  return calculateLinuxResources(cpu, cpu, value(pod.spec.overhead, "memory"), opts);
}

}  // namespace agent::cm

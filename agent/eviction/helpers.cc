#include "agent/eviction/helpers.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/config/text.h"
#include "agent/pods/admission.h"

namespace agent::eviction {

namespace text = config::text;
namespace {

bool isMemorySignal(Signal s) {
  return s == Signal::kMemoryAvailable || s == Signal::kAllocatableMemoryAvailable;
}

QuantityFormat availableFormat(Signal s) {
  std::string_view r = signalResource(s);
  return (r == "memory" || r == "ephemeral-storage") ? QuantityFormat::kBinarySI
                                                     : QuantityFormat::kDecimalSI;
}

const PodUsage* usageOf(const api::Pod* pod, const Observations& obs) {
  auto it = obs.pods.find(pod->metadata.uid);
  return it == obs.pods.end() ? nullptr : &it->second;
}

// -1: p1 is evicted first; 1: p2 is; 0: undecided.
using CmpFunc = std::function<int(const api::Pod*, const api::Pod*)>;

// true before false.
int cmpBool(bool a, bool b) {
  if (a == b) return 0;
  return a ? -1 : 1;
}

int cmpInt(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

void orderedBy(std::vector<const api::Pod*>& pods, const std::vector<CmpFunc>& cmps) {
  std::stable_sort(pods.begin(), pods.end(), [&](const api::Pod* a, const api::Pod* b) {
    for (const auto& c : cmps) {
      int r = c(a, b);
      if (r != 0) return r < 0;
    }
    return false;
  });
}

int32_t podPriority(const api::Pod* p) { return p->spec.priority.value_or(0); }

int priorityCmp(const api::Pod* a, const api::Pod* b) {
  return cmpInt(podPriority(a), podPriority(b));
}

// A statsFunc-guarded comparison: pods without stats go first.
CmpFunc withStats(
    const Observations& obs,
    std::function<int(const api::Pod*, const PodUsage&, const api::Pod*, const PodUsage&)> f) {
  return [&obs, f](const api::Pod* a, const api::Pod* b) {
    const PodUsage* ua = usageOf(a, obs);
    const PodUsage* ub = usageOf(b, obs);
    if (!ua || !ub) return cmpBool(!ua, !ub);
    return f(a, *ua, b, *ub);
  };
}

bool has(const std::vector<FsStats>& v, FsStats s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The volumes that use the node's disk: hostPath and the local ephemeral ones
// (localVolumeNames with volumeutils.IsLocalEphemeralVolume).
bool isLocalVolume(const api::Volume& v) {
  if (v.hostPath || v.configMap) return true;
  if (v.emptyDir && v.emptyDir->medium.empty()) return true;
  return std::find(v.otherSources.begin(), v.otherSources.end(), "gitRepo") != v.otherSources.end();
}

// podDiskUsage: bytes or inodes over the measured fs stats.
int64_t podDiskUsage(const api::Pod& pod, const PodUsage& u, const std::vector<FsStats>& measure,
                     bool inodes) {
  auto pick = [inodes](const std::optional<FsUsage>& f) -> int64_t {
    if (!f) return 0;
    return inodes ? f->inodesUsed : f->usedBytes;
  };
  int64_t total = 0;
  for (const auto& c : u.containers) {
    if (has(measure, FsStats::kRoot)) total += pick(c.rootfs);
    if (has(measure, FsStats::kLogs)) total += pick(c.logs);
  }
  if (has(measure, FsStats::kLocalVolumeSource)) {
    for (const auto& v : pod.spec.volumes) {
      if (!isLocalVolume(v)) continue;
      auto it = u.volumes.find(v.name);
      if (it != u.volumes.end()) total += inodes ? it->second.inodesUsed : it->second.usedBytes;
    }
  }
  return total;
}

// A container's request of `resource` as a quantity (zero when unset).
std::optional<FormattedQuantity> containerRequest(const api::Container& c,
                                                  std::string_view resource) {
  std::string r(resource);
  auto it = c.resources.requests.find(r);
  if (it != c.resources.requests.end()) return FormattedQuantity::fromApi(it->second);
  // An unset request defaults to the limit (the API server's defaulting).
  auto lim = c.resources.limits.find(r);
  if (lim != c.resources.limits.end()) return FormattedQuantity::fromApi(lim->second);
  return std::nullopt;
}

}  // namespace

int64_t podRequestMilli(const api::Pod& pod, const std::string& resource) {
  return pods::podRequestMilli(pod, resource);
}

// --- Thresholds over time ---

std::vector<Threshold> thresholdsMet(const std::vector<Threshold>& thresholds,
                                     const Observations& obs, bool enforceMinReclaim) {
  std::vector<Threshold> out;
  for (const Threshold& t : thresholds) {
    auto it = obs.signals.find(t.signal);
    if (it == obs.signals.end()) continue;
    const SignalObservation& o = it->second;
    int64_t quantityMilli = thresholdQuantity(t.value, o.capacity).milli;
    if (enforceMinReclaim && t.minReclaim) {
      quantityMilli += thresholdQuantity(*t.minReclaim, o.capacity).milli;
    }
    // LessThan: met when the threshold quantity is above what is available.
    if (quantityMilli > o.available * 1000) out.push_back(t);
  }
  return out;
}

std::vector<Threshold> mergeThresholds(std::vector<Threshold> a, const std::vector<Threshold>& b) {
  for (const Threshold& t : b) {
    bool found = false;
    for (const Threshold& x : a) {
      // hasThreshold compares everything but the minimum reclaim.
      if (x.signal == t.signal && x.gracePeriod == t.gracePeriod && x.value == t.value) {
        found = true;
        break;
      }
    }
    if (!found) a.push_back(t);
  }
  return a;
}

ThresholdsObservedAt thresholdsFirstObservedAt(const std::vector<Threshold>& thresholds,
                                               const ThresholdsObservedAt& last,
                                               core::MonoTime now) {
  ThresholdsObservedAt out;
  for (const Threshold& t : thresholds) {
    core::MonoTime at = now;
    for (const auto& [lt, lat] : last) {
      if (lt == t) {
        at = lat;
        break;
      }
    }
    out.emplace_back(t, at);
  }
  return out;
}

std::vector<Threshold> thresholdsMetGracePeriod(const ThresholdsObservedAt& observedAt,
                                                core::MonoTime now) {
  std::vector<Threshold> out;
  for (const auto& [t, at] : observedAt) {
    if (now - at < t.gracePeriod) continue;
    out.push_back(t);
  }
  return out;
}

std::vector<Threshold> thresholdsUpdatedStats(const std::vector<Threshold>& thresholds,
                                              const Observations& obs,
                                              const std::map<Signal, SignalObservation>& last) {
  std::vector<Threshold> out;
  for (const Threshold& t : thresholds) {
    auto it = obs.signals.find(t.signal);
    if (it == obs.signals.end()) continue;
    auto l = last.find(t.signal);
    bool lastHasTime = l != last.end() && l->second.time.has_value();
    if (l == last.end() || !it->second.time || !lastHasTime || *it->second.time > *l->second.time) {
      out.push_back(t);
    }
  }
  return out;
}

// --- Node conditions ---

std::vector<NodeCondition> nodeConditions(const std::vector<Threshold>& thresholds) {
  std::vector<NodeCondition> out;
  for (const Threshold& t : thresholds) {
    NodeCondition c = signalCondition(t.signal);
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  return out;
}

ConditionsObservedAt nodeConditionsLastObservedAt(const std::vector<NodeCondition>& conditions,
                                                  const ConditionsObservedAt& last,
                                                  core::MonoTime now) {
  ConditionsObservedAt out = last;
  for (NodeCondition c : conditions) out[c] = now;
  return out;
}

std::vector<NodeCondition> nodeConditionsObservedSince(const ConditionsObservedAt& observedAt,
                                                       core::Duration period, core::MonoTime now) {
  std::vector<NodeCondition> out;
  for (const auto& [c, at] : observedAt) {
    if (now - at < period) out.push_back(c);
  }
  return out;
}

std::string formatConditions(const std::vector<NodeCondition>& conditions) {
  std::string out = "[";
  for (size_t i = 0; i < conditions.size(); ++i) {
    out += text::cat(i ? " " : "", conditionName(conditions[i]));
  }
  return out + "]";
}

// --- What to reclaim ---

void sortByEvictionPriority(std::vector<Threshold>& thresholds) {
  std::stable_partition(thresholds.begin(), thresholds.end(),
                        [](const Threshold& t) { return isMemorySignal(t.signal); });
}

std::vector<NodeReclaim> nodeReclaimFor(Signal signal, bool dedicatedImageFs) {
  const std::vector<NodeReclaim> gc = {NodeReclaim::kDeleteAllUnusedContainers,
                                       NodeReclaim::kDeleteUnusedImages};
  switch (signal) {
    case Signal::kNodeFsAvailable:
    case Signal::kNodeFsInodesFree:
      // With an imagefs, nodefs holds only logs and volumes: nothing node-level to free.
      return dedicatedImageFs ? std::vector<NodeReclaim>{} : gc;
    case Signal::kImageFsAvailable:
    case Signal::kImageFsInodesFree:
      return gc;
    default:
      return {};
  }
}

// --- Ranking ---

void rankMemoryPressure(std::vector<const api::Pod*>& pods, const Observations& obs) {
  auto exceeds = withStats(
      obs, [](const api::Pod* a, const PodUsage& ua, const api::Pod* b, const PodUsage& ub) {
        bool ea = ua.memoryWorkingSet.value_or(0) * 1000 > podRequestMilli(*a, "memory");
        bool eb = ub.memoryWorkingSet.value_or(0) * 1000 > podRequestMilli(*b, "memory");
        return cmpBool(ea, eb);
      });
  auto memory = withStats(
      obs, [](const api::Pod* a, const PodUsage& ua, const api::Pod* b, const PodUsage& ub) {
        int64_t da = ua.memoryWorkingSet.value_or(0) * 1000 - podRequestMilli(*a, "memory");
        int64_t db = ub.memoryWorkingSet.value_or(0) * 1000 - podRequestMilli(*b, "memory");
        return cmpInt(db, da);  // the larger consumer first
      });
  orderedBy(pods, {exceeds, priorityCmp, memory});
}

void rankPIDPressure(std::vector<const api::Pod*>& pods, const Observations& obs) {
  auto process =
      withStats(obs, [](const api::Pod*, const PodUsage& ua, const api::Pod*, const PodUsage& ub) {
        return cmpInt(static_cast<int64_t>(ub.processCount.value_or(0)),
                      static_cast<int64_t>(ua.processCount.value_or(0)));
      });
  orderedBy(pods, {priorityCmp, process});
}

void rankDiskPressure(std::vector<const api::Pod*>& pods, const Observations& obs,
                      const std::vector<FsStats>& measure, bool inodes) {
  // The request compared for "exceeds" is that of the ranked resource (no pod requests
  // inodes); the usage above requests subtracts the ephemeral-storage request in both
  // cases, as upstream does.
  auto exceeds = withStats(obs, [&measure, inodes](const api::Pod* a, const PodUsage& ua,
                                                   const api::Pod* b, const PodUsage& ub) {
    int64_t ra = inodes ? 0 : podRequestMilli(*a, "ephemeral-storage");
    int64_t rb = inodes ? 0 : podRequestMilli(*b, "ephemeral-storage");
    bool ea = podDiskUsage(*a, ua, measure, inodes) * 1000 > ra;
    bool eb = podDiskUsage(*b, ub, measure, inodes) * 1000 > rb;
    return cmpBool(ea, eb);
  });
  auto disk = withStats(obs, [&measure, inodes](const api::Pod* a, const PodUsage& ua,
                                                const api::Pod* b, const PodUsage& ub) {
    int64_t da =
        podDiskUsage(*a, ua, measure, inodes) * 1000 - podRequestMilli(*a, "ephemeral-storage");
    int64_t db =
        podDiskUsage(*b, ub, measure, inodes) * 1000 - podRequestMilli(*b, "ephemeral-storage");
    return cmpInt(db, da);
  });
  orderedBy(pods, {exceeds, priorityCmp, disk});
}

void rankForSignal(Signal signal, std::vector<const api::Pod*>& pods, const Observations& obs) {
  const std::vector<FsStats> all = {FsStats::kImages, FsStats::kRoot, FsStats::kLogs,
                                    FsStats::kLocalVolumeSource};
  const std::vector<FsStats> nodefs = {FsStats::kLogs, FsStats::kLocalVolumeSource};
  const std::vector<FsStats> imagefs = {FsStats::kRoot, FsStats::kImages};
  switch (signal) {
    case Signal::kMemoryAvailable:
    case Signal::kAllocatableMemoryAvailable:
      return rankMemoryPressure(pods, obs);
    case Signal::kPidAvailable:
      return rankPIDPressure(pods, obs);
    case Signal::kNodeFsAvailable:
      return rankDiskPressure(pods, obs, obs.dedicatedImageFs ? nodefs : all, false);
    case Signal::kNodeFsInodesFree:
      return rankDiskPressure(pods, obs, obs.dedicatedImageFs ? nodefs : all, true);
    case Signal::kImageFsAvailable:
      return rankDiskPressure(pods, obs, obs.dedicatedImageFs ? imagefs : all, false);
    case Signal::kImageFsInodesFree:
      return rankDiskPressure(pods, obs, obs.dedicatedImageFs ? imagefs : all, true);
  }
}

// --- Messages ---

EvictionMessage evictionMessage(std::string_view resource, const api::Pod& pod,
                                const Observations& obs, const std::vector<Threshold>& thresholds) {
  EvictionMessage out;
  out.message = text::cat("The node was low on resource: ", resource, ". ");
  for (const Threshold& t : thresholds) {
    if (signalResource(t.signal) != resource) continue;
    auto it = obs.signals.find(t.signal);
    if (it == obs.signals.end()) continue;
    FormattedQuantity q = thresholdQuantity(t.value, it->second.capacity);
    out.message += text::cat("Threshold quantity: ", q.str(), ", available: ",
                             formatQuantity(it->second.available, availableFormat(t.signal)), ". ");
    break;
  }
  auto pu = obs.pods.find(pod.metadata.uid);
  if (pu == obs.pods.end()) return out;

  std::vector<const api::Container*> containers;
  for (const auto& c : pod.spec.containers) containers.push_back(&c);
  for (const auto& c : pod.spec.initContainers) containers.push_back(&c);
  std::vector<std::string> exceeded, usages;
  for (const ContainerUsage& cu : pu->second.containers) {
    for (const api::Container* c : containers) {
      if (c->name != cu.name) continue;
      FormattedQuantity request =
          containerRequest(*c, resource).value_or(FormattedQuantity{0, QuantityFormat::kBinarySI});
      std::optional<FormattedQuantity> usage;
      if (resource == "ephemeral-storage") {
        if (cu.rootfs && cu.logs) {
          usage = FormattedQuantity::fromValue(cu.rootfs->usedBytes + cu.logs->usedBytes,
                                               QuantityFormat::kBinarySI);
        }
      } else if (resource == "memory") {
        if (cu.memoryWorkingSet) {
          usage = FormattedQuantity::fromValue(*cu.memoryWorkingSet, QuantityFormat::kBinarySI);
        }
      }
      if (usage && usage->milli > request.milli) {
        out.message +=
            text::cat("Container ", c->name, " was using ", usage->str(), ", request is ",
                      request.str(), ", has larger consumption of ", resource, ". ");
        exceeded.push_back(c->name);
        usages.push_back(usage->str());
      }
      break;
    }
  }
  out.annotations[kOffendingContainersKey] = absl::StrJoin(exceeded, ",");
  out.annotations[kOffendingContainersUsageKey] = absl::StrJoin(usages, ",");
  out.annotations[kStarvedResourceKey] = std::string(resource);
  return out;
}

std::optional<std::string> localStorageEvictionMessage(const api::Pod& pod, const PodUsage& usage,
                                                       bool dedicatedImageFs) {
  // emptyDirLimitEviction
  for (const auto& v : pod.spec.volumes) {
    if (!v.emptyDir || !v.emptyDir->sizeLimit) continue;
    FormattedQuantity size = FormattedQuantity::fromApi(*v.emptyDir->sizeLimit);
    auto used = usage.volumes.find(v.name);
    if (used == usage.volumes.end() || size.milli <= 0) continue;
    if (used->second.usedBytes * 1000 > size.milli) {
      return text::cat("Usage of EmptyDir volume \"", v.name, "\" exceeds the limit \"", size.str(),
                       "\". ");
    }
  }

  // podEphemeralStorageLimitEviction: the pod's limit is PodLimits (the sum over app and
  // sidecar containers that set one, or a larger regular init container's).
  std::optional<FormattedQuantity> podLimit;
  auto limitOf = [](const api::Container& c) -> std::optional<FormattedQuantity> {
    auto it = c.resources.limits.find("ephemeral-storage");
    if (it == c.resources.limits.end()) return std::nullopt;
    return FormattedQuantity::fromApi(it->second);
  };
  auto add = [&podLimit](const FormattedQuantity& q) {
    if (!podLimit) {
      podLimit = q;
    } else {
      podLimit->milli += q.milli;
    }
  };
  for (const auto& c : pod.spec.containers) {
    if (auto l = limitOf(c)) add(*l);
  }
  int64_t sidecars = 0;
  std::optional<FormattedQuantity> initMax;
  for (const auto& c : pod.spec.initContainers) {
    auto l = limitOf(c);
    if (!l) continue;
    if (c.restartPolicy && *c.restartPolicy == "Always") {
      add(*l);
      sidecars += l->milli;
    } else {
      FormattedQuantity withSidecars{l->milli + sidecars, l->format};
      if (!initMax || withSidecars.milli > initMax->milli) initMax = withSidecars;
    }
  }
  if (initMax && (!podLimit || initMax->milli > podLimit->milli)) podLimit = initMax;
  if (podLimit) {
    int64_t used = usage.ephemeralStorageUsed.value_or(0);
    if (used * 1000 > podLimit->milli) {
      return text::cat("Pod ephemeral local storage usage exceeds the total limit of containers ",
                       podLimit->str(), ". ");
    }
  }

  // containerEphemeralStorageLimitEviction: logs, plus the writable layer when it is on
  // the node filesystem.
  for (const ContainerUsage& cu : usage.containers) {
    const api::Container* spec = nullptr;
    for (const auto& c : pod.spec.containers) {
      if (c.name == cu.name) spec = &c;
    }
    if (!spec) continue;
    std::optional<FormattedQuantity> limit = limitOf(*spec);
    if (!limit || limit->value() == 0) continue;
    int64_t used = cu.logs ? cu.logs->usedBytes : 0;
    if (!dedicatedImageFs && cu.rootfs) used += cu.rootfs->usedBytes;
    if (limit->milli < used * 1000) {
      return text::cat("Container ", cu.name, " exceeded its local ephemeral storage limit \"",
                       limit->str(), "\". ");
    }
  }
  return std::nullopt;
}

}  // namespace agent::eviction

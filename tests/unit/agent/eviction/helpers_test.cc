#include "agent/eviction/helpers.h"

#include <gtest/gtest.h>

namespace agent::eviction {
namespace {

using namespace std::chrono_literals;

constexpr int64_t Mi = 1024 * 1024;
constexpr int64_t Gi = 1024 * Mi;

api::Quantity q(const char* s) { return *api::Quantity::parse(s); }

Threshold hardMemory(const char* v, const char* minReclaim = nullptr) {
  Threshold t;
  t.signal = Signal::kMemoryAvailable;
  t.value.quantity = FormattedQuantity::fromApi(q(v));
  if (minReclaim) t.minReclaim = ThresholdValue{FormattedQuantity::fromApi(q(minReclaim)), 0};
  return t;
}

Threshold percent(Signal s, float pct, core::Duration grace = 0ms) {
  Threshold t;
  t.signal = s;
  t.value.percentage = pct;
  t.gracePeriod = grace;
  return t;
}

Observations memoryObs(int64_t available, int64_t capacity = 8 * Gi) {
  Observations o;
  o.signals[Signal::kMemoryAvailable] = {available, capacity, std::nullopt};
  return o;
}

TEST(ThresholdsMet, QuantityPercentageAndMinReclaim) {
  struct Case {
    const char* name;
    Threshold t;
    Observations obs;
    bool enforceMinReclaim;
    bool met;
  } cases[] = {
      {"below", hardMemory("100Mi"), memoryObs(99 * Mi), false, true},
      {"equal is not met", hardMemory("100Mi"), memoryObs(100 * Mi), false, false},
      {"above", hardMemory("100Mi"), memoryObs(101 * Mi), false, false},
      {"above but within min reclaim", hardMemory("100Mi", "50Mi"), memoryObs(120 * Mi), true,
       true},
      {"above min reclaim", hardMemory("100Mi", "50Mi"), memoryObs(151 * Mi), true, false},
      {"min reclaim ignored unless enforced", hardMemory("100Mi", "50Mi"), memoryObs(120 * Mi),
       false, false},
      {"percentage of capacity", percent(Signal::kMemoryAvailable, 0.1f), memoryObs(800 * Mi),
       false, true},
      {"percentage not met", percent(Signal::kMemoryAvailable, 0.1f), memoryObs(900 * Mi), false,
       false},
      {"no observation", percent(Signal::kNodeFsAvailable, 0.1f), memoryObs(0), false, false},
  };
  for (const auto& c : cases) {
    auto met = thresholdsMet({c.t}, c.obs, c.enforceMinReclaim);
    EXPECT_EQ(met.size(), c.met ? 1u : 0u) << c.name;
  }
}

TEST(ThresholdsGracePeriod, SoftWaitsHardDoesNot) {
  core::MonoTime t0{};
  Threshold soft = percent(Signal::kNodeFsAvailable, 0.2f, 90s);
  Threshold hard = percent(Signal::kNodeFsAvailable, 0.1f);
  auto at = thresholdsFirstObservedAt({soft, hard}, {}, t0);
  auto met = thresholdsMetGracePeriod(at, t0);
  ASSERT_EQ(met.size(), 1u);
  EXPECT_EQ(met[0], hard);
  // Still met a minute later: first observed stays t0.
  at = thresholdsFirstObservedAt({soft, hard}, at, t0 + 60s);
  EXPECT_EQ(at[0].second, t0);
  EXPECT_EQ(thresholdsMetGracePeriod(at, t0 + 60s).size(), 1u);
  EXPECT_EQ(thresholdsMetGracePeriod(at, t0 + 90s).size(), 2u);
  // Once unmet it is forgotten, and the grace period starts over.
  at = thresholdsFirstObservedAt({hard}, at, t0 + 100s);
  at = thresholdsFirstObservedAt({soft, hard}, at, t0 + 110s);
  EXPECT_EQ(thresholdsMetGracePeriod(at, t0 + 150s).size(), 1u);
}

TEST(NodeConditions, MappedAndKeptForTheTransitionPeriod) {
  auto conds = nodeConditions({percent(Signal::kPidAvailable, 0.1f),
                               percent(Signal::kNodeFsInodesFree, 0.1f),
                               percent(Signal::kImageFsAvailable, 0.1f), hardMemory("1Mi")});
  EXPECT_EQ(conds, (std::vector<NodeCondition>{NodeCondition::kMemoryPressure,
                                               NodeCondition::kDiskPressure,
                                               NodeCondition::kPIDPressure}));
  EXPECT_EQ(formatConditions(conds), "[MemoryPressure DiskPressure PIDPressure]");

  core::MonoTime t0{};
  auto seen = nodeConditionsLastObservedAt({NodeCondition::kMemoryPressure}, {}, t0);
  // Pressure gone: the condition stays for 5 minutes after it was last observed.
  seen = nodeConditionsLastObservedAt({}, seen, t0 + 10s);
  EXPECT_EQ(nodeConditionsObservedSince(seen, 5min, t0 + 10s).size(), 1u);
  EXPECT_EQ(nodeConditionsObservedSince(seen, 5min, t0 + 5min - 1ms).size(), 1u);
  EXPECT_TRUE(nodeConditionsObservedSince(seen, 5min, t0 + 5min).empty());
}

TEST(ThresholdsUpdatedStats, StaleObservationsAreNotActedOnTwice) {
  core::WallTime w0{};
  Observations o = memoryObs(Mi);
  o.signals[Signal::kMemoryAvailable].time = w0 + 10s;
  std::map<Signal, SignalObservation> last = o.signals;
  EXPECT_TRUE(thresholdsUpdatedStats({hardMemory("100Mi")}, o, last).empty());
  o.signals[Signal::kMemoryAvailable].time = w0 + 20s;
  EXPECT_EQ(thresholdsUpdatedStats({hardMemory("100Mi")}, o, last).size(), 1u);
  EXPECT_EQ(thresholdsUpdatedStats({hardMemory("100Mi")}, o, {}).size(), 1u);
}

TEST(EvictionPriority, MemoryFirst) {
  std::vector<Threshold> t = {percent(Signal::kNodeFsAvailable, 0.1f),
                              percent(Signal::kPidAvailable, 0.1f), hardMemory("1Mi")};
  sortByEvictionPriority(t);
  EXPECT_EQ(t[0].signal, Signal::kMemoryAvailable);
  EXPECT_EQ(t[1].signal, Signal::kNodeFsAvailable);
}

TEST(NodeReclaim, ImagesAndContainersForTheImageFilesystem) {
  using R = std::vector<NodeReclaim>;
  R gc = {NodeReclaim::kDeleteAllUnusedContainers, NodeReclaim::kDeleteUnusedImages};
  EXPECT_EQ(nodeReclaimFor(Signal::kNodeFsAvailable, false), gc);
  EXPECT_EQ(nodeReclaimFor(Signal::kNodeFsAvailable, true), R{});
  EXPECT_EQ(nodeReclaimFor(Signal::kImageFsInodesFree, true), gc);
  EXPECT_EQ(nodeReclaimFor(Signal::kMemoryAvailable, false), R{});
}

// --- Ranking ---

struct PodSpec {
  const char* name;
  const char* memRequest = nullptr;
  int32_t priority = 0;
  const char* storageRequest = nullptr;
};

api::Pod makePod(const PodSpec& s) {
  api::Pod p;
  p.metadata.name = s.name;
  p.metadata.namespace_ = "default";
  p.metadata.uid = std::string("uid-") + s.name;
  p.spec.priority = s.priority;
  api::Container c;
  c.name = "app";
  if (s.memRequest) c.resources.requests["memory"] = q(s.memRequest);
  if (s.storageRequest) c.resources.requests["ephemeral-storage"] = q(s.storageRequest);
  p.spec.containers.push_back(c);
  return p;
}

std::vector<std::string> names(const std::vector<const api::Pod*>& pods) {
  std::vector<std::string> out;
  for (const auto* p : pods) out.push_back(p->metadata.name);
  return out;
}

TEST(RankMemoryPressure, Table) {
  struct Case {
    const char* name;
    std::vector<PodSpec> pods;
    std::map<std::string, int64_t> usage;  // by pod name; absent: no stats
    std::vector<std::string> want;
  } cases[] = {
      {"exceeding requests beats priority",
       {{"guaranteed-low", "1Gi", -10}, {"besteffort-high", nullptr, 1000}},
       {{"guaranteed-low", 512 * Mi}, {"besteffort-high", 10 * Mi}},
       {"besteffort-high", "guaranteed-low"}},
      {"then lower priority",
       {{"high", nullptr, 100}, {"low", nullptr, 1}},
       {{"high", 900 * Mi}, {"low", 10 * Mi}},
       {"low", "high"}},
      {"then usage above requests",
       {{"small", "100Mi"}, {"big", "100Mi"}},
       {{"small", 150 * Mi}, {"big", 400 * Mi}},
       {"big", "small"}},
      {"usage relative to request, not absolute",
       {{"a", "1Gi"}, {"b", "10Mi"}},
       {{"a", 1100 * Mi}, {"b", 300 * Mi}},
       {"b", "a"}},
      {"no stats first",
       {{"measured", nullptr}, {"unknown", nullptr}},
       {{"measured", 900 * Mi}},
       {"unknown", "measured"}},
  };
  for (const auto& c : cases) {
    std::vector<api::Pod> pods;
    for (const auto& s : c.pods) pods.push_back(makePod(s));
    Observations obs;
    for (const auto& p : pods) {
      auto it = c.usage.find(p.metadata.name);
      if (it == c.usage.end()) continue;
      PodUsage u;
      u.memoryWorkingSet = it->second;
      obs.pods[p.metadata.uid] = u;
    }
    std::vector<const api::Pod*> ptrs;
    for (const auto& p : pods) ptrs.push_back(&p);
    rankMemoryPressure(ptrs, obs);
    EXPECT_EQ(names(ptrs), c.want) << c.name;
  }
}

TEST(RankPIDPressure, PriorityThenProcesses) {
  std::vector<api::Pod> pods = {makePod({"few", nullptr, 0}), makePod({"many", nullptr, 0}),
                                makePod({"important", nullptr, 10})};
  Observations obs;
  obs.pods["uid-few"].processCount = 3;
  obs.pods["uid-many"].processCount = 300;
  obs.pods["uid-important"].processCount = 3000;
  std::vector<const api::Pod*> ptrs = {&pods[0], &pods[1], &pods[2]};
  rankPIDPressure(ptrs, obs);
  EXPECT_EQ(names(ptrs), (std::vector<std::string>{"many", "few", "important"}));
}

TEST(RankDiskPressure, CountsRootfsLogsAndLocalVolumes) {
  std::vector<api::Pod> pods = {makePod({"writer", nullptr, 0, "1Gi"}),
                                makePod({"logger", nullptr, 0}), makePod({"volume", nullptr, 0})};
  api::Volume scratch;
  scratch.name = "scratch";
  scratch.emptyDir = api::EmptyDirVolumeSource{};
  api::Volume tmpfs;
  tmpfs.name = "ram";
  tmpfs.emptyDir = api::EmptyDirVolumeSource{"Memory", std::nullopt};
  pods[2].spec.volumes = {scratch, tmpfs};
  Observations obs;
  // writer: 1200Mi of rootfs, 176Mi over its 1Gi request.
  obs.pods["uid-writer"].containers = {
      {"app", std::nullopt, FsUsage{1200 * Mi, 10}, FsUsage{0, 1}}};
  // logger: 100Mi of logs, no request.
  obs.pods["uid-logger"].containers = {{"app", std::nullopt, FsUsage{0, 1}, FsUsage{100 * Mi, 1}}};
  // volume: 300Mi in an emptyDir on disk; the memory-backed one does not count.
  obs.pods["uid-volume"].containers = {{"app", std::nullopt, FsUsage{0, 1}, FsUsage{0, 1}}};
  obs.pods["uid-volume"].volumes = {{"scratch", {300 * Mi, 5}}, {"ram", {5 * Gi, 5000}}};

  std::vector<const api::Pod*> ptrs = {&pods[0], &pods[1], &pods[2]};
  rankForSignal(Signal::kNodeFsAvailable, ptrs, obs);
  EXPECT_EQ(names(ptrs), (std::vector<std::string>{"volume", "writer", "logger"}));

  // With a dedicated imagefs, imagefs pressure ranks by the writable layer only.
  obs.dedicatedImageFs = true;
  rankForSignal(Signal::kImageFsAvailable, ptrs, obs);
  EXPECT_EQ(names(ptrs)[0], "writer");
  // ... and nodefs pressure by logs and volumes only (writer is then within its request).
  rankForSignal(Signal::kNodeFsAvailable, ptrs, obs);
  EXPECT_EQ(names(ptrs), (std::vector<std::string>{"volume", "logger", "writer"}));
}

// --- Messages ---

TEST(EvictionMessage, MemoryByteExact) {
  api::Pod pod = makePod({"web", "100Mi"});
  api::Container side;
  side.name = "sidecar";
  side.resources.requests["memory"] = q("1Gi");
  pod.spec.containers.push_back(side);
  Observations obs = memoryObs(50 * Mi);
  obs.pods["uid-web"].containers = {{"app", 200 * Mi, std::nullopt, std::nullopt},
                                    {"sidecar", 10 * Mi, std::nullopt, std::nullopt}};
  auto m = evictionMessage("memory", pod, obs, {hardMemory("100Mi")});
  EXPECT_EQ(m.message,
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
            "Container app was using 200Mi, request is 100Mi, has larger consumption of memory. ");
  EXPECT_EQ(m.annotations.at(kOffendingContainersKey), "app");
  EXPECT_EQ(m.annotations.at(kOffendingContainersUsageKey), "200Mi");
  EXPECT_EQ(m.annotations.at(kStarvedResourceKey), "memory");
}

TEST(EvictionMessage, EphemeralStorageWithPercentageThreshold) {
  api::Pod pod = makePod({"web"});
  Observations obs;
  obs.signals[Signal::kNodeFsAvailable] = {1 * Gi, 20 * Gi, std::nullopt};
  obs.pods["uid-web"].containers = {{"app", std::nullopt, FsUsage{3 * Gi, 1}, FsUsage{Gi, 1}}};
  Threshold t = percent(Signal::kNodeFsAvailable, 0.1f);
  auto m = evictionMessage("ephemeral-storage", pod, obs, {t});
  std::string threshold = thresholdQuantity(t.value, 20 * Gi).str();
  EXPECT_EQ(m.message,
            "The node was low on resource: ephemeral-storage. Threshold quantity: " + threshold +
                ", available: 1Gi. Container app was using 4Gi, request is 0, has "
                "larger consumption of ephemeral-storage. ");
}

TEST(EvictionMessage, WithoutStatsOnlyTheNodePart) {
  api::Pod pod = makePod({"web"});
  Observations obs;
  obs.signals[Signal::kPidAvailable] = {50, 32768, std::nullopt};
  Threshold t;
  t.signal = Signal::kPidAvailable;
  t.value.quantity = FormattedQuantity::fromApi(q("1000"));
  auto m = evictionMessage("pids", pod, obs, {t});
  EXPECT_EQ(m.message,
            "The node was low on resource: pids. Threshold quantity: 1k, available: 50. ");
  EXPECT_TRUE(m.annotations.empty());
}

TEST(LocalStorage, Limits) {
  auto base = [] {
    api::Pod p = makePod({"web"});
    api::Volume v;
    v.name = "cache";
    v.emptyDir = api::EmptyDirVolumeSource{"", q("1Gi")};
    p.spec.volumes.push_back(v);
    return p;
  };
  // emptyDir over its sizeLimit.
  {
    api::Pod p = base();
    PodUsage u;
    u.volumes["cache"] = {Gi + 1, 1};
    EXPECT_EQ(localStorageEvictionMessage(p, u, false),
              "Usage of EmptyDir volume \"cache\" exceeds the limit \"1Gi\". ");
    u.volumes["cache"] = {Gi, 1};
    EXPECT_EQ(localStorageEvictionMessage(p, u, false), std::nullopt);
  }
  // The pod over the sum of its containers' limits.
  {
    api::Pod p = base();
    p.spec.containers[0].resources.limits["ephemeral-storage"] = q("2Gi");
    api::Container c2;
    c2.name = "second";
    c2.resources.limits["ephemeral-storage"] = q("1Gi");
    p.spec.containers.push_back(c2);
    PodUsage u;
    u.ephemeralStorageUsed = 3 * Gi + 1;
    EXPECT_EQ(localStorageEvictionMessage(p, u, false),
              "Pod ephemeral local storage usage exceeds the total limit of containers 3Gi. ");
  }
  // A container over its own limit: logs + rootfs, rootfs only without an imagefs.
  {
    api::Pod p = base();
    p.spec.containers[0].resources.limits["ephemeral-storage"] = q("500Mi");
    PodUsage u;
    u.ephemeralStorageUsed = 400 * Mi;  // under the pod's limit (500Mi)
    u.containers = {{"app", std::nullopt, FsUsage{300 * Mi, 1}, FsUsage{250 * Mi, 1}}};
    EXPECT_EQ(localStorageEvictionMessage(p, u, false),
              "Container app exceeded its local ephemeral storage limit \"500Mi\". ");
    EXPECT_EQ(localStorageEvictionMessage(p, u, true), std::nullopt);
  }
}

}  // namespace
}  // namespace agent::eviction

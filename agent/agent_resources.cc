// The agent's resource side, wired as the kubelet's container manager, eviction
// manager and node shutdown manager are: the cgroup driver chosen from the host's
// cgroup mode and --cgroup-driver, the QoS and pod cgroups, the stats that feed
// /stats/summary and eviction, container and image garbage collection, and graceful
// shutdown over logind.
#include <unistd.h>

#include "agent/agent.h"
#include "agent/cm/node_allocatable.h"
#include "agent/events/object_ref.h"
#include "agent/eviction/thresholds.h"
#include "agent/shutdown/logind_inhibitor.h"
#include "agent/stats/eviction_observations.h"
#include "agent/stats/summary_json.h"
#include "cgroups/cgroup_version.h"
#include "cgroups/cgroupfs_manager.h"
#include "cgroups/systemd_manager.h"
#include "core/log.h"
#include "core/sd_event_loop.h"
#include "core/status.h"

namespace agent {
namespace {

// The pod cgroup is made on the loop; a pool thread waits at most this long for it.
constexpr core::Duration kPodCgroupTimeout = std::chrono::seconds(30);

core::WallTime::duration sinceEpoch(core::WallTime t) { return t.time_since_epoch(); }

std::string rfc3339Now(core::WallTime now) {
  std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(sinceEpoch(now)).count();
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<eviction::Toleration> tolerationsOf(const api::Pod& pod) {
  std::vector<eviction::Toleration> out;
  for (const auto& t : pod.spec.tolerations) out.push_back({t.key, t.operator_, t.value, t.effect});
  return out;
}

}  // namespace

absl::Status Agent::setUpCgroups(runtime::RuntimeOptions& ro) {
  auto host = cgroups::detectCgroupMode();
  if (!host.ok()) return core::annotate(host.status(), "cgroup mode");
  LOG_INFO << "cgroups: " << cgroups::describeCgroupMode(*host) << "; driver " << cfg_.cgroupDriver;
  bool unified = host->mode == cgroups::CgroupMode::kUnifiedV2;
  if (!unified) {
    LOG_WARNING << cgroups::v1FeaturesOffMessage();
    cgroups_ = std::make_unique<cgroups::LegacyCgroupManager>(cfg_.cgroupDriver);
  } else if (cfg_.cgroupDriver == "systemd") {
    auto* sd = dynamic_cast<core::SdEventLoop*>(&loop_);
    if (!sd)
      return absl::FailedPreconditionError("the systemd cgroup driver needs the sd-event loop");
    if (!systemBus_) {
      auto bus = core::DbusConnection::openSystem(*sd);
      if (!bus.ok()) return core::annotate(bus.status(), "cgroup driver systemd");
      systemBus_ = std::move(*bus);
    }
    cgroups_ = std::make_unique<cgroups::SystemdCgroupManager>(loop_, systemBus_->bus(),
                                                               host->cgroup2Mount);
  } else {
    cgroups_ = std::make_unique<cgroups::CgroupfsManager>(host->cgroup2Mount);
  }

  node::MachineInfoOptions mo;
  mo.rootDir = cfg_.rootDir;
  auto machine = node::readMachineInfo(mo);
  if (!machine.ok()) return core::annotate(machine.status(), "machine info");
  cm::ResourceAmounts capacity = cm::nodeCapacity(*machine, cm::readPidCapacity());
  cm::NodeAllocatableConfig na{cfg_.kubeReserved, cfg_.systemReserved, cfg_.enforceNodeAllocatable,
                               cfg_.cgroupsPerQOS};
  auto kubepods = cm::kubepodsResourceConfig(capacity, na);
  if (!kubepods.ok()) return core::annotate(kubepods.status(), "node allocatable");
  auto allocatable = cm::nodeAllocatable(capacity, na);

  cgroups::CgroupName root = cgroups::fromCgroupfs(cfg_.cgroupRoot.empty() ? "/" : cfg_.cgroupRoot);
  auto gate = [this](const char* name) {
    auto it = cfg_.featureGates.find(name);
    return it != cfg_.featureGates.end() && it->second;
  };
  bool memoryQoS = unified && gate("MemoryQoS");
  if (cfg_.cgroupsPerQOS) {
    qos_ = std::make_unique<cm::QosCgroups>(*cgroups_, root, *kubepods, memoryQoS);
  }
  cm::PodCgroupsOptions po;
  po.root = root;
  po.cgroupsPerQOS = cfg_.cgroupsPerQOS;
  po.enforceCpuLimits = cfg_.cpuCFSQuota;
  // cpuCFSQuotaPeriod only counts with the CPUCFSQuotaPeriod gate, as upstream.
  if (gate("CPUCFSQuotaPeriod")) {
    po.cpuPeriodUs = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(cfg_.cpuCFSQuotaPeriod).count());
  }
  po.memoryQoS = memoryQoS;
  po.podPidsLimit = cfg_.podPidsLimit;
  podCgroups_ = std::make_unique<cm::PodCgroups>(loop_, *cgroups_, qos_.get(), po,
                                                 [this] { return activePodPtrs(); });

  ro.resources.memoryCapacity = machine->memoryCapacityBytes;
  ro.resources.cpuCFSQuota = cfg_.cpuCFSQuota;
  ro.resources.cpuCFSQuotaPeriodUs = static_cast<int64_t>(po.cpuPeriodUs);
  ro.resources.memoryQoS = memoryQoS;
  ro.resources.memoryThrottlingFactor = cfg_.memoryThrottlingFactor;
  if (allocatable.ok() && allocatable->count("memory")) {
    ro.resources.allocatableMemory = allocatable->at("memory");
  }
  ro.resources.pageSize = ::getpagesize();
  ro.resources.oomGroup = unified;
  ro.podCgroupParent = [pc = podCgroups_.get()](const api::Pod& pod) { return pc->parentFor(pod); };
  ro.ensurePodCgroup = [pc = podCgroups_.get()](const std::shared_ptr<const api::Pod>& pod) {
    return pc->ensureBlocking(pod, kPodCgroupTimeout);
  };
  ro.updatePodCgroup = [pc = podCgroups_.get()](const std::shared_ptr<const api::Pod>& pod,
                                                const cgroups::ResourceConfig& rc) {
    return pc->updateBlocking(pod, rc, kPodCgroupTimeout);
  };
  return absl::OkStatus();
}

std::vector<std::shared_ptr<const api::Pod>> Agent::activePodPtrs() const {
  std::vector<std::shared_ptr<const api::Pod>> out;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (v.pod && !v.terminating && !v.terminated) out.push_back(v.pod);
  });
  return out;
}

absl::Status Agent::setUpEviction() {
  auto thresholds =
      eviction::parseThresholds(cfg_.evictionHard, cfg_.evictionSoft, cfg_.evictionSoftGracePeriod,
                                cfg_.evictionMinimumReclaim);
  if (!thresholds.ok()) return core::annotate(thresholds.status(), "eviction thresholds");
  stats::StatsProviderOptions so;
  so.nodeName = cfg_.nodeName;
  so.rootDir = cfg_.rootDir;
  so.podLogsDir = cfg_.podLogsDir;
  stats_ = std::make_unique<stats::StatsProvider>(*runtimeSvc_, *imageSvc_, loop_, so);
  setUpGarbageCollection();

  eviction::EvictionManagerOptions eo;
  eo.thresholds = std::move(*thresholds);
  eo.pressureTransitionPeriod = cfg_.evictionPressureTransitionPeriod;
  eo.maxPodGracePeriodSeconds = cfg_.evictionMaxPodGracePeriod;
  eviction::EvictionManagerDeps deps;
  deps.collect = [this](eviction::EvictionManagerDeps::ObservationsDone done) {
    core::runOnPool(
        *pool_, loop_, [s = stats_.get()] { return s->collect(); },
        [this, done = std::move(done)](absl::StatusOr<stats::Summary> summary) {
          if (!summary.ok()) {
            done(summary.status());
            return;
          }
          eviction::Observations obs = stats::toObservations(*summary, stats_->dedicatedImageFs());
          summary_ = std::make_shared<const stats::Summary>(std::move(*summary));
          done(std::move(obs));
        });
  };
  deps.activePods = [this] {
    std::vector<const api::Pod*> out;
    workers_->forEachPod([&](const pods::PodView& v) {
      if (v.pod && !v.terminating && !v.terminated) out.push_back(v.pod.get());
    });
    return out;
  };
  deps.evictPod = [this](const api::Pod& pod, const eviction::PodEvictionStatus& st) {
    std::vector<api::PodCondition> conds = st.conditions;
    std::string now = rfc3339Now(loop_.wallNow());
    for (auto& c : conds) {
      if (c.lastTransitionTime.empty()) c.lastTransitionTime = now;
    }
    std::string phase = st.phase, reason = st.reason, message = st.message;
    terminatePod(
        pod.metadata.uid, st.reason, st.message, st.gracePeriodSeconds,
        [conds, phase, reason, message](api::PodStatus& s) {
          s.phase = phase;
          s.reason = reason;
          s.message = message;
          for (const auto& c : conds) {
            auto it = std::find_if(s.conditions.begin(), s.conditions.end(),
                                   [&](const auto& x) { return x.type == c.type; });
            if (it == s.conditions.end()) s.conditions.push_back(c);
          }
        },
        nullptr);
  };
  deps.podCleanedUp = [this](const std::string& uid) {
    bool clean = true;
    workers_->forEachPod([&](const pods::PodView& v) {
      if (v.runtime && v.runtime->uid == uid && v.runtime->hasRunningContainer()) clean = false;
    });
    return clean;
  };
  // Under disk pressure the kubelet first removes dead containers (for nodefs), then
  // unused images.
  deps.deleteAllUnusedContainers = [this](eviction::EvictionManagerDeps::Done done) {
    gc_->deleteAllUnusedContainers(std::move(done));
  };
  deps.deleteUnusedImages = [this](eviction::EvictionManagerDeps::Done done) {
    gc_->deleteUnusedImages(std::move(done));
  };
  deps.recordEvent = [this](const api::Pod* pod, std::string_view reason, std::string_view message,
                            const std::map<std::string, std::string>&) {
    events::EventRecorder& rec = cluster_ ? cluster_->events() : logOnlyEvents_;
    rec.record(pod ? events::podRef(*pod) : events::nodeRef(cfg_.nodeName),
               events::EventType::kWarning, std::string(reason), std::string(message));
  };
  eviction_ = std::make_unique<eviction::EvictionManager>(loop_, std::move(eo), std::move(deps));
  return absl::OkStatus();
}

void Agent::setUpGarbageCollection() {
  containerGc_ = std::make_unique<gc::ContainerGc>(*runtimeSvc_, *runtime_);
  gc::ImageGcPolicy policy{cfg_.imageGCHighThresholdPercent, cfg_.imageGCLowThresholdPercent,
                           std::chrono::duration_cast<core::Duration>(cfg_.imageMinimumGCAge)};
  imageGc_ = std::make_unique<gc::ImageGcManager>(
      *runtimeSvc_, *imageSvc_, policy,
      [cri = imageSvc_.get()] { return gc::criImageFsStats(*cri); });
  gc::GarbageCollectorOptions go;
  go.imageGcEnabled = cfg_.imageGCHighThresholdPercent != 100;
  gc::GarbageCollectorDeps deps;
  deps.podStates = [this]() -> std::optional<gc::PodGcStates> {
    if (!workers_->relisted()) return std::nullopt;
    gc::PodGcStates states;
    workers_->forEachPod([&](const pods::PodView& v) {
      // A pod no source wants is stopped and removed by its worker.
      if (!v.pod) return;
      gc::PodGcState& s = states[v.pod->metadata.uid];
      s.terminated = v.terminated;
      s.evicted = v.terminalReason == eviction::kReason;
      s.deleted = v.pod->metadata.deletionTimestamp.has_value();
    });
    return states;
  };
  deps.nodeWarning = [this](const std::string& reason, const std::string& message) {
    events::EventRecorder& rec = cluster_ ? cluster_->events() : logOnlyEvents_;
    rec.record(events::nodeRef(cfg_.nodeName), events::EventType::kWarning, reason, message);
  };
  gc_ = std::make_unique<gc::GarbageCollector>(loop_, *pool_, *containerGc_, *imageGc_, go,
                                               std::move(deps));
}

void Agent::setUpShutdown() {
  shutdown::ShutdownCallbacks cb;
  cb.activePods = [this] { return activePodPtrs(); };
  cb.killPod = [this](const shutdown::PodPtr& pod, int64_t grace,
                      shutdown::ShutdownCallbacks::StatusFn statusFn,
                      std::function<void(absl::Status)> done) {
    terminatePod(pod->metadata.uid, shutdown::kNodeShutdownReason, shutdown::kNodeShutdownMessage,
                 grace, std::move(statusFn), std::move(done));
  };
  cb.syncNodeStatus = [this] {
    if (cluster_) cluster_->syncNodeStatus();
  };
  cb.nodeEvent = [this](const std::string& reason, const std::string& message) {
    events::EventRecorder& rec = cluster_ ? cluster_->events() : logOnlyEvents_;
    rec.record(events::nodeRef(cfg_.nodeName), events::EventType::kNormal, reason, message);
  };
  shutdown::ShutdownManagerOptions so{cfg_.shutdownGracePeriod,
                                      cfg_.shutdownGracePeriodCriticalPods};
  shutdown_ = std::make_unique<shutdown::ShutdownManager>(
      loop_, so, std::move(cb), [this]() -> absl::StatusOr<shutdown::InhibitorPtr> {
        auto* sd = dynamic_cast<core::SdEventLoop*>(&loop_);
        if (!sd) return absl::FailedPreconditionError("graceful shutdown needs the sd-event loop");
        if (!systemBus_) {
          ASSIGN_OR_RETURN(systemBus_, core::DbusConnection::openSystem(*sd));
        }
        return shutdown::InhibitorPtr(
            std::make_unique<shutdown::LogindInhibitor>(loop_, *systemBus_));
      });
}

void Agent::terminatePod(const std::string& uid, const std::string& reason,
                         const std::string& message, int64_t gracePeriodSeconds,
                         std::function<void(api::PodStatus&)> finalStatus,
                         std::function<void(absl::Status)> done) {
  if (finalStatus) finalStatus_[uid] = std::move(finalStatus);
  if (!workers_->terminate(uid, reason, message, gracePeriodSeconds)) {
    // Already ending (or gone): nothing more to wait for.
    if (done) done(absl::OkStatus());
    return;
  }
  if (done) terminationWaiters_[uid].push_back(std::move(done));
}

void Agent::podTerminated(const std::string& uid) {
  auto it = terminationWaiters_.find(uid);
  if (it == terminationWaiters_.end()) return;
  auto waiters = std::move(it->second);
  terminationWaiters_.erase(it);
  for (auto& w : waiters) w(absl::OkStatus());
}

std::optional<pods::Rejection> Agent::admitResources(const api::Pod& pod) const {
  if (shutdown_) {
    if (auto r = shutdown_->admit()) return pods::Rejection{r->reason, r->message};
  }
  if (eviction_) return eviction_->admit(pod, tolerationsOf(pod));
  return std::nullopt;
}

void Agent::startResources() {
  podCgroups_->start([](absl::Status s) {
    if (!s.ok()) LOG_ERROR << "QoS cgroups: " << s.message();
  });
  eviction_->start();
  gc_->start();
  if (shutdown_->enabled()) {
    shutdown_->start([](absl::Status s) {
      if (!s.ok()) {
        LOG_ERROR << "Failed to start node shutdown manager: " << s.message()
                  << "; running without graceful node shutdown";
      }
    });
  }
}

server::HttpResponse Agent::statsSummary() const {
  if (!summary_) {
    return server::HttpResponse{503,
                                "text/plain; charset=utf-8",
                                "stats not collected yet; try again in a few seconds",
                                {}};
  }
  return server::HttpResponse{200, "application/json", stats::summaryJson(*summary_), {}};
}

}  // namespace agent

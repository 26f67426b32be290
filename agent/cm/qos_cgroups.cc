#include "agent/cm/qos_cgroups.h"

#include "agent/cm/pod_resources.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::cm {
namespace {

using cgroups::QosClass;

void runFrom(std::shared_ptr<std::vector<std::function<void(Done)>>> steps, size_t i, Done done) {
  if (i == steps->size()) {
    done(absl::OkStatus());
    return;
  }
  (*steps)[i]([steps, i, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      done(s);
      return;
    }
    runFrom(steps, i + 1, std::move(done));
  });
}

}  // namespace

void runInOrder(std::vector<std::function<void(Done)>> steps, Done done) {
  runFrom(std::make_shared<std::vector<std::function<void(Done)>>>(std::move(steps)), 0,
          std::move(done));
}

QosConfigs computeQosConfigs(const PodList& activePods, bool memoryQoS) {
  int64_t burstableCpu = 0, burstableMemory = 0, guaranteedMemory = 0;
  for (const auto& pod : activePods) {
    if (!pod) continue;
    QosClass qos = qosClassOf(*pod);
    if (qos == QosClass::kBestEffort) continue;
    ResourceAmounts req = podRequests(*pod);
    int64_t memory = req.count("memory") ? req["memory"] : 0;
    if (qos == QosClass::kBurstable) {
      if (req.count("cpu")) burstableCpu += req["cpu"];
      burstableMemory += memory;
    } else {
      guaranteedMemory += memory;
    }
  }
  QosConfigs c;
  c.burstable.cpuWeight =
      cgroups::cpuSharesToWeight(static_cast<uint64_t>(cgroups::milliCpuToShares(burstableCpu)));
  c.besteffort.cpuWeight = cgroups::cpuSharesToWeight(cgroups::kMinShares);
  if (memoryQoS) {
    // burstable protects its own pods' requests; kubepods those of both tiers.
    if (burstableMemory > 0) c.burstable.memoryMin = burstableMemory;
    if (guaranteedMemory + burstableMemory > 0)
      c.kubepods.memoryMin = guaranteedMemory + burstableMemory;
  }
  return c;
}

QosCgroups::QosCgroups(cgroups::CgroupManager& manager, cgroups::CgroupName root,
                       cgroups::ResourceConfig kubepods, bool memoryQoS)
    : manager_(manager), root_(std::move(root)), kubepods_(kubepods), memoryQoS_(memoryQoS) {}

QosCgroups::~QosCgroups() { *alive_ = false; }

void QosCgroups::start(Done done) {
  cgroups::ResourceConfig besteffort;
  besteffort.cpuWeight = cgroups::cpuSharesToWeight(cgroups::kMinShares);
  struct Tier {
    cgroups::CgroupName name;
    cgroups::ResourceConfig rc;
    std::string what;
  };
  std::vector<Tier> tiers = {
      {kubepodsCgroup(root_), kubepods_, "failed to create the node allocatable cgroup "},
      {qosCgroup(root_, QosClass::kBurstable),
       {},
       "failed to create top level Burstable QOS cgroup "},
      {qosCgroup(root_, QosClass::kBestEffort), besteffort,
       "failed to create top level BestEffort QOS cgroup "},
  };
  std::vector<std::function<void(Done)>> steps;
  for (auto& t : tiers) {
    steps.push_back([this, alive = alive_, t](Done next) {
      if (!*alive) return next(absl::CancelledError("the QoS cgroup manager is gone"));
      manager_.create(t.name, t.rc,
                      [t, next](absl::Status s) { next(s.ok() ? s : core::annotate(s, t.what)); });
    });
  }
  runInOrder(std::move(steps), [root = root_, done = std::move(done)](absl::Status s) {
    if (s.ok()) {
      VLOG(2) << "QoS cgroups ready under " << cgroups::toCgroupfs(root);
    }
    done(s);
  });
}

void QosCgroups::update(const PodList& activePods, Done done) {
  QosConfigs c = computeQosConfigs(activePods, memoryQoS_);
  std::vector<std::pair<cgroups::CgroupName, cgroups::ResourceConfig>> writes;
  if (c.kubepods != cgroups::ResourceConfig{})
    writes.emplace_back(kubepodsCgroup(root_), c.kubepods);
  writes.emplace_back(qosCgroup(root_, QosClass::kBurstable), c.burstable);
  writes.emplace_back(qosCgroup(root_, QosClass::kBestEffort), c.besteffort);
  // Every tier is written even after a failure; the first error is the answer.
  auto first = std::make_shared<absl::Status>();
  std::vector<std::function<void(Done)>> steps;
  for (auto& [name, rc] : writes) {
    steps.push_back([this, alive = alive_, name = name, rc = rc, first](Done next) {
      if (!*alive) return next(absl::CancelledError("the QoS cgroup manager is gone"));
      manager_.update(name, rc, [first, next](absl::Status s) {
        if (!s.ok() && first->ok()) *first = s;
        next(absl::OkStatus());
      });
    });
  }
  runInOrder(std::move(steps), [first, done = std::move(done)](absl::Status s) {
    if (!first->ok()) {
      LOG_WARNING << "Failed to update QoS cgroup configuration: " << first->message();
      done(*first);
      return;
    }
    if (s.ok()) {
      VLOG(4) << "Updated QoS cgroup configuration";
    }
    done(s);
  });
}

}  // namespace agent::cm

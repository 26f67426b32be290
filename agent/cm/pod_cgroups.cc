#include "agent/cm/pod_cgroups.h"

#include <dirent.h>

#include <algorithm>
#include <future>

#include "absl/strings/str_join.h"
#include "agent/cm/pod_resources.h"
#include "cgroups/cgroup_version.h"
#include "core/log.h"

namespace agent::cm {
namespace {

using cgroups::QosClass;

// Go's %v of a CgroupName: "[kubepods burstable pod<uid>]".
std::string goName(const cgroups::CgroupName& n) {
  return "[" + absl::StrJoin(n.components, " ") + "]";
}

std::vector<std::string> readDirNames(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

// The pod uid of a pod cgroup's directory name: "pod<uid>" (cgroupfs) or
// "kubepods-burstable-pod<uid with _ for ->.slice" (systemd); "" for anything else.
std::string uidOfDir(const std::string& entry, bool systemd) {
  if (!systemd) return entry.rfind(kPodCgroupPrefix, 0) == 0 ? entry.substr(3) : "";
  static constexpr std::string_view kSuffix = ".slice";
  if (entry.size() <= kSuffix.size() ||
      entry.compare(entry.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
    return "";
  std::string base = entry.substr(0, entry.size() - kSuffix.size());
  size_t at = base.rfind("-pod");
  std::string uid;
  if (at != std::string::npos) {
    uid = base.substr(at + 4);
  } else if (base.rfind(kPodCgroupPrefix, 0) == 0) {
    uid = base.substr(3);  // a pod directly under a root slice
  }
  std::replace(uid.begin(), uid.end(), '_', '-');
  return uid;
}

}  // namespace

PodCgroups::PodCgroups(core::EventLoop& loop, cgroups::CgroupManager& manager, QosCgroups* qos,
                       PodCgroupsOptions opts, ActivePods activePods, ListDir listDir)
    : loop_(loop),
      manager_(manager),
      qos_(qos),
      opts_(std::move(opts)),
      activePods_(std::move(activePods)),
      listDir_(listDir ? std::move(listDir) : ListDir(readDirNames)),
      // The v1 manager spreads a cgroup over every hierarchy, so no path() names it; it
      // lists the children itself.
      v1_(dynamic_cast<const cgroups::LegacyCgroupManager*>(&manager)) {}

PodCgroups::~PodCgroups() { *alive_ = false; }

bool PodCgroups::active() const {
  return opts_.cgroupsPerQOS && qos_ != nullptr && manager_.managesCgroups();
}

bool PodCgroups::removesOnly() const { return opts_.cgroupsPerQOS && !manager_.managesCgroups(); }

void PodCgroups::start(Done done) {
  if (!active()) {
    if (!manager_.managesCgroups()) {
      LOG_INFO << "cgroups are not managed by cubelet on this host (" << manager_.driver()
               << " driver): no pod, QoS or node allocatable cgroups; the runtime creates the "
                  "pods' parent cgroups and applies container limits, cubelet removes the pod "
                  "cgroups once their pods are gone";
    }
    done(absl::OkStatus());
    return;
  }
  qos_->start([this, alive = alive_, done = std::move(done)](absl::Status s) {
    if (*alive && s.ok() && opts_.qosUpdatePeriod.count() > 0) {
      qosTimer_ = loop_.createTimer([this] {
        updateQos(nullptr, [](absl::Status) {});
        qosTimer_->enableTimer(opts_.qosUpdatePeriod);
      });
      qosTimer_->enableTimer(opts_.qosUpdatePeriod);
    }
    done(s);
  });
}

cgroups::CgroupName PodCgroups::nameFor(const api::Pod& pod) const {
  if (!opts_.cgroupsPerQOS) return opts_.root;
  return podCgroup(opts_.root, pod);
}

std::string PodCgroups::parentFor(const api::Pod& pod) const {
  return manager_.runtimeParent(nameFor(pod));
}

void PodCgroups::updateQos(const std::shared_ptr<const api::Pod>& extra, Done done) {
  PodList pods = activePods_ ? activePods_() : PodList{};
  // The pod being created counts even when the caller's list does not have it yet.
  if (extra && std::none_of(pods.begin(), pods.end(), [&](const auto& p) {
        return p && p->metadata.uid == extra->metadata.uid;
      })) {
    pods.push_back(extra);
  }
  qos_->update(pods, std::move(done));
}

void PodCgroups::ensure(std::shared_ptr<const api::Pod> pod, Done done) {
  if (!active()) {
    done(absl::OkStatus());
    return;
  }
  cgroups::CgroupName name = nameFor(*pod);
  if (manager_.exists(name)) {
    done(absl::OkStatus());
    return;
  }
  cgroups::ResourceConfig rc =
      resourceConfigForPod(*pod, opts_.enforceCpuLimits, opts_.cpuPeriodUs, opts_.memoryQoS);
  if (opts_.podPidsLimit > 0) rc.pidsMax = opts_.podPidsLimit;
  updateQos(pod, [this, alive = alive_, pod, name, rc, done = std::move(done)](absl::Status s) {
    if (!s.ok()) {
      VLOG(2) << "Failed to update QoS cgroups while syncing pod " << pod->metadata.namespace_
              << "/" << pod->metadata.name << ": " << s.message();
    }
    if (!*alive) return done(absl::CancelledError("the pod cgroup manager is gone"));
    manager_.create(name, rc, [name, done](absl::Status s) {
      if (s.ok()) return done(s);
      done(absl::Status(s.code(), "failed to create container for " + goName(name) + " : " +
                                      std::string(s.message())));
    });
  });
}

absl::Status PodCgroups::ensureBlocking(std::shared_ptr<const api::Pod> pod,
                                        core::Duration timeout) {
  if (loop_.isLoopThread()) {
    return absl::InternalError("ensureBlocking called on the event loop thread");
  }
  auto result = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> f = result->get_future();
  loop_.post([this, alive = alive_, pod, result] {
    if (!*alive) {
      result->set_value(absl::CancelledError("the pod cgroup manager is gone"));
      return;
    }
    ensure(pod, [result](absl::Status s) { result->set_value(std::move(s)); });
  });
  if (f.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError("timed out after " + std::to_string(timeout.count()) +
                                       "ms creating the cgroup of pod " + pod->metadata.uid);
  }
  return f.get();
}

void PodCgroups::update(std::shared_ptr<const api::Pod> pod, const cgroups::ResourceConfig& rc,
                        Done done) {
  if (!active()) {
    done(absl::OkStatus());
    return;
  }
  cgroups::CgroupName name = nameFor(*pod);
  manager_.update(name, rc, [name, done = std::move(done)](absl::Status s) {
    if (s.ok()) return done(s);
    done(absl::Status(s.code(), "failed to set cgroup config for " + goName(name) + " : " +
                                    std::string(s.message())));
  });
}

absl::Status PodCgroups::updateBlocking(std::shared_ptr<const api::Pod> pod,
                                        const cgroups::ResourceConfig& rc, core::Duration timeout) {
  if (loop_.isLoopThread()) {
    return absl::InternalError("updateBlocking called on the event loop thread");
  }
  auto result = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> f = result->get_future();
  loop_.post([this, alive = alive_, pod, rc, result] {
    if (!*alive) {
      result->set_value(absl::CancelledError("the pod cgroup manager is gone"));
      return;
    }
    update(pod, rc, [result](absl::Status s) { result->set_value(std::move(s)); });
  });
  if (f.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError("timed out after " + std::to_string(timeout.count()) +
                                       "ms updating the cgroup of pod " + pod->metadata.uid);
  }
  return f.get();
}

void PodCgroups::remove(const std::string& uid, Done done) {
  if (!active() && !removesOnly()) {
    done(absl::OkStatus());
    return;
  }
  std::vector<std::function<void(Done)>> steps;
  for (QosClass q : {QosClass::kGuaranteed, QosClass::kBurstable, QosClass::kBestEffort}) {
    cgroups::CgroupName name = podCgroup(opts_.root, q, uid);
    if (!manager_.exists(name)) continue;
    steps.push_back([this, alive = alive_, name](Done next) {
      if (!*alive) return next(absl::CancelledError("the pod cgroup manager is gone"));
      manager_.destroy(name, [name, next](absl::Status s) {
        if (s.ok()) return next(s);
        next(absl::Status(s.code(), "failed to delete cgroup paths for " + goName(name) + " : " +
                                        std::string(s.message())));
      });
    });
  }
  if (steps.empty()) {
    done(absl::OkStatus());
    return;
  }
  runInOrder(std::move(steps), [this, alive = alive_, done = std::move(done)](absl::Status s) {
    if (!*alive || !s.ok() || !active()) return done(s);
    // Its requests no longer count in the burstable tier.
    updateQos(nullptr, [done](absl::Status) { done(absl::OkStatus()); });
  });
}

std::vector<std::pair<std::string, cgroups::CgroupName>> PodCgroups::podCgroupsOnDisk() const {
  std::vector<std::pair<std::string, cgroups::CgroupName>> out;
  bool systemd = manager_.driver() == "systemd";
  for (QosClass q : {QosClass::kGuaranteed, QosClass::kBurstable, QosClass::kBestEffort}) {
    std::vector<std::string> entries;
    if (v1_ != nullptr) {
      std::set<std::string> names = v1_->childNames(qosCgroup(opts_.root, q));
      entries.assign(names.begin(), names.end());
    } else if (std::string dir = manager_.path(qosCgroup(opts_.root, q)); !dir.empty()) {
      entries = listDir_(dir);
    }
    for (const std::string& entry : entries) {
      std::string uid = uidOfDir(entry, systemd);
      if (!uid.empty()) out.emplace_back(uid, podCgroup(opts_.root, q, uid));
    }
  }
  return out;
}

void PodCgroups::cleanupOrphans(const std::set<std::string>& activeUids, Done done) {
  if (!active() && !removesOnly()) {
    done(absl::OkStatus());
    return;
  }
  auto first = std::make_shared<absl::Status>();
  std::vector<std::function<void(Done)>> steps;
  for (auto& [uid, name] : podCgroupsOnDisk()) {
    if (activeUids.count(uid)) continue;
    LOG_INFO << "Orphaned pod found, removing pod cgroups: podUID " << uid;
    steps.push_back([this, alive = alive_, name = name, first](Done next) {
      if (!*alive) return next(absl::CancelledError("the pod cgroup manager is gone"));
      manager_.destroy(name, [name, first, next](absl::Status s) {
        if (!s.ok()) {
          LOG_WARNING << "Failed to remove orphaned pod cgroup " << cgroups::toCgroupfs(name)
                      << ": " << s.message();
          if (first->ok()) *first = s;
        }
        next(absl::OkStatus());
      });
    });
  }
  runInOrder(std::move(steps),
             [first, done = std::move(done)](absl::Status s) { done(first->ok() ? s : *first); });
}

}  // namespace agent::cm

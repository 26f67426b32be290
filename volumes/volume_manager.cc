#include "volumes/volume_manager.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "volumes/atomic_writer.h"
#include "volumes/host_path_check.h"
#include "volumes/mounts.h"
#include "volumes/ownership.h"
#include "volumes/subpath.h"

namespace volumes {

namespace {

size_t payloadHash(const VolumePlan& plan) {
  if (plan.kind != VolumeKind::kPayload) return 0;
  size_t h = 1469598103934665603ull;
  auto mix = [&h](size_t v) { h = (h ^ v) * 1099511628211ull; };
  std::hash<std::string> hs;
  for (const auto& [path, f] : plan.payload) {
    mix(hs(path));
    mix(hs(f.data));
    mix(static_cast<size_t>(f.mode));
    mix(f.fsUser ? static_cast<size_t>(*f.fsUser) + 1 : 0);
  }
  mix(plan.fsGroup ? static_cast<size_t>(*plan.fsGroup) + 1 : 0);
  return h;
}

// emptyDir's directory mode (the kubelet's defaultPerm); a tmpfs gets the tmpfs
// default, 1777.
constexpr mode_t kEmptyDirPerm = 0777;
constexpr mode_t kTmpfsPerm = 01777;

absl::Status ensureDir(const std::string& dir, mode_t perm) {
  RETURN_IF_ERROR(core::mkdirAll(dir, perm));
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) return core::errnoStatus(errno, "stat " + dir);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(dir + " is not a directory");
  if ((st.st_mode & 07777) != perm && chmod(dir.c_str(), perm) != 0) {
    return core::errnoStatus(errno, "chmod " + dir);
  }
  return absl::OkStatus();
}

absl::Status ensureTmpfs(const std::string& dir, std::optional<uint64_t> size) {
  RETURN_IF_ERROR(ensureDir(dir, kEmptyDirPerm));
  ASSIGN_OR_RETURN(bool mounted, isMountPoint(dir));
  if (mounted) return absl::OkStatus();
  return mountTmpfs(dir, size, kTmpfsPerm);
}

absl::Status applyOwnership(const VolumePlan& plan, const std::string& dir) {
  if (!plan.fsGroup) return absl::OkStatus();
  return setVolumeOwnership(dir, *plan.fsGroup, plan.readOnly, plan.fsGroupPolicy);
}

}  // namespace

std::string podDir(const std::string& rootDir, const std::string& uid) {
  return rootDir + "/pods/" + uid;
}

std::string volumeHostPath(const std::string& rootDir, const std::string& uid,
                           const VolumePlan& plan) {
  if (plan.kind == VolumeKind::kHostPath) return plan.source;
  const std::string& leaf = plan.kind == VolumeKind::kBind ? plan.dirName : plan.name;
  return podDir(rootDir, uid) + "/volumes/" + plan.plugin + "/" + leaf;
}

absl::Status setUpVolume(const std::string& rootDir, const std::string& uid,
                         const VolumePlan& plan) {
  const std::string dir = volumeHostPath(rootDir, uid, plan);
  switch (plan.kind) {
    case VolumeKind::kHostPath:
      return checkHostPathType(plan.source, plan.hostPathType);
    case VolumeKind::kEmptyDir:
      if (plan.memory) {
        RETURN_IF_ERROR(ensureTmpfs(dir, plan.sizeBytes));
      } else {
        RETURN_IF_ERROR(ensureDir(dir, kEmptyDirPerm));
      }
      return applyOwnership(plan, dir);
    case VolumeKind::kPayload: {
      if (plan.memory) {
        RETURN_IF_ERROR(ensureTmpfs(dir, plan.sizeBytes));
      } else {
        RETURN_IF_ERROR(ensureDir(dir, kEmptyDirPerm));
      }
      ASSIGN_OR_RETURN(bool changed, writePayload(dir, plan.payload));
      if (!changed) return absl::OkStatus();
      return applyOwnership(plan, dir);
    }
    case VolumeKind::kBind: {
      struct stat st {};
      if (stat(plan.source.c_str(), &st) != 0) {
        return absl::NotFoundError("path \"" + plan.source + "\" does not exist");
      }
      RETURN_IF_ERROR(core::mkdirAll(dir, 0750));
      ASSIGN_OR_RETURN(bool mounted, isMountPoint(dir));
      if (!mounted) RETURN_IF_ERROR(bindMount(plan.source, dir, plan.readOnly));
      if (plan.readOnly) return absl::OkStatus();
      return applyOwnership(plan, dir);
    }
  }
  return absl::InternalError("unknown volume kind");
}

absl::Status tearDownPod(const std::string& rootDir, const std::string& uid, bool removePodDir) {
  const std::string pd = podDir(rootDir, uid);
  RETURN_IF_ERROR(cleanSubpaths(pd));
  const std::string target = removePodDir ? pd : pd + "/volumes";
  ASSIGN_OR_RETURN(int unmounted, unmountAllUnder(target));
  if (unmounted > 0) {
    VLOG(2) << "pod " << uid << ": unmounted " << unmounted << " volume mounts";
  }
  return core::removeAll(target);
}

struct VolumeManager::Job {
  VolumePlan plan;
  size_t hash = 0;
};

struct VolumeManager::JobResult {
  std::string name;
  size_t hash = 0;
  absl::Status status;
};

VolumeManager::VolumeManager(core::EventLoop& loop, core::WorkerPool& pool, Options opts)
    : loop_(loop), pool_(pool), opts_(std::move(opts)) {}

VolumeManager::~VolumeManager() { *alive_ = false; }

void VolumeManager::setPod(const std::string& uid, std::vector<VolumePlan> plans) {
  auto& slot = pods_[uid];
  if (!slot) slot = std::make_unique<Pod>();
  Pod& p = *slot;
  if (p.removing) {
    // Wanted again (a static pod re-added): set up anew after the teardown.
    p.removing = false;
    p.ready = false;
    p.volumes.clear();
  }
  std::set<std::string> names;
  for (auto& plan : plans) {
    names.insert(plan.name);
    Volume& v = p.volumes[plan.name];
    size_t hash = payloadHash(plan);
    // Changed inputs are tried (or reported) now rather than after the backoff.
    if (plan.error != v.plan.error || plan.waiting != v.plan.waiting || hash != v.wantedHash) {
      v.retryAt = {};
    }
    v.wantedHash = hash;
    v.plan = std::move(plan);
  }
  for (auto it = p.volumes.begin(); it != p.volumes.end();) {
    it = names.count(it->first) ? std::next(it) : p.volumes.erase(it);
  }
  reconcile(uid);
}

void VolumeManager::removePod(const std::string& uid, bool removePodDir) {
  auto& slot = pods_[uid];
  if (!slot) slot = std::make_unique<Pod>();
  Pod& p = *slot;
  p.removing = true;
  p.removePodDir = p.removePodDir || removePodDir;
  p.ready = false;
  p.mounts = std::make_shared<PodMounts>();
  reconcile(uid);
}

void VolumeManager::cleanupOrphans(const std::set<std::string>& keep) {
  std::string root = opts_.rootDir + "/pods";
  auto alive = alive_;
  core::runOnPool(
      pool_, loop_,
      [root] {
        std::vector<std::string> uids;
        DIR* d = opendir(root.c_str());
        if (!d) return uids;
        while (dirent* e = readdir(d)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") uids.push_back(n);
        }
        closedir(d);
        return uids;
      },
      [this, keep, alive](std::vector<std::string> uids) {
        if (!*alive) return;
        for (const auto& uid : uids) {
          if (keep.count(uid) || pods_.count(uid)) continue;
          LOG_INFO << "Cleaning up orphaned pod directory " << opts_.rootDir << "/pods/" << uid;
          removePod(uid, /*removePodDir=*/true);
        }
      });
}

bool VolumeManager::ready(const std::string& uid) const {
  auto it = pods_.find(uid);
  return it != pods_.end() && it->second->ready;
}

PodMountsPtr VolumeManager::mounts(const std::string& uid) const {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return std::make_shared<PodMounts>();
  return it->second->mounts;
}

std::vector<std::string> VolumeManager::unmounted(const std::string& uid) const {
  std::vector<std::string> out;
  auto it = pods_.find(uid);
  if (it == pods_.end()) return out;
  for (const auto& [name, v] : it->second->volumes) {
    if (!v.setUp) out.push_back(name);
  }
  return out;
}

void VolumeManager::reconcile(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Pod& p = *it->second;
  if (p.working) {
    p.pending = true;
    return;
  }
  p.pending = false;
  if (p.removing) {
    tearDown(uid, p);
    return;
  }
  core::MonoTime now = loop_.monotonicNow();
  auto jobs = std::make_shared<std::vector<Job>>();
  for (auto& [name, v] : p.volumes) {
    if (v.plan.waiting) continue;
    bool due = v.retryAt <= now;
    if (!v.plan.error.empty()) {
      if (due) failed(uid, p, v, v.plan.error);
      continue;
    }
    bool needed =
        !v.setUp || (v.plan.kind == VolumeKind::kPayload && v.appliedHash != v.wantedHash);
    if (needed && due) jobs->push_back({v.plan, v.wantedHash});
  }
  armRetry(uid, p);
  if (jobs->empty()) {
    onJobDone(uid, {});
    return;
  }
  p.working = true;
  std::string root = opts_.rootDir;
  auto alive = alive_;
  core::runOnPool(
      pool_, loop_,
      [root, uid, jobs] {
        std::vector<JobResult> results;
        for (const Job& j : *jobs) {
          results.push_back({j.plan.name, j.hash, setUpVolume(root, uid, j.plan)});
        }
        return results;
      },
      [this, uid, alive](std::vector<JobResult> results) {
        if (*alive) onJobDone(uid, std::move(results));
      });
}

void VolumeManager::onJobDone(const std::string& uid, std::vector<JobResult> results) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Pod& p = *it->second;
  bool wasWorking = p.working;
  p.working = false;
  for (auto& r : results) {
    auto v = p.volumes.find(r.name);
    if (v == p.volumes.end() || p.removing) continue;
    if (!r.status.ok()) {
      failed(uid, p, v->second, std::string(r.status.message()));
      continue;
    }
    if (!v->second.setUp) {
      VLOG(2) << "pod " << uid << ": volume " << r.name << " set up";
    }
    v->second.setUp = true;
    v->second.appliedHash = r.hash;
    v->second.lastError.clear();
    v->second.backoff = {};
    v->second.retryAt = {};
  }
  bool all = !p.removing && std::all_of(p.volumes.begin(), p.volumes.end(),
                                        [](const auto& kv) { return kv.second.setUp; });
  bool becameReady = all && !p.ready;
  if (all) {
    p.ready = true;
    refreshMounts(uid, p);
  }
  armRetry(uid, p);
  // Posted: the callback may resync the pod, which may call back into us.
  if (becameReady && onReady_)
    loop_.post([this, uid, alive = alive_] {
      if (*alive && onReady_) onReady_(uid);
    });
  auto again = pods_.find(uid);
  if (wasWorking && again != pods_.end() && again->second->pending) reconcile(uid);
}

void VolumeManager::failed(const std::string& uid, Pod& p, Volume& v, const std::string& message) {
  (void)p;
  v.lastError = message;
  v.backoff = v.backoff.count() == 0 ? opts_.retryInitial : std::min(v.backoff * 2, opts_.retryMax);
  v.retryAt = loop_.monotonicNow() + v.backoff;
  std::string msg = "MountVolume.SetUp failed for volume \"" + v.plan.name + "\" : " + message;
  LOG_WARNING << "pod " << uid << ": " << msg;
  if (onEvent_) onEvent_(uid, "FailedMount", msg);
}

void VolumeManager::armRetry(const std::string& uid, Pod& p) {
  core::MonoTime now = loop_.monotonicNow();
  std::optional<core::MonoTime> next;
  for (const auto& [name, v] : p.volumes) {
    bool wants =
        !v.plan.waiting && (!v.plan.error.empty() || !v.setUp || v.appliedHash != v.wantedHash);
    if (wants && v.retryAt > now && (!next || v.retryAt < *next)) next = v.retryAt;
  }
  if (!next) {
    if (p.retry) p.retry->disableTimer();
    return;
  }
  if (!p.retry) p.retry = loop_.createTimer([this, uid] { reconcile(uid); });
  p.retry->enableTimer(std::chrono::duration_cast<core::Duration>(*next - now) + core::Duration(1));
}

void VolumeManager::refreshMounts(const std::string& uid, Pod& p) {
  auto m = std::make_shared<PodMounts>();
  for (const auto& [name, v] : p.volumes) {
    (*m)[name] = {volumeHostPath(opts_.rootDir, uid, v.plan), v.plan.readOnly};
  }
  if (*m != *p.mounts) p.mounts = std::move(m);
}

void VolumeManager::tearDown(const std::string& uid, Pod& p) {
  p.working = true;
  if (p.retry) p.retry->disableTimer();
  std::string root = opts_.rootDir;
  bool removeDir = p.removePodDir;
  auto alive = alive_;
  core::runOnPool(
      pool_, loop_, [root, uid, removeDir] { return tearDownPod(root, uid, removeDir); },
      [this, uid, alive](absl::Status s) {
        if (!*alive) return;
        auto it = pods_.find(uid);
        if (it == pods_.end()) return;
        Pod& p = *it->second;
        p.working = false;
        if (!p.removing) {  // wanted again meanwhile
          reconcile(uid);
          return;
        }
        if (s.ok()) {
          VLOG(2) << "pod " << uid << ": volumes torn down";
          pods_.erase(it);
          return;
        }
        LOG_WARNING << "pod " << uid << ": tearing down volumes: " << s.message();
        if (!p.retry) p.retry = loop_.createTimer([this, uid] { reconcile(uid); });
        p.retry->enableTimer(std::chrono::seconds(2));
      });
}

}  // namespace volumes

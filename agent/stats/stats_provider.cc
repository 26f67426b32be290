#include "agent/stats/stats_provider.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/runtime/labels.h"
#include "agent/stats/container_cgroup.h"
#include "cgroups/proc_stats.h"
#include "core/fs_usage.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::stats {
namespace {

namespace v1 = ::runtime::v1;

core::WallTime fromNanos(int64_t ns) {
  return core::WallTime(
      std::chrono::duration_cast<core::WallTime::duration>(std::chrono::nanoseconds(ns)));
}

int64_t monoNanos(core::MonoTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// An FsStats with the capacity figures of the filesystem it lives on.
FsStats onFilesystem(core::WallTime time, const std::optional<core::FsStats>& fs) {
  FsStats out;
  out.time = time;
  if (fs) {
    out.availableBytes = fs->availableBytes;
    out.capacityBytes = fs->capacityBytes;
    out.inodesFree = fs->inodesFree;
    out.inodes = fs->inodes;
  }
  return out;
}

void addTo(std::optional<uint64_t>& sum, const std::optional<uint64_t>& v) {
  if (v) sum = sum.value_or(0) + *v;
}

// The bytes and inodes under `dir`; a directory that does not exist (a pod that has
// not logged yet) holds nothing.
std::optional<core::DirUsage> usageOrZero(const std::string& dir) {
  absl::StatusOr<core::DirUsage> u = core::directoryUsage(dir);
  if (u.ok()) return *u;
  if (absl::IsNotFound(u.status())) return core::DirUsage{};
  LOG_WARNING << "stats: " << u.status().message();
  return std::nullopt;
}

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno != ENOENT) LOG_WARNING << "stats: " << core::errnoStatus(errno, "opendir " + dir);
    return out;
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// The kubelet's removeTerminatedPods: per pod uid the newest ready sandbox, or the
// newest one when none is ready.
std::vector<const v1::PodSandbox*> latestSandboxes(
    const std::vector<v1::PodSandbox>& all, std::map<std::string, runtime::PodIdentity>* ids) {
  std::map<std::string, const v1::PodSandbox*> byUid;
  for (const v1::PodSandbox& sb : all) {
    runtime::PodIdentity id;
    runtime::StringMap labels(sb.labels().begin(), sb.labels().end());
    if (!runtime::podIdentityFromLabels(labels, &id)) {
      id = {sb.metadata().name(), sb.metadata().namespace_(), sb.metadata().uid()};
    }
    if (id.uid.empty()) continue;
    (*ids)[sb.id()] = id;
    const v1::PodSandbox*& cur = byUid[id.uid];
    auto rank = [](const v1::PodSandbox* s) {
      return std::make_pair(s->state() == v1::SANDBOX_READY, s->created_at());
    };
    if (cur == nullptr || rank(&sb) > rank(cur)) cur = &sb;
  }
  std::vector<const v1::PodSandbox*> out;
  for (const auto& [uid, sb] : byUid) out.push_back(sb);
  return out;
}

}  // namespace

StatsProvider::StatsProvider(cri::RuntimeService& runtime, cri::ImageService& images,
                             const core::Clock& clock, StatsProviderOptions options)
    : runtime_(runtime), images_(images), clock_(clock), options_(std::move(options)) {}

std::optional<uint64_t> StatsProvider::nanoCores(std::optional<CpuSample>& prev, CpuSample cur) {
  std::optional<uint64_t> out;
  if (prev && cur.timeNanos > prev->timeNanos && cur.usageNanos >= prev->usageNanos) {
    long double rate = static_cast<long double>(cur.usageNanos - prev->usageNanos) * 1e9L /
                       static_cast<long double>(cur.timeNanos - prev->timeNanos);
    out = static_cast<uint64_t>(rate);
  }
  if (!prev || cur.timeNanos >= prev->timeNanos) prev = cur;
  return out;
}

std::optional<std::string> StatsProvider::containerCgroup(const std::string& id) {
  if (auto it = cgroups_.find(id); it != cgroups_.end()) return it->second;
  std::optional<std::string>& out = cgroups_[id];
  absl::StatusOr<v1::ContainerStatusResponse> st = runtime_.containerStatus(id, true);
  if (!st.ok()) {
    // Not remembered: the next collection asks again.
    cgroups_.erase(id);
    LOG_WARNING << "stats: container " << id << ": " << st.status().message();
    return std::nullopt;
  }
  auto info = st->info().find("info");
  absl::StatusOr<std::string> path = info == st->info().end()
                                         ? absl::NotFoundError("no verbose info")
                                         : cgroupsPathOfVerboseInfo(info->second);
  if (path.ok()) {
    absl::StatusOr<std::string> cg = cgroupOfCgroupsPath(*path);
    if (cg.ok()) {
      out = *cg;
    } else {
      LOG_WARNING << "stats: container " << id << ": " << cg.status().message();
    }
  } else {
    LOG_WARNING << "stats: container " << id << " has no cpu or memory statistics from the "
                << "runtime and its cgroup is unknown: " << path.status().message();
  }
  return out;
}

void StatsProvider::fillFromCgroup(const std::string& id, bool needCpu, bool needMemory,
                                   core::WallTime now, CpuStats& cpu, MemoryStats& mem,
                                   std::map<std::string, CpuSample>& seenCpu) {
  std::optional<std::string> cgroup = containerCgroup(id);
  if (!cgroup) return;
  if (!mounts_) {
    absl::StatusOr<std::vector<cgroups::CgroupMount>> m =
        cgroups::readCgroupMounts(options_.mountinfoPath);
    if (!m.ok()) {
      LOG_WARNING << "stats: " << m.status().message();
      return;
    }
    mounts_ = std::move(*m);
  }
  absl::StatusOr<CgroupFigures> f = readContainerCgroup(*mounts_, *cgroup);
  if (!f.ok()) {
    VLOG(2) << "stats: container " << id << " cgroup " << *cgroup << ": " << f.status().message();
    return;
  }
  int64_t nowNanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  if (needCpu && f->cpuUsageNanos) {
    cpu.time = now;
    cpu.usageCoreNanoSeconds = *f->cpuUsageNanos;
    std::optional<CpuSample> prev;
    if (auto pit = containerCpu_.find(id); pit != containerCpu_.end()) prev = pit->second;
    cpu.usageNanoCores = nanoCores(prev, CpuSample{*f->cpuUsageNanos, nowNanos}).value_or(0);
    seenCpu[id] = *prev;
  }
  if (needMemory && f->workingSetBytes) {
    mem.time = now;
    mem.workingSetBytes = f->workingSetBytes;
    mem.usageBytes = f->memoryUsageBytes;
    mem.rssBytes = f->rssBytes;
    mem.pageFaults = f->pageFaults;
    mem.majorPageFaults = f->majorPageFaults;
  }
}

NodeStats StatsProvider::collectNode(core::WallTime now) {
  NodeStats n;
  n.nodeName = options_.nodeName;
  const std::string& proc = options_.procRoot;
  if (auto boot = cgroups::readBootTime(proc); boot.ok()) {
    n.startTime = core::WallTime(std::chrono::seconds(*boot));
  } else {
    LOG_WARNING << "stats: " << boot.status().message();
  }
  if (auto cpu = cgroups::readCpuUsageNanos(proc); cpu.ok()) {
    CpuStats c;
    c.time = now;
    c.usageCoreNanoSeconds = *cpu;
    c.usageNanoCores = nanoCores(nodeCpu_, CpuSample{*cpu, monoNanos(clock_.monotonicNow())});
    n.cpu = c;
  } else {
    LOG_WARNING << "stats: " << cpu.status().message();
  }
  if (auto mem = cgroups::readMemInfo(proc); mem.ok()) {
    cgroups::NodeMemory nm = cgroups::nodeMemory(*mem);
    MemoryStats m;
    m.time = now;
    m.availableBytes = nm.availableBytes;
    m.usageBytes = nm.usageBytes;
    m.workingSetBytes = nm.workingSetBytes;
    n.memory = m;
  } else {
    LOG_WARNING << "stats: " << mem.status().message();
  }
  if (auto fs = core::filesystemStats(options_.rootDir); fs.ok()) {
    FsStats f = onFilesystem(now, *fs);
    f.usedBytes = fs->usedBytes;
    f.inodesUsed = fs->inodesUsed;
    n.fs = f;
  } else {
    LOG_WARNING << "stats: " << fs.status().message();
  }
  if (auto limits = cgroups::readProcessLimits(proc); limits.ok()) {
    n.rlimit = RlimitStats{now, limits->maxPid, limits->numProcesses};
  } else {
    LOG_WARNING << "stats: " << limits.status().message();
  }
  return n;
}

std::optional<FsStats> StatsProvider::collectImageFs(core::WallTime now) {
  absl::StatusOr<v1::ImageFsInfoResponse> info = images_.imageFsInfo();
  if (!info.ok()) {
    LOG_WARNING << "stats: image filesystem: " << info.status().message();
    return std::nullopt;
  }
  if (info->image_filesystems().empty()) return std::nullopt;
  // The kubelet reports the first image filesystem (the others are container fs).
  const v1::FilesystemUsage& u = info->image_filesystems(0);
  struct stat imageSt {
  }, rootSt{};
  if (::stat(u.fs_id().mountpoint().c_str(), &imageSt) == 0 &&
      ::stat(options_.rootDir.c_str(), &rootSt) == 0) {
    dedicatedImageFs_ = imageSt.st_dev != rootSt.st_dev;
  }
  std::optional<core::FsStats> fs;
  if (auto st = core::filesystemStats(u.fs_id().mountpoint()); st.ok()) {
    fs = *st;
  } else {
    LOG_WARNING << "stats: image filesystem: " << st.status().message();
  }
  FsStats out = onFilesystem(u.timestamp() ? fromNanos(u.timestamp()) : now, fs);
  out.usedBytes = u.has_used_bytes() ? u.used_bytes().value() : 0;
  if (u.has_inodes_used()) out.inodesUsed = u.inodes_used().value();
  return out;
}

absl::StatusOr<Summary> StatsProvider::collect() {
  std::lock_guard lock(mu_);
  core::WallTime now = clock_.wallNow();
  Summary s;
  s.node = collectNode(now);
  std::optional<core::FsStats> nodeFs;
  if (auto fs = core::filesystemStats(options_.rootDir); fs.ok()) nodeFs = *fs;
  std::optional<FsStats> imageFs = collectImageFs(now);
  s.node.runtime = RuntimeStats{imageFs};
  std::optional<core::FsStats> imageFsCapacity;
  if (imageFs && imageFs->capacityBytes) {
    imageFsCapacity =
        core::FsStats{*imageFs->capacityBytes,     *imageFs->availableBytes,        0,
                      imageFs->inodes.value_or(0), imageFs->inodesFree.value_or(0), 0};
  }

  ASSIGN_OR_RETURN(std::vector<v1::PodSandbox> sandboxes,
                   runtime_.listPodSandbox(v1::PodSandboxFilter()));
  ASSIGN_OR_RETURN(std::vector<v1::Container> containers,
                   runtime_.listContainers(v1::ContainerFilter()));
  ASSIGN_OR_RETURN(std::vector<v1::ContainerStats> criStats,
                   runtime_.listContainerStats(v1::ContainerStatsFilter()));
  std::map<std::string, const v1::ContainerStats*> statsById;
  for (const v1::ContainerStats& cs : criStats) statsById[cs.attributes().id()] = &cs;
  std::map<std::string, std::vector<const v1::Container*>> bySandbox;
  for (const v1::Container& c : containers) {
    if (c.state() == v1::CONTAINER_RUNNING) bySandbox[c.pod_sandbox_id()].push_back(&c);
  }

  std::map<std::string, runtime::PodIdentity> ids;
  std::map<std::string, CpuSample> seenCpu;
  for (const v1::PodSandbox* sb : latestSandboxes(sandboxes, &ids)) {
    const runtime::PodIdentity& id = ids[sb->id()];
    PodStats p;
    p.podRef = PodReference{id.name, id.namespace_, id.uid};
    p.startTime = fromNanos(sb->created_at());
    std::string podLogDir =
        absl::StrCat(options_.podLogsDir, "/", id.namespace_, "_", id.name, "_", id.uid);
    FsStats eph = onFilesystem(now, nodeFs);
    eph.usedBytes = 0;
    eph.inodesUsed = 0;

    for (const v1::Container* c : bySandbox[sb->id()]) {
      ContainerStats cs;
      auto nameLabel = c->labels().find(runtime::kContainerNameLabel);
      cs.name = nameLabel != c->labels().end() ? nameLabel->second : c->metadata().name();
      cs.startTime = fromNanos(c->created_at());
      auto it = statsById.find(c->id());
      const v1::ContainerStats* st = it == statsById.end() ? nullptr : it->second;
      // As the kubelet: no CRI figures read as zero usage at collection time.
      CpuStats cpu{now, uint64_t{0}, uint64_t{0}};
      MemoryStats mem;
      mem.time = now;
      mem.workingSetBytes = 0;
      FsStats rootfs = onFilesystem(now, imageFsCapacity);
      rootfs.usedBytes = 0;
      rootfs.inodesUsed = 0;
      if (st && st->has_cpu()) {
        const v1::CpuUsage& u = st->cpu();
        cpu.time = fromNanos(u.timestamp());
        if (u.has_usage_core_nano_seconds()) {
          cpu.usageCoreNanoSeconds = u.usage_core_nano_seconds().value();
          std::optional<CpuSample> prev;
          if (auto pit = containerCpu_.find(c->id()); pit != containerCpu_.end()) {
            prev = pit->second;
          }
          std::optional<uint64_t> rate =
              nanoCores(prev, CpuSample{u.usage_core_nano_seconds().value(), u.timestamp()});
          seenCpu[c->id()] = *prev;
          cpu.usageNanoCores = rate.value_or(0);
        }
        if (u.has_usage_nano_cores() && u.usage_nano_cores().value() > 0) {
          cpu.usageNanoCores = u.usage_nano_cores().value();
        }
      }
      if (st && st->has_memory()) {
        const v1::MemoryUsage& u = st->memory();
        mem.time = fromNanos(u.timestamp());
        if (u.has_working_set_bytes()) mem.workingSetBytes = u.working_set_bytes().value();
        if (u.has_usage_bytes()) mem.usageBytes = u.usage_bytes().value();
        if (u.has_rss_bytes()) mem.rssBytes = u.rss_bytes().value();
        if (u.has_page_faults()) mem.pageFaults = u.page_faults().value();
        if (u.has_major_page_faults()) mem.majorPageFaults = u.major_page_faults().value();
        if (u.has_available_bytes()) mem.availableBytes = u.available_bytes().value();
      }
      bool needCpu = !st || !st->has_cpu() || !st->cpu().has_usage_core_nano_seconds();
      bool needMemory = !st || !st->has_memory() || !st->memory().has_working_set_bytes();
      if (needCpu || needMemory)
        fillFromCgroup(c->id(), needCpu, needMemory, now, cpu, mem, seenCpu);
      if (st && st->has_writable_layer()) {
        const v1::FilesystemUsage& w = st->writable_layer();
        if (w.timestamp()) rootfs.time = fromNanos(w.timestamp());
        if (w.has_used_bytes()) rootfs.usedBytes = w.used_bytes().value();
        if (w.has_inodes_used()) rootfs.inodesUsed = w.inodes_used().value();
      }
      FsStats logs = onFilesystem(now, nodeFs);
      if (auto u = usageOrZero(podLogDir + "/" + cs.name)) {
        logs.usedBytes = u->bytes;
        logs.inodesUsed = u->inodes;
      }
      cs.cpu = cpu;
      cs.memory = mem;
      cs.rootfs = rootfs;
      cs.logs = logs;
      addTo(eph.usedBytes, rootfs.usedBytes);
      addTo(eph.inodesUsed, rootfs.inodesUsed);
      p.containers.push_back(std::move(cs));
    }
    std::sort(p.containers.begin(), p.containers.end(),
              [](const ContainerStats& a, const ContainerStats& b) { return a.name < b.name; });

    // Pod cpu/memory: the sum of its containers (the kubelet's CRI provider without
    // pod-level runtime stats).
    if (!p.containers.empty()) {
      CpuStats cpu;
      MemoryStats mem;
      for (const ContainerStats& cs : p.containers) {
        cpu.time = std::max(cpu.time, cs.cpu->time);
        addTo(cpu.usageCoreNanoSeconds, cs.cpu->usageCoreNanoSeconds);
        addTo(cpu.usageNanoCores, cs.cpu->usageNanoCores);
        mem.time = std::max(mem.time, cs.memory->time);
        addTo(mem.workingSetBytes, cs.memory->workingSetBytes);
        addTo(mem.usageBytes, cs.memory->usageBytes);
        addTo(mem.rssBytes, cs.memory->rssBytes);
        addTo(mem.pageFaults, cs.memory->pageFaults);
        addTo(mem.majorPageFaults, cs.memory->majorPageFaults);
      }
      p.cpu = cpu;
      p.memory = mem;
    }

    // The pod's log directory: every container's logs plus the pod's own files.
    if (auto u = usageOrZero(podLogDir)) {
      addTo(eph.usedBytes, u->bytes);
      addTo(eph.inodesUsed, u->inodes);
    }

    std::string emptyDirs =
        absl::StrCat(options_.rootDir, "/pods/", id.uid, "/volumes/kubernetes.io~empty-dir");
    for (const std::string& name : listDir(emptyDirs)) {
      absl::StatusOr<core::VolumeUsage> u = core::volumeUsage(emptyDirs + "/" + name);
      if (!u.ok()) {
        if (!absl::IsNotFound(u.status())) LOG_WARNING << "stats: " << u.status().message();
        continue;
      }
      VolumeStats v;
      v.name = name;
      v.fs = onFilesystem(now, u->mounted ? std::optional<core::FsStats>(u->fs) : nodeFs);
      v.fs.usedBytes = u->usage.bytes;
      v.fs.inodesUsed = u->usage.inodes;
      if (!u->mounted) {  // memory-backed emptyDirs are not local ephemeral storage
        addTo(eph.usedBytes, v.fs.usedBytes);
        addTo(eph.inodesUsed, v.fs.inodesUsed);
      }
      p.volume.push_back(std::move(v));
    }
    p.ephemeralStorage = eph;
    s.pods.push_back(std::move(p));
  }
  containerCpu_ = std::move(seenCpu);  // forget containers that are gone
  std::erase_if(cgroups_, [&](const auto& e) {
    return std::none_of(containers.begin(), containers.end(),
                        [&](const v1::Container& c) { return c.id() == e.first; });
  });
  return s;
}

}  // namespace agent::stats

// The stats provider against the fake CRI server (real gRPC): pods grouped from the
// sandboxes' labels, container figures from ContainerStats, pod sums, emptyDir
// volumes (a disk one walked, a tmpfs one by statvfs), logs and ephemeral storage,
// and the node from the real /proc and statvfs; cpu and memory the runtime leaves out
// read from the container's cgroup in a fake v1 or v2 tree.
#include "agent/stats/stats_provider.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <string>
#include <thread>

#include "agent/runtime/labels.h"
#include "agent/stats/container_cgroup.h"
#include "agent/stats/summary_json.h"
#include "core/atomic_file.h"
#include "core/fs_usage.h"
#include "tests/support/fake_cri_env.h"

namespace cubelet::testing {
namespace {

namespace v1 = ::runtime::v1;
using agent::stats::ContainerStats;
using agent::stats::PodStats;
using agent::stats::Summary;

class ManualClock : public core::Clock {
 public:
  core::MonoTime monotonicNow() const override { return mono; }
  core::WallTime wallNow() const override { return wall; }
  core::MonoTime mono = core::MonoTime(std::chrono::hours(1));
  core::WallTime wall = core::WallTime(std::chrono::seconds(1767225600));  // 2026-01-01
};

class StatsProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = startFakeCri("stats-provider");
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    env_.server->addImage("busybox:1.36", 5 << 20);
    env_.server->addImage("nginx:1.25", 7 << 20);
    env_.server->setImageFsMountpoint(env_.dir);
    opts_.nodeName = "node-1";
    opts_.rootDir = env_.dir + "/root";
    opts_.podLogsDir = env_.dir + "/logs";
    ASSERT_TRUE(core::mkdirAll(opts_.rootDir).ok());
  }
  void TearDown() override {
    for (const std::string& m : mounts_) ::umount2(m.c_str(), MNT_DETACH);
    env_.client.reset();
    env_.server.reset();
    ASSERT_TRUE(core::removeAll(env_.dir).ok());
  }

  std::string runPod(const std::string& name, const std::string& uid,
                     const std::string& cgroupParent = "") {
    v1::PodSandboxConfig cfg;
    if (!cgroupParent.empty()) cfg.mutable_linux()->set_cgroup_parent(cgroupParent);
    cfg.mutable_metadata()->set_name(name);
    cfg.mutable_metadata()->set_namespace_("default");
    cfg.mutable_metadata()->set_uid(uid);
    for (const auto& [k, v] : agent::runtime::sandboxLabels({name, "default", uid}, {})) {
      (*cfg.mutable_labels())[k] = v;
    }
    auto id = env_.client->runPodSandbox(cfg, "");
    EXPECT_TRUE(id.ok()) << id.status();
    sandboxConfigs_[*id] = cfg;
    return *id;
  }
  std::string runContainer(const std::string& sandboxId, const std::string& name,
                           const std::string& image, bool start = true) {
    const v1::PodSandboxConfig& sb = sandboxConfigs_[sandboxId];
    v1::ContainerConfig cfg;
    cfg.mutable_metadata()->set_name(name);
    cfg.mutable_image()->set_image(image);
    agent::runtime::PodIdentity pod{sb.metadata().name(), sb.metadata().namespace_(),
                                    sb.metadata().uid()};
    for (const auto& [k, v] : agent::runtime::containerLabels(pod, name)) {
      (*cfg.mutable_labels())[k] = v;
    }
    auto id = env_.client->createContainer(sandboxId, cfg, sb);
    EXPECT_TRUE(id.ok()) << id.status();
    if (start) {
      EXPECT_TRUE(env_.client->startContainer(*id).ok());
    }
    return *id;
  }
  void writeFile(const std::string& path, size_t bytes) {
    size_t slash = path.rfind('/');
    ASSERT_TRUE(core::mkdirAll(path.substr(0, slash)).ok());
    ASSERT_TRUE(core::writeFileAtomic(path, std::string(bytes, 'z')).ok());
  }
  static uint64_t du(const std::string& path) {
    auto u = core::directoryUsage(path);
    EXPECT_TRUE(u.ok()) << u.status();
    return u.ok() ? u->bytes : 0;
  }
  static const PodStats* findPod(const Summary& s, const std::string& uid) {
    for (const PodStats& p : s.pods) {
      if (p.podRef.uid == uid) return &p;
    }
    return nullptr;
  }
  static const ContainerStats* findContainer(const PodStats& p, const std::string& name) {
    for (const ContainerStats& c : p.containers) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }

  FakeCriEnv env_;
  agent::stats::StatsProviderOptions opts_;
  ManualClock clock_;
  std::map<std::string, v1::PodSandboxConfig> sandboxConfigs_;
  std::vector<std::string> mounts_;
};

TEST_F(StatsProviderTest, GroupsContainersIntoPodsAndSumsThem) {
  std::string web = runPod("web", "uid-web");
  std::string job = runPod("job", "uid-job");
  std::string c1 = runContainer(web, "app", "nginx:1.25");
  std::string c2 = runContainer(web, "sidecar", "busybox:1.36");
  std::string c3 = runContainer(job, "work", "busybox:1.36");
  runContainer(job, "never-started", "busybox:1.36", /*start=*/false);
  env_.server->setContainerStats(c1, {5000000000, 10 << 20, 12 << 20, 3000, 3});
  env_.server->setContainerStats(c2, {2000000000, 20 << 20, 0, 7000, 7});
  env_.server->setContainerStats(c3, {1000000000, 4 << 20, 0, 0, 0});

  // The web pod: container logs, a pod-level log file, a disk emptyDir and a tmpfs one.
  std::string webLogs = opts_.podLogsDir + "/default_web_uid-web";
  writeFile(webLogs + "/app/0.log", 30000);
  writeFile(webLogs + "/sidecar/0.log", 5000);
  std::string emptyDirs = opts_.rootDir + "/pods/uid-web/volumes/kubernetes.io~empty-dir";
  writeFile(emptyDirs + "/cache/blob", 200000);
  std::string memVol = emptyDirs + "/shm";
  ASSERT_TRUE(core::mkdirAll(memVol).ok());
  ASSERT_EQ(::mount("tmpfs", memVol.c_str(), "tmpfs", 0, "size=4m"), 0) << strerror(errno);
  mounts_.push_back(memVol);
  writeFile(memVol + "/data", 1 << 20);

  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto s = provider.collect();
  ASSERT_TRUE(s.ok()) << s.status();

  ASSERT_EQ(s->pods.size(), 2u);
  const PodStats* wp = findPod(*s, "uid-web");
  const PodStats* jp = findPod(*s, "uid-job");
  ASSERT_NE(wp, nullptr);
  ASSERT_NE(jp, nullptr);
  EXPECT_EQ(wp->podRef.name, "web");
  EXPECT_EQ(wp->podRef.namespace_, "default");
  ASSERT_EQ(wp->containers.size(), 2u);
  ASSERT_EQ(jp->containers.size(), 1u);  // the created-only container is not running
  EXPECT_EQ(jp->containers[0].name, "work");

  const ContainerStats* app = findContainer(*wp, "app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->cpu->usageCoreNanoSeconds, 5000000000u);
  EXPECT_EQ(app->memory->workingSetBytes, 10u << 20);
  EXPECT_EQ(app->memory->usageBytes, 12u << 20);
  EXPECT_EQ(app->rootfs->usedBytes, 3000u);
  EXPECT_EQ(app->rootfs->inodesUsed, 3u);
  auto imageFs = core::filesystemStats(env_.dir);
  ASSERT_TRUE(imageFs.ok());
  EXPECT_EQ(app->rootfs->capacityBytes, imageFs->capacityBytes);
  EXPECT_EQ(app->logs->usedBytes, du(webLogs + "/app"));
  EXPECT_GE(*app->logs->usedBytes, 30000u);

  // Pod cpu/memory: the sums over its containers.
  EXPECT_EQ(wp->cpu->usageCoreNanoSeconds, 7000000000u);
  EXPECT_EQ(wp->memory->workingSetBytes, 30u << 20);
  EXPECT_EQ(jp->cpu->usageCoreNanoSeconds, 1000000000u);
  EXPECT_EQ(jp->memory->workingSetBytes, 4u << 20);

  // Volumes: the disk emptyDir by walking it, the tmpfs one by its statvfs.
  ASSERT_EQ(wp->volume.size(), 2u);
  EXPECT_EQ(wp->volume[0].name, "cache");
  EXPECT_EQ(wp->volume[0].fs.usedBytes, du(emptyDirs + "/cache"));
  EXPECT_EQ(wp->volume[1].name, "shm");
  EXPECT_EQ(wp->volume[1].fs.usedBytes, 1u << 20);
  EXPECT_EQ(wp->volume[1].fs.capacityBytes, 4u << 20);

  // Ephemeral storage: writable layers + the pod's log dir + the disk emptyDir (the
  // memory-backed one is not local ephemeral storage).
  uint64_t want = 3000 + 7000 + du(webLogs) + du(emptyDirs + "/cache");
  EXPECT_EQ(wp->ephemeralStorage->usedBytes, want);
  auto nodeFs = core::filesystemStats(opts_.rootDir);
  ASSERT_TRUE(nodeFs.ok());
  EXPECT_EQ(wp->ephemeralStorage->capacityBytes, nodeFs->capacityBytes);
  EXPECT_EQ(jp->ephemeralStorage->usedBytes, 0u);  // no logs, no volumes, no layer

  // The node: real /proc and statvfs; the image fs from ImageFsInfo + statvfs.
  EXPECT_EQ(s->node.nodeName, "node-1");
  ASSERT_TRUE(s->node.memory.has_value());
  EXPECT_GT(*s->node.memory->availableBytes, 0u);
  ASSERT_TRUE(s->node.cpu.has_value());
  EXPECT_GT(*s->node.cpu->usageCoreNanoSeconds, 0u);
  EXPECT_FALSE(s->node.cpu->usageNanoCores.has_value());  // one sample so far
  ASSERT_TRUE(s->node.fs.has_value());
  EXPECT_EQ(s->node.fs->capacityBytes, nodeFs->capacityBytes);
  ASSERT_TRUE(s->node.runtime && s->node.runtime->imageFs);
  EXPECT_EQ(s->node.runtime->imageFs->usedBytes, 12u << 20);  // the two images
  EXPECT_EQ(s->node.runtime->imageFs->capacityBytes, imageFs->capacityBytes);
  ASSERT_TRUE(s->node.rlimit.has_value());
  EXPECT_GT(*s->node.rlimit->maxPid, 0);
  EXPECT_GT(*s->node.rlimit->numOfRunningProcesses, 0);
  EXPECT_GT(s->node.startTime, core::WallTime{});
}

TEST_F(StatsProviderTest, CpuRatesComeFromTheDeltaBetweenCollections) {
  std::string pod = runPod("web", "uid-web");
  std::string c = runContainer(pod, "app", "busybox:1.36");
  env_.server->setContainerStats(c, {1000000000, 1 << 20, 0, 0, 0});
  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(provider.collect().ok());
  auto t1 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // 50 ms more CPU: the rate is over the span between the two CRI timestamps, which
  // lies between [t1, t2] and [t0, t3].
  env_.server->setContainerStats(c, {1000000000 + 50000000, 1 << 20, 0, 0, 0});
  clock_.mono += std::chrono::seconds(1);
  auto t2 = std::chrono::steady_clock::now();
  auto s = provider.collect();
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->pods.size(), 1u);
  const ContainerStats& cs = s->pods[0].containers[0];
  ASSERT_TRUE(cs.cpu->usageNanoCores.has_value());
  auto ns = [](auto d) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  };
  double rate = static_cast<double>(*cs.cpu->usageNanoCores);
  EXPECT_GE(rate, 50e6 * 1e9 / ns(t3 - t0) * 0.99);
  EXPECT_LE(rate, 50e6 * 1e9 / ns(t2 - t1) * 1.01);
  EXPECT_EQ(s->pods[0].cpu->usageNanoCores, cs.cpu->usageNanoCores);
  // The node's rate is over the simulated monotonic second: usage grew by at most
  // the machine's cores in that real time, so only presence is certain.
  ASSERT_TRUE(s->node.cpu->usageNanoCores.has_value());
  EXPECT_EQ(s->pods[0].cpu->usageNanoCores, cs.cpu->usageNanoCores);
}

TEST_F(StatsProviderTest, ListFailuresFailTheCollection) {
  env_.server->failWith("ListContainerStats", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto s = provider.collect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
}

TEST_F(StatsProviderTest, SummaryJsonUsesTheKubeletFieldNames) {
  std::string pod = runPod("web", "uid-web");
  std::string c = runContainer(pod, "app", "busybox:1.36");
  env_.server->setContainerStats(c, {1000000000, 1 << 20, 0, 4096, 2});
  writeFile(opts_.rootDir + "/pods/uid-web/volumes/kubernetes.io~empty-dir/cache/f", 100);
  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto s = provider.collect();
  ASSERT_TRUE(s.ok()) << s.status();
  auto j = nlohmann::json::parse(agent::stats::summaryJson(*s));

  const auto& node = j.at("node");
  EXPECT_EQ(node.at("nodeName"), "node-1");
  EXPECT_TRUE(node.at("cpu").contains("usageCoreNanoSeconds"));
  EXPECT_EQ(node.at("cpu").at("time"), "2026-01-01T00:00:00Z");
  for (const char* k : {"time", "availableBytes", "usageBytes", "workingSetBytes"}) {
    EXPECT_TRUE(node.at("memory").contains(k)) << k;
  }
  for (const char* k : {"time", "availableBytes", "capacityBytes", "usedBytes", "inodesFree",
                        "inodes", "inodesUsed"}) {
    EXPECT_TRUE(node.at("fs").contains(k)) << k;
  }
  EXPECT_EQ(node.at("runtime").at("imageFs").at("usedBytes"), 12 << 20);  // both images
  EXPECT_TRUE(node.at("rlimit").contains("maxpid"));
  EXPECT_TRUE(node.at("rlimit").contains("curproc"));
  EXPECT_TRUE(node.at("startTime").is_string());

  ASSERT_EQ(j.at("pods").size(), 1u);
  const auto& p = j.at("pods")[0];
  EXPECT_EQ(p.at("podRef"),
            nlohmann::json({{"name", "web"}, {"namespace", "default"}, {"uid", "uid-web"}}));
  EXPECT_TRUE(p.at("startTime").is_string());
  const auto& cj = p.at("containers")[0];
  EXPECT_EQ(cj.at("name"), "app");
  EXPECT_EQ(cj.at("cpu").at("usageCoreNanoSeconds"), 1000000000);
  EXPECT_EQ(cj.at("memory").at("workingSetBytes"), 1 << 20);
  EXPECT_EQ(cj.at("rootfs").at("usedBytes"), 4096);
  EXPECT_EQ(cj.at("rootfs").at("inodesUsed"), 2);
  EXPECT_TRUE(cj.at("logs").contains("usedBytes"));
  EXPECT_EQ(p.at("volume")[0].at("name"), "cache");
  EXPECT_TRUE(p.at("volume")[0].contains("usedBytes"));  // FsStats inlined
  EXPECT_TRUE(p.at("ephemeral-storage").contains("usedBytes"));
  EXPECT_TRUE(p.at("cpu").contains("usageNanoCores"));
}

// A fake cgroup host under the test's dir: `hierarchies` ("cpu,cpuacct", "memory",
// "unified" for a cgroup2) listed in a mount table of its own.
std::string fakeCgroupHost(const std::string& dir, const std::vector<std::string>& hierarchies) {
  std::string table;
  int minor = 60;
  for (const std::string& h : hierarchies) {
    std::string point = dir + "/cg/" + h;
    EXPECT_TRUE(core::mkdirAll(point).ok());
    std::string type = h == "unified" ? "cgroup2" : "cgroup";
    table += std::to_string(minor) + " 1 0:" + std::to_string(minor) + " / " + point + " rw - " +
             type + " " + type + " rw," + h + "\n";
    ++minor;
  }
  std::string path = dir + "/mountinfo";
  EXPECT_TRUE(core::writeFileAtomic(path, table).ok());
  return path;
}

TEST_F(StatsProviderTest, WhatTheRuntimeLeavesOutComesFromTheV1Cgroup) {
  opts_.mountinfoPath = fakeCgroupHost(env_.dir, {"cpu,cpuacct", "memory"});
  std::string pod = runPod("web", "uid-web", "/kubepods/besteffort/poduid-web");
  std::string bare = runContainer(pod, "bare", "busybox:1.36");
  std::string full = runContainer(pod, "full", "busybox:1.36");
  FakeCriServer::StatsValues none;
  none.reportCpu = false;
  none.reportMemory = false;
  env_.server->setContainerStats(bare, none);
  env_.server->setContainerStats(full, {7000, 3 << 20, 0, 0, 0});
  std::string cg = "/kubepods/besteffort/poduid-web/" + bare;
  std::string cpuDir = env_.dir + "/cg/cpu,cpuacct" + cg;
  std::string memDir = env_.dir + "/cg/memory" + cg;
  ASSERT_TRUE(core::mkdirAll(cpuDir).ok());
  ASSERT_TRUE(core::writeFileAtomic(cpuDir + "/cpuacct.usage", "5000000000\n").ok());
  ASSERT_TRUE(core::mkdirAll(memDir).ok());
  ASSERT_TRUE(core::writeFileAtomic(memDir + "/memory.usage_in_bytes", "10485760\n").ok());
  ASSERT_TRUE(core::writeFileAtomic(memDir + "/memory.stat",
                                    "cache 2097152\nrss 4194304\ntotal_cache 2097152\n"
                                    "total_rss 4194304\ntotal_inactive_file 2097152\n"
                                    "total_pgfault 100\ntotal_pgmajfault 3\n")
                  .ok());

  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto s = provider.collect();
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->pods.size(), 1u);
  const ContainerStats* b = findContainer(s->pods[0], "bare");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->cpu->usageCoreNanoSeconds, 5000000000u);
  EXPECT_EQ(b->cpu->time, clock_.wall);
  EXPECT_EQ(b->memory->usageBytes, 10u << 20);
  EXPECT_EQ(b->memory->workingSetBytes, 8u << 20);  // usage - total_inactive_file
  EXPECT_EQ(b->memory->rssBytes, 4u << 20);
  EXPECT_EQ(b->memory->pageFaults, 100u);
  EXPECT_EQ(b->memory->majorPageFaults, 3u);
  // The runtime's figures stand where it gave them.
  const ContainerStats* f = findContainer(s->pods[0], "full");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->cpu->usageCoreNanoSeconds, 7000u);
  EXPECT_EQ(f->memory->workingSetBytes, 3u << 20);
  EXPECT_EQ(s->pods[0].memory->workingSetBytes, (8u << 20) + (3u << 20));

  // The rate over the clock's 10 s; the cgroup is looked up once per container.
  clock_.wall += std::chrono::seconds(10);
  ASSERT_TRUE(core::writeFileAtomic(cpuDir + "/cpuacct.usage", "6000000000\n").ok());
  s = provider.collect();
  ASSERT_TRUE(s.ok()) << s.status();
  b = findContainer(s->pods[0], "bare");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->cpu->usageNanoCores, 100000000u);
  EXPECT_EQ(env_.server->callCount("ContainerStatus"), 1);
}

TEST_F(StatsProviderTest, OnCgroupV2TheFallbackReadsTheUnifiedFiles) {
  opts_.mountinfoPath = fakeCgroupHost(env_.dir, {"unified"});
  std::string pod = runPod("web", "uid-web", "/kubepods/poduid-web");
  std::string c = runContainer(pod, "app", "busybox:1.36");
  FakeCriServer::StatsValues noMemory;
  noMemory.cpuUsageCoreNanoSeconds = 42;
  noMemory.reportMemory = false;
  env_.server->setContainerStats(c, noMemory);
  std::string dir = env_.dir + "/cg/unified/kubepods/poduid-web/" + c;
  ASSERT_TRUE(core::mkdirAll(dir).ok());
  ASSERT_TRUE(core::writeFileAtomic(dir + "/memory.current", "3145728\n").ok());
  ASSERT_TRUE(core::writeFileAtomic(dir + "/memory.stat",
                                    "anon 1048576\nfile 2097152\ninactive_file 1048576\n"
                                    "pgfault 7\npgmajfault 1\n")
                  .ok());
  ASSERT_TRUE(core::writeFileAtomic(dir + "/cpu.stat", "usage_usec 99\n").ok());
  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto s = provider.collect();
  ASSERT_TRUE(s.ok()) << s.status();
  const ContainerStats& cs = s->pods[0].containers[0];
  EXPECT_EQ(cs.cpu->usageCoreNanoSeconds, 42u) << "cpu came from the runtime";
  EXPECT_EQ(cs.memory->usageBytes, 3u << 20);
  EXPECT_EQ(cs.memory->workingSetBytes, 2u << 20);
  EXPECT_EQ(cs.memory->rssBytes, 1u << 20);
}

TEST_F(StatsProviderTest, AnUnknownOrMissingCgroupReadsAsZero) {
  opts_.mountinfoPath = fakeCgroupHost(env_.dir, {"cpu,cpuacct", "memory"});
  std::string pod = runPod("web", "uid-web", "/kubepods/poduid-web");
  std::string c = runContainer(pod, "app", "busybox:1.36");
  FakeCriServer::StatsValues none;
  none.reportCpu = false;
  none.reportMemory = false;
  env_.server->setContainerStats(c, none);
  agent::stats::StatsProvider provider(*env_.client, *env_.client, clock_, opts_);
  auto s = provider.collect();
  ASSERT_TRUE(s.ok()) << s.status();
  const ContainerStats& cs = s->pods[0].containers[0];
  EXPECT_EQ(cs.cpu->usageCoreNanoSeconds, 0u);
  EXPECT_EQ(cs.memory->workingSetBytes, 0u);
  EXPECT_FALSE(cs.memory->usageBytes.has_value());
}

TEST(ContainerCgroupTest, CgroupsPathsAsRuncReadsThem) {
  using agent::stats::cgroupOfCgroupsPath;
  EXPECT_EQ(*cgroupOfCgroupsPath("/kubepods/burstable/pod1/abc"), "/kubepods/burstable/pod1/abc");
  EXPECT_EQ(*cgroupOfCgroupsPath("kubepods-burstable-pod1_2.slice:cri-containerd:abc"),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/"
            "cri-containerd-abc.scope");
  EXPECT_EQ(*cgroupOfCgroupsPath("-.slice:crio:abc"), "/crio-abc.scope");
  EXPECT_EQ(*cgroupOfCgroupsPath("kubepods.slice::x.slice"), "/kubepods.slice/x.slice");
  EXPECT_FALSE(cgroupOfCgroupsPath("").ok());
  auto bad = cgroupOfCgroupsPath("kubepods--a.slice:p:abc");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("kubepods--a.slice"), std::string::npos);

  using agent::stats::cgroupsPathOfVerboseInfo;
  EXPECT_EQ(
      *cgroupsPathOfVerboseInfo(R"({"pid":1,"runtimeSpec":{"linux":{"cgroupsPath":"/a/b"}}})"),
      "/a/b");
  EXPECT_EQ(cgroupsPathOfVerboseInfo(R"({"pid":1})").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cgroupsPathOfVerboseInfo("not json").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cubelet::testing

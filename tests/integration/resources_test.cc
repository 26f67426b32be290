// Resource management on real containerd and runc: the QoS parents each pod's sandbox
// is handed (under a --cgroup-root of the test's own), container limits reaching the
// kernel's cgroup files, OOM score adjust per QoS class, the log naming the host's
// cgroup mode, /stats/summary from the read-only port, admission under a memory
// threshold the node can never meet, and a real disk-pressure eviction on a small
// tmpfs node filesystem (cluster mode: static pods are critical, never evicted), a
// deleted pod's cgroup directories gone from every v1 hierarchy, and graceful node
// shutdown driven by a fake logind on a private D-Bus.
//
// These machines mount the cgroup v1 controllers (with a controller-less cgroup2 at
// /sys/fs/cgroup/unified), so the containers' limits are read from the v1 files
// runc wrote; the v2 writer is tested against a fake tree and the real cgroup2 mount
// in tests/unit/cgroups/.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/atomic_file.h"
#include "core/sd_event_loop.h"
#include "tests/fakes/fake_logind.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/private_dbus.h"
#include "tests/support/run_command.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

std::string readFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(ss.str()));
}

int64_t readNumber(const std::string& path) {
  int64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(readFileText(path), &v)) << path << ": " << readFileText(path);
  return v;
}

// controller -> the process's cgroup path in that v1 hierarchy.
std::map<std::string, std::string> v1Cgroups(int pid) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() == 3 && !f[1].empty()) out[f[1]] = f[2];
  }
  return out;
}

int64_t memTotalBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb * 1024;
  }
  return 0;
}

// Removes a test cgroup root from every v1 hierarchy and the cgroup2 mount, deepest
// first (runc leaves the parents it created).
void removeCgroupTree(const std::string& root) {
  for (const auto& mount : fs::directory_iterator("/sys/fs/cgroup")) {
    fs::path top = mount.path() / root.substr(1);
    std::error_code ec;
    if (!fs::is_directory(top, ec)) continue;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(top, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(top.c_str());
  }
}

class ResourcesTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    cgroupRoot_ = "/cubelet-it-" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (!tmpfsRoot_.empty()) {
      // Pods' volumes live on the tmpfs: stop everything before it goes.
      if (cubelet_ && cubelet_->running()) {
        auto rc = cubelet_->stop();
        EXPECT_TRUE(rc.ok()) << rc.status();
      }
      cleanRuntime();
      ::umount2(tmpfsRoot_.c_str(), MNT_DETACH);
    }
    ClusterTest::TearDown();
    removeCgroupTree(cgroupRoot_);
  }

  // The pid of the running container `container` of the static pod `podName`.
  int containerPid(const std::string& podName, const std::string& container = "main") {
    std::string id = runningContainer(podName, container);
    if (id.empty()) return -1;
    auto st = cri_->containerStatus(id, true);
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok()) return -1;
    auto info = json::parse(st->info().at("info"), nullptr, false);
    return info.is_object() ? info.value("pid", -1) : -1;
  }

  std::string cgroupRoot_;
  std::string tmpfsRoot_;  // a tmpfs mounted as the root dir, if any
};

std::string resourcePod(const std::string& name, const std::string& resources) {
  return podManifest(name, "sleep 3600", "Always") + resources;
}

TEST_F(ResourcesTest, QosParentsLimitsAndOomScoresReachTheKernel) {
  startCubelet({"--cgroup-root=" + cgroupRoot_});
  // Burstable: requests below limits. Guaranteed: requests = limits. BestEffort: none.
  cubelet_->writeManifest("burst.yaml", resourcePod("burst",
                                                    "    resources:\n"
                                                    "      requests: {cpu: 100m, memory: 32Mi}\n"
                                                    "      limits: {cpu: 500m, memory: 64Mi}\n"));
  cubelet_->writeManifest("guar.yaml", resourcePod("guar",
                                                   "    resources:\n"
                                                   "      limits: {cpu: 250m, memory: 48Mi}\n"));
  cubelet_->writeManifest("best.yaml", resourcePod("best", ""));
  const std::string node = cubelet_->nodeName();

  struct Want {
    std::string pod;
    std::string qosDir;  // "" for Guaranteed
    int64_t shares;
    int64_t quota;  // -1: none
    int64_t memLimit;
  };
  const Want wants[] = {
      {"burst", "burstable/", 102, 50000, 64 << 20},
      {"guar", "", 256, 25000, 48 << 20},
      {"best", "besteffort/", 2, -1, -1},
  };
  for (const Want& w : wants) {
    SCOPED_TRACE(w.pod);
    int pid = containerPid(w.pod + "-" + node);
    ASSERT_GT(pid, 0);
    auto cg = v1Cgroups(pid);
    ASSERT_TRUE(cg.count("memory") && cg.count("cpu,cpuacct") + cg.count("cpu"));
    auto pod = cubelet_->pod(w.pod);
    ASSERT_TRUE(pod.has_value());
    std::string uid = (*pod)["metadata"]["uid"];
    std::string parent = cgroupRoot_ + "/kubepods/" + w.qosDir + "pod" + uid + "/";
    EXPECT_TRUE(absl::StartsWith(cg["memory"], parent)) << cg["memory"] << " vs " << parent;
    std::string cpuPath = cg.count("cpu") ? cg["cpu"] : cg["cpu,cpuacct"];
    std::string cpuMount =
        fs::exists("/sys/fs/cgroup/cpu") ? "/sys/fs/cgroup/cpu" : "/sys/fs/cgroup/cpu,cpuacct";
    EXPECT_EQ(readNumber(cpuMount + cpuPath + "/cpu.shares"), w.shares);
    EXPECT_EQ(readNumber(cpuMount + cpuPath + "/cpu.cfs_quota_us"), w.quota);
    if (w.quota > 0) {
      EXPECT_EQ(readNumber(cpuMount + cpuPath + "/cpu.cfs_period_us"), 100000);
    }
    int64_t mem = readNumber("/sys/fs/cgroup/memory" + cg["memory"] + "/memory.limit_in_bytes");
    if (w.memLimit > 0) {
      EXPECT_EQ(mem, w.memLimit);
    } else {
      EXPECT_GT(mem, int64_t{1} << 50);  // unlimited
    }
  }

  // OOM score adjust: BestEffort 1000; Burstable 1000 - 1000 * request / capacity.
  // (Guaranteed asks for -997, which the test containerd's restrict_oom_score_adj
  // clamps to its own score.)
  EXPECT_EQ(readNumber("/proc/" + std::to_string(containerPid("best-" + node)) + "/oom_score_adj"),
            1000);
  int64_t want = 1000 - (1000 * (int64_t{32} << 20)) / memTotalBytes();
  want = std::clamp<int64_t>(want, 2, 999);
  EXPECT_EQ(readNumber("/proc/" + std::to_string(containerPid("burst-" + node)) + "/oom_score_adj"),
            want);

  // The log says which cgroup mode the host has and what is left to the runtime.
  EXPECT_TRUE(absl::StrContains(cubelet_->log(), "cgroup")) << cubelet_->log();
}

// The mount points of the cgroup v1 hierarchies (fstype "cgroup") of this process.
std::vector<std::string> v1Hierarchies() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto dash = std::find(f.begin(), f.end(), "-");
    if (dash == f.end() || dash + 1 == f.end() || f.size() < 5 || *(dash + 1) != "cgroup") continue;
    out.push_back(f[4]);
  }
  return out;
}

TEST_F(ResourcesTest, ADeletedPodsCgroupIsRemovedFromEveryV1Hierarchy) {
  startCubelet({"--cgroup-root=" + cgroupRoot_});
  cubelet_->writeManifest("gone.yaml", resourcePod("gone", ""));
  ASSERT_TRUE(cubelet_->waitForPhase("gone", "Running", 60s));
  ASSERT_FALSE(runningContainer("gone-" + cubelet_->nodeName()).empty());
  auto pod = cubelet_->pod("gone");
  ASSERT_TRUE(pod.has_value());
  std::string rel =
      cgroupRoot_ + "/kubepods/besteffort/pod" + (*pod)["metadata"]["uid"].get<std::string>();

  // The hierarchies where runc made the pod's cgroup (with the container's below it).
  std::vector<std::string> checked;
  for (const std::string& h : v1Hierarchies()) {
    if (fs::is_directory(h + rel)) checked.push_back(h + rel);
  }
  ASSERT_FALSE(checked.empty()) << "no cgroup v1 hierarchy of this host has " << rel;
  std::cout << "checking " << rel << " in " << checked.size()
            << " v1 hierarchies:" << ::testing::PrintToString(checked) << "\n";

  cubelet_->removeManifest("gone.yaml");
  ASSERT_TRUE(cubelet_->waitForPod(
      "gone", [](const std::optional<json>& p) { return !p.has_value(); }, 60s));
  std::vector<std::string> left = checked;
  for (int i = 0; i < 150 && !left.empty(); ++i) {
    std::this_thread::sleep_for(200ms);
    std::erase_if(left, [](const std::string& d) { return !fs::exists(d); });
  }
  EXPECT_TRUE(left.empty()) << "still there: " << ::testing::PrintToString(left) << "\n"
                            << cubelet_->log();
  EXPECT_TRUE(sandboxesOf("gone-" + cubelet_->nodeName()).empty());
  // The QoS parents stay, as the kubelet keeps them.
  EXPECT_TRUE(fs::is_directory(fs::path(checked[0]).parent_path()));
}

TEST_F(ResourcesTest, StatsSummaryDescribesNodeAndPods) {
  startCubelet({"--cgroup-root=" + cgroupRoot_});
  cubelet_->writeManifest("stats.yaml", resourcePod("stats", ""));
  ASSERT_TRUE(cubelet_->waitForPhase("stats", "Running", 60s));
  ASSERT_FALSE(runningContainer("stats-" + cubelet_->nodeName()).empty());

  json summary;
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    auto body = cubelet_->get("/stats/summary");
    if (body.ok()) {
      summary = json::parse(*body, nullptr, false);
      if (summary.is_object()) {
        for (const auto& p : summary.value("pods", json::array())) {
          if (p["podRef"].value("name", "") == "stats-" + cubelet_->nodeName() &&
              !p.value("containers", json::array()).empty()) {
            found = true;
          }
        }
      }
    }
    if (!found) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(found) << summary.dump(2);
  const json& n = summary["node"];
  EXPECT_EQ(n["nodeName"], cubelet_->nodeName());
  EXPECT_GT(n["memory"].value("workingSetBytes", int64_t{0}), 0);
  EXPECT_GT(n["memory"].value("availableBytes", int64_t{0}), 0);
  EXPECT_GT(n["cpu"].value("usageCoreNanoSeconds", int64_t{0}), 0);
  EXPECT_GT(n["fs"].value("capacityBytes", int64_t{0}), 0);
  EXPECT_GT(n["runtime"]["imageFs"].value("usedBytes", int64_t{0}), 0);
  for (const auto& p : summary["pods"]) {
    if (p["podRef"]["name"] != "stats-" + cubelet_->nodeName()) continue;
    EXPECT_EQ(p["podRef"]["namespace"], "default");
    const json& c = p["containers"][0];
    EXPECT_EQ(c["name"], "main");
    EXPECT_GT(c["memory"].value("workingSetBytes", int64_t{0}), 0) << c.dump();
  }
}

bool hasCondition(const json& node, const std::string& type, const std::string& status) {
  for (const auto& c : node["status"].value("conditions", json::array())) {
    if (c["type"] == type && c["status"] == status) return true;
  }
  return false;
}

TEST_F(ResourcesTest, MemoryPressureRejectsBestEffortPods) {
  // A threshold no node meets: memory.available is always below it.
  startJoined({"--cgroup-root=" + cgroupRoot_, "--eviction-hard=memory.available<100Ti"});
  json node = waitForObject("/api/v1/nodes/it-node", [](const json& n) {
    return hasCondition(n, "MemoryPressure", "True");
  });
  ASSERT_TRUE(hasCondition(node, "MemoryPressure", "True")) << node.dump();

  // BestEffort pods are refused; others still run (memory pressure alone).
  createPod(podObject("late", "sleep 3600"));
  // (A memory request would not fit: the threshold leaves no allocatable memory.)
  json burstable = podObject("burstable", "sleep 3600");
  burstable["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "10m"}}}};
  createPod(burstable);
  json late = waitForPodPhase("late", "Failed");
  EXPECT_EQ(late["status"]["reason"], "Evicted") << late.dump();
  EXPECT_EQ(late["status"]["message"],
            "Pod was rejected: The node had condition: [MemoryPressure]. ")
      << late.dump();
  waitForPodPhase("burstable", "Running");
}

TEST_F(ResourcesTest, DiskPressureEvictsTheFillingPodAndClears) {
  // The node filesystem is a 64 MiB tmpfs at the root dir: a pod that writes 40 MiB
  // into an emptyDir takes nodefs.available below half, as measured by statvfs.
  std::string root = dir_ + "/root";
  fs::create_directories(root);
  ASSERT_EQ(::mount("tmpfs", root.c_str(), "tmpfs", 0, "size=64m"), 0) << std::strerror(errno);
  tmpfsRoot_ = root;
  startJoined({"--cgroup-root=" + cgroupRoot_, "--eviction-hard=nodefs.available<50%",
               "--eviction-pressure-transition-period=5s"});
  json bystander = podObject("bystander", "sleep 3600");
  bystander["spec"]["containers"][0]["resources"] = {{"requests", {{"memory", "16Mi"}}}};
  createPod(bystander);
  json filler = podObject("filler", "dd if=/dev/zero of=/data/fill bs=1M count=40; sleep 3600");
  filler["spec"]["volumes"] = {{{"name", "data"}, {"emptyDir", json::object()}}};
  filler["spec"]["containers"][0]["volumeMounts"] = {{{"name", "data"}, {"mountPath", "/data"}}};
  createPod(filler);

  json node = waitForObject(
      "/api/v1/nodes/it-node",
      [](const json& n) { return hasCondition(n, "DiskPressure", "True"); }, 90s);
  ASSERT_TRUE(hasCondition(node, "DiskPressure", "True")) << node.dump();
  json evicted = waitForPodPhase("filler", "Failed", 90s);
  EXPECT_EQ(evicted["status"]["reason"], "Evicted") << evicted.dump();
  EXPECT_TRUE(absl::StartsWith(evicted["status"].value("message", ""),
                               "The node was low on resource: ephemeral-storage. "
                               "Threshold quantity: 32Mi, available: "))
      << evicted.dump();
  bool disruption = false;
  for (const auto& c : evicted["status"].value("conditions", json::array())) {
    if (c["type"] == "DisruptionTarget" && c["reason"] == "TerminationByKubelet") disruption = true;
  }
  EXPECT_TRUE(disruption) << evicted.dump();
  // The pod that did not fill the disk runs on.
  json by = waitForPodPhase("bystander", "Running");
  EXPECT_EQ(by["status"]["phase"], "Running");

  // The evicted pod's emptyDir is removed with it; the condition clears after the
  // transition period and pods are admitted again.
  node = waitForObject(
      "/api/v1/nodes/it-node",
      [](const json& n) { return hasCondition(n, "DiskPressure", "False"); }, 90s);
  ASSERT_TRUE(hasCondition(node, "DiskPressure", "False")) << node.dump();
  createPod(podObject("after", "sleep 3600"));
  waitForPodPhase("after", "Running");
}

// In-place resize through the pods/resize subresource: a new CPU limit reaches the
// running container's cgroup (cpu.cfs_quota_us, written by runc through containerd's
// UpdateContainerResources) and the container is not restarted.
TEST_F(ResourcesTest, ResizeChangesTheRunningContainersCpuQuota) {
  startJoined({"--cgroup-root=" + cgroupRoot_});
  json pod = podObject("resize", "sleep 3600");
  pod["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "100m"}, {"memory", "32Mi"}}},
                                               {"limits", {{"cpu", "200m"}, {"memory", "64Mi"}}}};
  createPod(pod);
  waitForPodPhase("resize", "Running");
  const std::string id = runningContainer("resize");
  ASSERT_FALSE(id.empty());
  auto cpuFile = [&](const std::string& file) -> std::string {
    int pid = containerPid("resize");
    if (pid <= 0) return "";
    auto cg = v1Cgroups(pid);
    std::string cpuPath = cg.count("cpu") ? cg["cpu"] : cg["cpu,cpuacct"];
    std::string cpuMount =
        fs::exists("/sys/fs/cgroup/cpu") ? "/sys/fs/cgroup/cpu" : "/sys/fs/cgroup/cpu,cpuacct";
    return readFileText(cpuMount + cpuPath + "/" + file);
  };
  EXPECT_EQ(cpuFile("cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(cpuFile("cpu.shares"), "102");
  // What this containerd reports back (ContainerStatus.resources), for the record.
  if (auto st = cri_->containerStatus(id, false); st.ok()) {
    std::cout << "ContainerStatus.resources reported: "
              << (st->status().has_resources() ? st->status().resources().DebugString() : "none")
              << std::endl;
  }

  auto patched = api_->patch(
      podPath("resize") + "/resize", "application/strategic-merge-patch+json",
      {{"spec",
        {{"containers",
          {{{"name", "main"},
            {"resources", {{"limits", {{"cpu", "500m"}}}, {"requests", {{"cpu", "300m"}}}}}}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["spec"]["containers"][0]["resources"]["limits"]["cpu"], "500m");
  bool applied = false;
  for (auto until = std::chrono::steady_clock::now() + 60s;
       !applied && std::chrono::steady_clock::now() < until;) {
    applied = cpuFile("cpu.cfs_quota_us") == "50000";
    if (!applied) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(applied) << "cpu.cfs_quota_us is " << cpuFile("cpu.cfs_quota_us") << "\n"
                       << cubelet_->log();
  EXPECT_EQ(cpuFile("cpu.shares"), "307");

  // The same container, never restarted.
  EXPECT_EQ(runningContainer("resize"), id);
  // The status shows the new values as what the container runs with, and no resize
  // in progress (the kubelet 1.33+ conditions).
  auto inProgress = [](const json& p) {
    for (const auto& c : p["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "PodResizeInProgress") return true;
    }
    return false;
  };
  json got = waitForObject(podPath("resize"), [&](const json& p) {
    auto cs = p["status"].value("containerStatuses", json::array());
    return !cs.empty() && cs[0].value("ready", false) &&
           cs[0].value("resources", json::object())
                   .value("limits", json::object())
                   .value("cpu", "") == "500m" &&
           !inProgress(p);
  });
  ASSERT_FALSE(got["status"].value("containerStatuses", json::array()).empty()) << got.dump();
  const json& cs = got["status"]["containerStatuses"][0];
  EXPECT_EQ(cs["restartCount"], 0) << got.dump();
  EXPECT_EQ(cs["resources"]["limits"]["cpu"], "500m") << got.dump();
  EXPECT_EQ(cs["resources"]["requests"]["cpu"], "300m") << got.dump();
  EXPECT_EQ(cs["resources"]["limits"]["memory"], "64Mi") << got.dump();
  EXPECT_FALSE(inProgress(got)) << got.dump();

  // More CPU than the node has: not allocated, PodResizePending Infeasible with the
  // kubelet's message, and the container keeps what it runs with.
  auto resizeCpu = [&](const std::string& cpu) {
    auto r = api_->patch(
        podPath("resize") + "/resize", "application/strategic-merge-patch+json",
        {{"spec",
          {{"containers",
            {{{"name", "main"},
              {"resources", {{"limits", {{"cpu", cpu}}}, {"requests", {{"cpu", cpu}}}}}}}}}}});
    ASSERT_TRUE(r.ok()) << r.status();
  };
  auto pending = [](const json& p) {
    for (const auto& c : p["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "PodResizePending") return c;
    }
    return json();
  };
  resizeCpu("1000");
  got = waitForObject(podPath("resize"), [&](const json& p) { return !pending(p).is_null(); });
  json cond = pending(got);
  ASSERT_FALSE(cond.is_null()) << got.dump();
  EXPECT_EQ(cond["reason"], "Infeasible") << cond.dump();
  EXPECT_TRUE(absl::StartsWith(cond.value("message", ""),
                               "Node didn't have enough capacity: cpu, requested: 1000000, "
                               "capacity: "))
      << cond.dump();
  EXPECT_FALSE(inProgress(got)) << got.dump();
  EXPECT_EQ(got["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"], "500m")
      << got.dump();
  EXPECT_EQ(cpuFile("cpu.cfs_quota_us"), "50000");

  // A size that fits: allocated and applied, the condition gone.
  resizeCpu("400m");
  got = waitForObject(podPath("resize"), [&](const json& p) {
    auto cs = p["status"].value("containerStatuses", json::array());
    return pending(p).is_null() && !inProgress(p) && !cs.empty() &&
           cs[0]["resources"]["limits"].value("cpu", "") == "400m";
  });
  EXPECT_TRUE(pending(got).is_null()) << got.dump();
  EXPECT_EQ(cpuFile("cpu.cfs_quota_us"), "40000");
  EXPECT_EQ(runningContainer("resize"), id);
}

// Graceful node shutdown through the real binary: cubelet joined to the fake API
// server, real containerd, and its "system bus" (DBUS_SYSTEM_BUS_ADDRESS) a private
// dbus-daemon where the fake logind runs on a loop thread of the test. With
// shutdownGracePeriod 20s / shutdownGracePeriodCriticalPods 8s cubelet holds a
// delay inhibitor lock; on PrepareForShutdown(true) it stops the regular pod, then
// the critical one (priority 2000000000), reports both Failed/Terminated, turns the
// node NotReady and closes the lock's fd.
class ShutdownTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    auto bus = PrivateDbus::start();
    ASSERT_TRUE(bus.ok()) << bus.status();
    dbus_ = std::move(*bus);
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    FakeLogind::Options opts;
    // Above the 20 s requested: cubelet must not write a logind drop-in on this host.
    opts.inhibitDelayMaxUSec = 60'000'000;
    auto logind = FakeLogind::create(*loop_, dbus_->address(), opts);
    ASSERT_TRUE(logind.ok()) << logind.status();
    logind_ = std::move(*logind);
    thread_ = std::thread([this] { (void)loop_->run(); });
    ASSERT_TRUE(waitOnLoop([this] { return logind_->ready() || !logind_->error().empty(); }, 10s));
    ASSERT_TRUE(onLoop<bool>([this] { return logind_->ready(); })) << logind_->error();
  }
  void TearDown() override {
    ClusterTest::TearDown();  // stops cubelet first: it is a client of the bus
    if (loop_) {
      if (thread_.joinable()) {
        loop_->post([this] {
          logind_.reset();
          loop_->exit();
        });
        thread_.join();
      }
      logind_.reset();
      loop_.reset();
    }
    dbus_.reset();
  }

  // Runs `f` on the logind loop's thread (the fake is not thread-safe) and returns
  // its result.
  template <typename T>
  T onLoop(std::function<T()> f) {
    auto p = std::make_shared<std::promise<T>>();
    auto fut = p->get_future();
    loop_->post([p, f] { p->set_value(f()); });
    return fut.get();
  }
  bool waitOnLoop(std::function<bool()> pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (onLoop<bool>(pred)) return true;
      std::this_thread::sleep_for(100ms);
    }
    return onLoop<bool>(pred);
  }

  void startWithShutdownConfig() {
    std::string config = dir_ + "/config.yaml";
    ASSERT_TRUE(core::writeFileAtomic(config,
                                      "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                                      "kind: KubeletConfiguration\n"
                                      "shutdownGracePeriod: 20s\n"
                                      "shutdownGracePeriodCriticalPods: 8s\n")
                    .ok());
    cubelet_ = std::make_unique<CubeletProcess>(dir_, std::vector<std::string>{
                                                          "--kubeconfig=" + kubeconfig_,
                                                          "--config=" + config,
                                                      });
    cubelet_->setEnv("DBUS_SYSTEM_BUS_ADDRESS", dbus_->address());
    absl::Status s = cubelet_->start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // The finish time (ns) of the pod's container "main" as the runtime recorded it.
  int64_t finishedAt(const std::string& pod) {
    for (const auto& c : containersOf(pod)) {
      auto st = cri_->containerStatus(c.id(), false);
      EXPECT_TRUE(st.ok()) << st.status();
      if (st.ok() && st->status().metadata().name() == "main") return st->status().finished_at();
    }
    return 0;
  }

  std::unique_ptr<PrivateDbus> dbus_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<FakeLogind> logind_;
  std::thread thread_;
};

bool readyIs(const json& node, const std::string& status) {
  for (const auto& c : node["status"].value("conditions", json::array())) {
    if (c["type"] == "Ready") return c["status"] == status;
  }
  return false;
}

TEST_F(ShutdownTest, RegularPodsStopBeforeCriticalOnesAndTheLockIsReleased) {
  startWithShutdownConfig();

  // The delay lock, taken as the kubelet takes it.
  ASSERT_TRUE(waitOnLoop([this] { return logind_->heldCount() == 1; }, 30s)) << cubelet_->log();
  auto calls =
      onLoop<std::vector<FakeLogind::InhibitCall>>([this] { return logind_->inhibitCalls(); });
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].what, "shutdown");
  EXPECT_EQ(calls[0].who, "kubelet");
  EXPECT_EQ(calls[0].mode, "delay");

  json normal = podObject("normal", "sleep 3600");
  json critical = podObject("critical", "sleep 3600");
  critical["spec"]["priorityClassName"] = "system-node-critical";
  critical["spec"]["priority"] = 2000000000;
  createPod(normal);
  createPod(critical);
  waitForPodPhase("normal", "Running", 90s);
  waitForPodPhase("critical", "Running", 90s);
  ASSERT_TRUE(readyIs(
      waitForObject("/api/v1/nodes/it-node", [](const json& n) { return readyIs(n, "True"); }),
      "True"));

  ASSERT_TRUE(onLoop<bool>([this] { return logind_->emitPrepareForShutdown(true).ok(); }));

  // Both pods end Failed with the kubelet's reason and message.
  for (const char* name : {"normal", "critical"}) {
    SCOPED_TRACE(name);
    json p = waitForPodPhase(name, "Failed", 60s);
    EXPECT_EQ(p["status"]["phase"], "Failed") << p.dump();
    EXPECT_EQ(p["status"]["reason"], "Terminated") << p.dump();
    EXPECT_EQ(p["status"]["message"], "Pod was terminated in response to imminent node shutdown.")
        << p.dump();
  }
  // The node says it is going down.
  json node = waitForObject("/api/v1/nodes/it-node", [](const json& n) {
    for (const auto& c : n["status"].value("conditions", json::array())) {
      if (c["type"] == "Ready" && c["status"] == "False" &&
          absl::StrContains(c.value("message", ""), "node is shutting down")) {
        return true;
      }
    }
    return false;
  });
  EXPECT_TRUE(readyIs(node, "False")) << node["status"].dump();
  // Once every group is done the lock's fd is closed: logind may power off.
  EXPECT_TRUE(waitOnLoop([this] { return logind_->released(0); }, 30s)) << cubelet_->log();
  EXPECT_EQ(onLoop<size_t>([this] { return logind_->heldCount(); }), 0u);

  // The regular pod went first: the critical group only starts once it is done (both
  // ignore SIGTERM as PID 1 shells, so each takes its 2 s grace period).
  int64_t normalEnd = finishedAt("normal");
  int64_t criticalEnd = finishedAt("critical");
  ASSERT_GT(normalEnd, 0);
  ASSERT_GT(criticalEnd, 0);
  EXPECT_GT(criticalEnd - normalEnd, int64_t{1'000'000'000})
      << "normal ended at " << normalEnd << ", critical at " << criticalEnd;
  std::string log = cubelet_->log();
  size_t detected = log.find("Shutdown manager detected new shutdown event");
  size_t normalDone = log.find("Shutdown manager finished killing pod default/normal");
  size_t criticalKill = log.find("Shutdown manager killing pod default/critical");
  ASSERT_NE(detected, std::string::npos) << log;
  ASSERT_NE(normalDone, std::string::npos) << log;
  ASSERT_NE(criticalKill, std::string::npos) << log;
  EXPECT_LT(detected, normalDone);
  EXPECT_LT(normalDone, criticalKill) << log;
}

}  // namespace
}  // namespace cubelet::testing

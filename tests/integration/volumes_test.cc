// Volumes on real containerd with real mounts: emptyDir (shared, tmpfs size and
// mode, fsGroup), hostPath types, subPath and subPathExpr with the symlink escape
// check, teardown and agent restarts (static pods, events from cubelet's -v=3 log);
// and with the fake API server: configMap and secret payloads with modes and live
// updates, missing sources, downwardAPI updates, projected service account tokens
// with refresh, and PersistentVolumeClaims. Containers are looked into with CRI
// ExecSync, the host side through the kubelet's directory layout and mountinfo.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/logged_events.h"
#include "tests/support/volume_checks.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

std::string readHostFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeHostFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
}

// Permission bits (with setgid and sticky) of a host path, not following links.
mode_t hostMode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Stops cubelet and unmounts whatever its volumes left under the test's dir before
// the fixture removes that dir (so the removal never deletes through a mount).
template <typename Base>
class VolumeFixture : public Base {
 protected:
  void TearDown() override {
    if (this->cubelet_ && this->cubelet_->running()) {
      auto rc = this->cubelet_->stop();
      EXPECT_TRUE(rc.ok()) << rc.status();
      if (rc.ok()) {
        EXPECT_EQ(*rc, 0) << "cubelet exit status";
      }
    }
    unmountAllUnder(this->dir_);
    Base::TearDown();
  }

  // Polls `sh -c script` in the container until its trimmed stdout is `want`.
  ExecResult waitForOutput(const std::string& id, const std::string& script,
                           const std::string& want, std::chrono::milliseconds timeout = 10s) {
    ExecResult r;
    pollUntil(
        [&] {
          r = shIn(*this->cri_, id, script);
          return r.ok && r.exitCode == 0 && r.text == want;
        },
        timeout);
    return r;
  }

  std::string volumeDir(const std::string& uid, const std::string& plugin,
                        const std::string& name) {
    return this->cubelet_->rootDir() + "/pods/" + uid + "/volumes/" + plugin + "/" + name;
  }
};

// ---------------------------------------------------------------------------
// Standalone: static pods.

class VolumesStandalone : public VolumeFixture<AgentTest> {
 protected:
  void start() { startCubelet({"--v=3"}); }
  // A manifest with IMAGE and HOST replaced.
  void writePod(const std::string& file, const std::string& yaml) {
    cubelet_->writeManifest(
        file, absl::StrReplaceAll(yaml, {{"IMAGE", kBusyboxImage}, {"HOST", hostDir()}}));
  }
  std::string hostDir() const { return dir_ + "/host"; }
  std::string uidOf(const std::string& pod) {
    auto p = cubelet_->pod(pod);
    return p ? (*p)["metadata"].value("uid", "") : "";
  }
  std::vector<LoggedEvent> events(const std::string& pod, const std::string& reason) {
    return loggedEvents(cubelet_->log(), "default/" + pod + "-it-node", reason);
  }
  // The first event of `pod` with `reason` whose message is `message`.
  bool waitForEvent(const std::string& pod, const std::string& reason, const std::string& message,
                    std::chrono::milliseconds timeout = 20s) {
    return pollUntil(
        [&] {
          for (const auto& e : events(pod, reason))
            if (e.message == message) return true;
          return false;
        },
        timeout);
  }
  void SetUp() override {
    VolumeFixture<AgentTest>::SetUp();
    fs::create_directories(hostDir());
  }
};

TEST_F(VolumesStandalone, EmptyDirSharedAndTmpfs) {
  start();
  writePod("ed.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: ed}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: shared, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  containers:
  - name: writer
    image: IMAGE
    command: ["sh", "-c", "echo from-writer > /shared/f; sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: reader
    image: IMAGE
    command: ["sleep", "3600"]
    volumeMounts: [{name: shared, mountPath: /data}, {name: mem, mountPath: /mem}]
)Y");
  writePod("edfs.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: edfs}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {fsGroup: 2345}
  volumes:
  - {name: grp, emptyDir: {}}
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "touch /grp/made; sleep 3600"]
    volumeMounts: [{name: grp, mountPath: /grp}]
)Y");
  std::string reader = runningContainer("ed-it-node", "reader");
  std::string grp = runningContainer("edfs-it-node", "main");
  ASSERT_FALSE(reader.empty());
  ASSERT_FALSE(grp.empty());

  // The reader sees what the writer wrote, through the shared emptyDir.
  ExecResult shared = waitForOutput(reader, "cat /data/f", "from-writer");
  EXPECT_EQ(shared.text, "from-writer") << shared.describe();
  // medium: Memory with sizeLimit 8Mi: a tmpfs of 8 MiB, world-writable and sticky.
  ExecResult mounts = execIn(*cri_, reader, {"cat", "/proc/mounts"});
  ASSERT_TRUE(mounts.ok) << mounts.describe();
  std::string mem = mountLine(mounts.out, "/mem");
  EXPECT_TRUE(absl::StartsWith(mem, "tmpfs /mem tmpfs ")) << mounts.out;
  EXPECT_TRUE(absl::StrContains(mem, "size=8192k")) << mem;
  EXPECT_EQ(execIn(*cri_, reader, {"stat", "-c", "%a", "/mem"}).text, "1777");
  EXPECT_EQ(execIn(*cri_, reader, {"stat", "-c", "%a", "/data"}).text, "777");
  // Writable: a file of 1 MiB fits, 9 MiB does not.
  EXPECT_EQ(shIn(*cri_, reader, "dd if=/dev/zero of=/mem/a bs=1M count=1 2>/dev/null").exitCode, 0);
  EXPECT_NE(shIn(*cri_, reader, "dd if=/dev/zero of=/mem/b bs=1M count=9 2>/dev/null").exitCode, 0);

  // On the host: the kubelet's layout, the disk emptyDir 0777, the tmpfs mounted there.
  std::string uid = uidOf("ed");
  ASSERT_FALSE(uid.empty());
  std::string sharedDir = volumeDir(uid, "kubernetes.io~empty-dir", "shared");
  EXPECT_EQ(readHostFile(sharedDir + "/f"), "from-writer\n");
  EXPECT_EQ(hostMode(sharedDir), 0777u);
  std::string memDir = volumeDir(uid, "kubernetes.io~empty-dir", "mem");
  EXPECT_EQ(mountsUnder(memDir), std::vector<std::string>{memDir});

  // fsGroup: the volume is group-owned with setgid, so files made in it inherit the
  // group; the container runs with the group as a supplementary group.
  EXPECT_EQ(execIn(*cri_, grp, {"stat", "-c", "%g %a", "/grp"}).text, "2345 2777");
  ExecResult made = waitForOutput(grp, "stat -c %g /grp/made", "2345");
  EXPECT_EQ(made.text, "2345") << made.describe();
  // (The kubelet's determineEffectiveSecurityContext appends fsGroup to the
  // container's supplementalGroups.)
  ExecResult groups = shIn(*cri_, grp, "grep '^Groups:' /proc/1/status");
  EXPECT_TRUE(absl::StrContains(groups.text + " ", " 2345 ")) << groups.describe();
  EXPECT_TRUE(events("ed", "FailedMount").empty()) << describeEvents(events("ed", "FailedMount"));
}

TEST_F(VolumesStandalone, HostPathTypes) {
  start();
  writePod("hp.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: doc, hostPath: {path: HOST/made/dir, type: DirectoryOrCreate}}
  - {name: foc, hostPath: {path: HOST/made-file, type: FileOrCreate}}
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "echo hi > /doc/x; sleep 3600"]
    volumeMounts: [{name: doc, mountPath: /doc}, {name: foc, mountPath: /foc}]
)Y");
  writePod("hpwait.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: hpwait}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: f, hostPath: {path: HOST/later, type: File}}
  containers:
  - name: main
    image: IMAGE
    command: ["sleep", "3600"]
    volumeMounts: [{name: f, mountPath: /f}]
)Y");

  // type File on a missing path: FailedMount, and the container waits.
  std::string later = hostDir() + "/later";
  EXPECT_TRUE(waitForEvent(
      "hpwait", "FailedMount",
      "MountVolume.SetUp failed for volume \"f\" : hostPath type check failed: " + later +
          " is not a file"))
      << describeEvents(loggedEvents(cubelet_->log()));
  std::optional<json> waiting = cubelet_->pod("hpwait");
  ASSERT_TRUE(waiting.has_value());
  EXPECT_EQ(stateSummary(containerStatus(*waiting, "main")), "waiting:ContainerCreating")
      << waiting->dump();
  EXPECT_EQ((*waiting)["status"].value("phase", ""), "Pending");
  EXPECT_TRUE(containersOf("hpwait-it-node").empty());

  // DirectoryOrCreate and FileOrCreate made what was missing.
  std::string hp = runningContainer("hp-it-node", "main");
  ASSERT_FALSE(hp.empty());
  std::string madeDir = hostDir() + "/made/dir";
  EXPECT_TRUE(fs::is_directory(madeDir));
  EXPECT_EQ(hostMode(madeDir), 0755u);
  std::string madeFile = hostDir() + "/made-file";
  EXPECT_TRUE(fs::is_regular_file(madeFile));
  EXPECT_EQ(hostMode(madeFile), 0644u);
  EXPECT_TRUE(pollUntil([&] { return readHostFile(madeDir + "/x") == "hi\n"; }, 10s));
  EXPECT_EQ(execIn(*cri_, hp, {"stat", "-c", "%F", "/foc"}).text, "regular empty file");

  // The file appears: the retry mounts it and the pod starts.
  writeHostFile(later, "now here\n");
  ASSERT_TRUE(cubelet_->waitForPhase("hpwait", "Running", 30s)) << cubelet_->pods()->dump();
  std::string id = runningContainer("hpwait-it-node", "main");
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/f"}).text, "now here");
}

TEST_F(VolumesStandalone, SubPathAndSubPathExpr) {
  fs::create_directories(hostDir() + "/sp/data");
  writeHostFile(hostDir() + "/sp/data/marker", "from-host\n");
  // A volume holding a symlink that leads outside it.
  fs::create_directories(hostDir() + "/bad");
  fs::create_directories(dir_ + "/outside");
  writeHostFile(dir_ + "/outside/secret", "not yours\n");
  fs::create_symlink(dir_ + "/outside", hostDir() + "/bad/escape");
  start();
  writePod("sp.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: sp}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: work, emptyDir: {}}
  - {name: hp, hostPath: {path: HOST/sp, type: Directory}}
  containers:
  - name: main
    image: IMAGE
    command: ["sleep", "3600"]
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    volumeMounts:
    - {name: work, mountPath: /all}
    - {name: work, mountPath: /sub, subPath: a/b}
    - {name: work, mountPath: /byname, subPathExpr: $(POD_NAME)}
    - {name: hp, mountPath: /hpdata, subPath: data}
    - {name: hp, mountPath: /hpfile, subPath: data/marker}
)Y");
  writePod("spbad.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: spbad}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: hp, hostPath: {path: HOST/bad, type: Directory}}
  containers:
  - name: main
    image: IMAGE
    command: ["sleep", "3600"]
    volumeMounts: [{name: hp, mountPath: /x, subPath: escape}]
)Y");

  std::string id = runningContainer("sp-it-node", "main");
  ASSERT_FALSE(id.empty());
  // subPath of an emptyDir: created on demand, the container's writes land there.
  EXPECT_EQ(shIn(*cri_, id, "echo one > /sub/f && cat /all/a/b/f").text, "one");
  // subPathExpr from the downward API env var (a static pod's name has the node's).
  EXPECT_EQ(shIn(*cri_, id, "echo two > /byname/g && cat /all/sp-it-node/g").text, "two");
  // subPath of a hostPath directory, and of a file in it.
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/hpdata/marker"}).text, "from-host");
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/hpfile"}).text, "from-host");
  // The kubelet's bind mounts, one per subPath mount, by volume/container/index.
  std::string uid = uidOf("sp");
  std::string subpaths = cubelet_->rootDir() + "/pods/" + uid + "/volume-subpaths";
  std::vector<std::string> want = {subpaths + "/hp/main/3", subpaths + "/hp/main/4",
                                   subpaths + "/work/main/1", subpaths + "/work/main/2"};
  std::vector<std::string> got = mountsUnder(subpaths);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);

  // The escaping symlink: the container is not created and nothing is mounted.
  ASSERT_TRUE(cubelet_->waitForPod(
      "spbad",
      [](const std::optional<json>& p) {
        return p &&
               stateSummary(containerStatus(*p, "main")) == "waiting:CreateContainerConfigError";
      },
      30s))
      << cubelet_->pods()->dump();
  json cs = containerStatus(*cubelet_->pod("spbad"), "main");
  EXPECT_TRUE(
      absl::StrContains(cs["state"]["waiting"].value("message", ""),
                        "failed to prepare subPath for volumeMount \"hp\" of container \"main\""))
      << cs.dump();
  std::string badUid = uidOf("spbad");
  EXPECT_TRUE(mountsUnder(cubelet_->rootDir() + "/pods/" + badUid).empty());
  EXPECT_TRUE(containersOf("spbad-it-node").empty());
  EXPECT_EQ(readHostFile(dir_ + "/outside/secret"), "not yours\n");
}

TEST_F(VolumesStandalone, TeardownLeavesNothingAndRestartKeepsVolumes) {
  fs::create_directories(hostDir() + "/keep/sub");
  writeHostFile(hostDir() + "/keep/sub/hostfile", "stays\n");
  start();
  writePod("td.yaml", R"Y(apiVersion: v1
kind: Pod
metadata: {name: td}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: mem, emptyDir: {medium: Memory}}
  - {name: disk, emptyDir: {}}
  - {name: hp, hostPath: {path: HOST/keep, type: DirectoryOrCreate}}
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "echo kept > /mem/f; echo kept > /disk/f; sleep 3600"]
    volumeMounts:
    - {name: mem, mountPath: /mem}
    - {name: disk, mountPath: /disk}
    - {name: hp, mountPath: /hp}
    - {name: hp, mountPath: /hpsub, subPath: sub}
)Y");
  std::string id = runningContainer("td-it-node", "main");
  ASSERT_FALSE(id.empty());
  std::string uid = uidOf("td");
  std::string podDir = cubelet_->rootDir() + "/pods/" + uid;
  std::string memDir = volumeDir(uid, "kubernetes.io~empty-dir", "mem");
  ASSERT_TRUE(pollUntil([&] { return readHostFile(memDir + "/f") == "kept\n"; }, 10s));
  std::vector<std::string> before = mountsUnder(cubelet_->rootDir());
  EXPECT_EQ(before.size(), 2u) << "the tmpfs and the subPath bind mount";

  // An agent restart: the set-up is idempotent (nothing mounted twice, the tmpfs
  // keeps its files) and the container keeps running.
  auto rc = cubelet_->stop();
  ASSERT_TRUE(rc.ok()) << rc.status();
  start();
  ASSERT_TRUE(cubelet_->waitForPhase("td", "Running", 30s)) << cubelet_->pods()->dump();
  // Give the restarted agent a few syncs in which it could (wrongly) act.
  std::this_thread::sleep_for(3s);
  json cs = containerStatus(*cubelet_->pod("td"), "main");
  EXPECT_EQ(stateSummary(cs), "running");
  EXPECT_EQ(cs.value("restartCount", -1), 0);
  auto containers = containersOf("td-it-node");
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].id(), id);
  EXPECT_EQ(mountsUnder(cubelet_->rootDir()), before);
  EXPECT_EQ(readHostFile(memDir + "/f"), "kept\n");
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/mem/f", "/hpsub/hostfile"}).text, "kept\nstays");

  // The pod goes: its mounts and its directory go; the hostPath's files stay.
  cubelet_->removeManifest("td.yaml");
  EXPECT_TRUE(cubelet_->waitForPod(
      "td", [](const std::optional<json>& p) { return !p.has_value(); }, 30s));
  EXPECT_TRUE(pollUntil(
      [&] { return mountsUnder(cubelet_->rootDir()).empty() && !fs::exists(podDir); }, 30s))
      << "left behind: mounts " << mountsUnder(cubelet_->rootDir()).size()
      << ", pod dir exists: " << fs::exists(podDir);
  EXPECT_TRUE(containersOf("td-it-node").empty());
  EXPECT_EQ(readHostFile(hostDir() + "/keep/sub/hostfile"), "stays\n");
}

// ---------------------------------------------------------------------------
// With the fake API server.

class VolumesCluster : public VolumeFixture<ClusterTest> {
 protected:
  // The pod's events from the API with `reason`, oldest first.
  std::vector<json> apiEvents(const std::string& pod, const std::string& reason) {
    std::vector<json> out;
    for (const auto& e : api_->list("/api/v1/namespaces/default/events")) {
      if (e["involvedObject"].value("name", "") == pod && e.value("reason", "") == reason)
        out.push_back(e);
    }
    return out;
  }
  bool waitForApiEvent(const std::string& pod, const std::string& reason,
                       const std::function<bool(const std::string&)>& message,
                       std::chrono::milliseconds timeout = 20s) {
    return pollUntil(
        [&] {
          for (const auto& e : apiEvents(pod, reason))
            if (message(e.value("message", ""))) return true;
          return false;
        },
        timeout);
  }
  std::string describeApiEvents(const std::string& pod) {
    std::string out;
    for (const auto& e : api_->list("/api/v1/namespaces/default/events")) {
      if (e["involvedObject"].value("name", "") == pod)
        out += e.value("reason", "") + ": " + e.value("message", "") + "\n";
    }
    return out;
  }
  static bool containerWaiting(const json& p, const std::string& reason) {
    if (!p.contains("status")) return false;
    for (const auto& cs : p["status"].value("containerStatuses", json::array())) {
      if (cs["state"].value("waiting", json::object()).value("reason", "") == reason) return true;
    }
    return false;
  }
  void createObject(const std::string& collection, const json& obj) {
    auto r = api_->create("/api/v1/namespaces/default/" + collection, obj);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  json withVolumes(json pod, json volumes, json mounts) {
    pod["spec"]["volumes"] = std::move(volumes);
    pod["spec"]["containers"][0]["volumeMounts"] = std::move(mounts);
    pod["spec"]["terminationGracePeriodSeconds"] = 1;
    return pod;
  }
};

TEST_F(VolumesCluster, ConfigMapAndSecretVolumes) {
  createObject("configmaps",
               {{"metadata", {{"name", "app-config"}}}, {"data", {{"a", "alpha"}, {"b", "beta"}}}});
  createObject("secrets", {{"metadata", {{"name", "app-secret"}}},
                           {"data", {{"password", "aHVudGVyMg=="}}}});  // hunter2
  startJoined();
  json created = createPod(withVolumes(
      podObject("cmsec", "sleep 3600"),
      {{{"name", "cm-items"},
        {"configMap",
         {{"name", "app-config"},
          {"items", {{{"key", "a"}, {"path", "dir/a.txt"}, {"mode", 0600}}}}}}},
       {{"name", "cm-all"}, {"configMap", {{"name", "app-config"}, {"defaultMode", 0440}}}},
       {{"name", "sec"}, {"secret", {{"secretName", "app-secret"}, {"defaultMode", 0400}}}}},
      {{{"name", "cm-items"}, {"mountPath", "/cfg-items"}},
       {{"name", "cm-all"}, {"mountPath", "/cfg-all"}},
       {{"name", "sec"}, {"mountPath", "/sec"}}}));
  std::string uid = created["metadata"].value("uid", "");
  std::string id = runningContainer("cmsec", "main");
  ASSERT_FALSE(id.empty());

  // items: only the listed key, at its path, with its mode; defaultMode for the rest.
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/cfg-items/dir/a.txt"}).text, "alpha");
  EXPECT_NE(execIn(*cri_, id, {"test", "-e", "/cfg-items/b"}).exitCode, 0);
  EXPECT_EQ(execIn(*cri_, id, {"stat", "-L", "-c", "%a", "/cfg-items/dir/a.txt"}).text, "600");
  EXPECT_EQ(execIn(*cri_, id, {"stat", "-L", "-c", "%a", "/cfg-all/a", "/cfg-all/b"}).text,
            "440\n440");
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/cfg-all/b"}).text, "beta");
  // The secret: decoded, 0400, on a tmpfs; payload volumes are read-only.
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/sec/password"}).text, "hunter2");
  EXPECT_EQ(execIn(*cri_, id, {"stat", "-L", "-c", "%a", "/sec/password"}).text, "400");
  ExecResult mounts = execIn(*cri_, id, {"cat", "/proc/mounts"});
  std::string sec = mountLine(mounts.out, "/sec");
  EXPECT_TRUE(absl::StartsWith(sec, "tmpfs /sec tmpfs ro")) << mounts.describe();
  EXPECT_TRUE(absl::StrContains(mountLine(mounts.out, "/cfg-all"), " ro,")) << mounts.out;
  EXPECT_NE(execIn(*cri_, id, {"touch", "/cfg-all/new"}).exitCode, 0);

  // The atomic writer's layout on the host: ..data -> ..<timestamp>, key -> ..data/key.
  std::string all = volumeDir(uid, "kubernetes.io~configmap", "cm-all");
  ASSERT_TRUE(fs::is_symlink(all + "/..data")) << all;
  std::string target = fs::read_symlink(all + "/..data").string();
  EXPECT_TRUE(absl::StartsWith(target, "..2")) << target;
  EXPECT_TRUE(fs::is_directory(all + "/" + target));
  EXPECT_EQ(fs::read_symlink(all + "/a").string(), "..data/a");
  std::string secDir = volumeDir(uid, "kubernetes.io~secret", "sec");
  EXPECT_EQ(mountsUnder(secDir), std::vector<std::string>{secDir});

  // An edit in the API reaches the files (watch-based, not the periodic sync).
  auto t0 = std::chrono::steady_clock::now();
  auto patched = api_->patch("/api/v1/namespaces/default/configmaps/app-config",
                             "application/merge-patch+json", {{"data", {{"a", "alpha-2"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  ExecResult updated =
      waitForOutput(id, "cat /cfg-all/a; echo; cat /cfg-items/dir/a.txt", "alpha-2\nalpha-2", 10s);
  EXPECT_EQ(updated.text, "alpha-2\nalpha-2") << updated.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_NE(fs::read_symlink(all + "/..data").string(), target);
  EXPECT_EQ(containersOf("cmsec").size(), 1u) << "a payload update restarts nothing";
}

TEST_F(VolumesCluster, MissingConfigMapWaitsThenStarts) {
  startJoined();
  createPod(withVolumes(podObject("cm-missing", "sleep 3600"),
                        {{{"name", "cfg"}, {"configMap", {{"name", "later-cm"}}}}},
                        {{{"name", "cfg"}, {"mountPath", "/cfg"}}}));
  createPod(withVolumes(podObject("cm-optional", "sleep 3600"),
                        {{{"name", "cfg"}, {"configMap", {{"name", "nope"}, {"optional", true}}}}},
                        {{{"name", "cfg"}, {"mountPath", "/cfg"}}}));

  const std::string want =
      "MountVolume.SetUp failed for volume \"cfg\" : configmap \"later-cm\" not found";
  EXPECT_TRUE(waitForApiEvent("cm-missing", "FailedMount", [&](const std::string& m) {
    return m == want;
  })) << describeApiEvents("cm-missing");
  json waiting = waitForObject(podPath("cm-missing"), [](const json& p) {
    return containerWaiting(p, "ContainerCreating");
  });
  EXPECT_EQ(waiting["status"].value("phase", ""), "Pending");
  EXPECT_TRUE(containersOf("cm-missing").empty());

  // The optional one runs meanwhile, with no files (only the atomic writer's
  // hidden ..data link and its empty timestamped directory).
  waitForPodPhase("cm-optional", "Running");
  std::string opt = runningContainer("cm-optional", "main");
  ExecResult ls = execIn(*cri_, opt, {"ls", "/cfg"});
  EXPECT_TRUE(ls.ok && ls.exitCode == 0 && ls.text.empty()) << ls.describe();

  createObject("configmaps", {{"metadata", {{"name", "later-cm"}}}, {"data", {{"k", "v"}}}});
  waitForPodPhase("cm-missing", "Running", 30s);
  std::string id = runningContainer("cm-missing", "main");
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/cfg/k"}).text, "v");
}

TEST_F(VolumesCluster, DownwardAPILabelsUpdate) {
  startJoined();
  json pod =
      withVolumes(podObject("dapi", "sleep 3600"),
                  {{{"name", "info"},
                    {"downwardAPI",
                     {{"items",
                       {{{"path", "labels"}, {"fieldRef", {{"fieldPath", "metadata.labels"}}}},
                        {{"path", "name"}, {"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}}}},
                  {{{"name", "info"}, {"mountPath", "/info"}}});
  pod["metadata"]["labels"] = {{"app", "demo"}, {"tier", "a"}};
  createPod(pod);
  std::string id = runningContainer("dapi", "main");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/info/name"}).text, "dapi");
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/info/labels"}).text, "app=\"demo\"\ntier=\"a\"");

  auto patched = api_->patch(podPath("dapi"), "application/merge-patch+json",
                             {{"metadata", {{"labels", {{"tier", "b"}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  ExecResult updated = waitForOutput(id, "cat /info/labels", "app=\"demo\"\ntier=\"b\"", 10s);
  EXPECT_EQ(updated.text, "app=\"demo\"\ntier=\"b\"") << updated.describe();
  EXPECT_EQ(containersOf("dapi").size(), 1u);
}

TEST_F(VolumesCluster, PersistentVolumeClaims) {
  std::string pvPath = dir_ + "/pv-local";
  fs::create_directories(pvPath);
  writeHostFile(pvPath + "/marker", "pv-marker\n");
  // Claims bound to their volumes, as the PV controller leaves them.
  auto bind = [&](const std::string& claim, const std::string& pv, json source) {
    json pvc = {{"metadata", {{"name", claim}}},
                {"spec",
                 {{"accessModes", {"ReadWriteOnce"}},
                  {"storageClassName", ""},
                  {"volumeName", pv},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
    auto created = api_->create("/api/v1/namespaces/default/persistentvolumeclaims", pvc);
    ASSERT_TRUE(created.ok()) << created.status();
    std::string claimUid = (*created)["metadata"].value("uid", "");
    json spec = {{"capacity", {{"storage", "1Gi"}}},
                 {"accessModes", {"ReadWriteOnce"}},
                 {"storageClassName", ""},
                 {"persistentVolumeReclaimPolicy", "Retain"},
                 {"claimRef",
                  {{"kind", "PersistentVolumeClaim"},
                   {"apiVersion", "v1"},
                   {"namespace", "default"},
                   {"name", claim},
                   {"uid", claimUid}}}};
    spec.update(source);
    auto made =
        api_->create("/api/v1/persistentvolumes", {{"metadata", {{"name", pv}}}, {"spec", spec}});
    ASSERT_TRUE(made.ok()) << made.status();
    for (const std::string& path :
         {"/api/v1/persistentvolumes/" + pv + "/status",
          "/api/v1/namespaces/default/persistentvolumeclaims/" + claim + "/status"}) {
      auto s =
          api_->patch(path, "application/merge-patch+json", {{"status", {{"phase", "Bound"}}}});
      ASSERT_TRUE(s.ok()) << path << ": " << s.status();
    }
  };
  bind("local-claim", "local-pv",
       {{"local", {{"path", pvPath}}},
        {"nodeAffinity",
         {{"required",
           {{"nodeSelectorTerms",
             {{{"matchExpressions",
                {{{"key", "kubernetes.io/hostname"},
                  {"operator", "In"},
                  {"values", {"it-node"}}}}}}}}}}}}});
  bind("nfs-claim", "nfs-pv", {{"nfs", {{"server", "nfs.example.com"}, {"path", "/exports"}}}});
  startJoined();
  json local = createPod(
      withVolumes(podObject("pvc-local", "echo from-pod > /data/w; sleep 3600"),
                  {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "local-claim"}}}}},
                  {{{"name", "data"}, {"mountPath", "/data"}}}));
  createPod(
      withVolumes(podObject("pvc-nfs", "sleep 3600"),
                  {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "nfs-claim"}}}}},
                  {{{"name", "data"}, {"mountPath", "/data"}}}));

  // local: the PV's path bind-mounted at the local-volume plugin's dir, both ways.
  std::string id = runningContainer("pvc-local", "main");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(execIn(*cri_, id, {"cat", "/data/marker"}).text, "pv-marker");
  EXPECT_TRUE(pollUntil([&] { return readHostFile(pvPath + "/w") == "from-pod\n"; }, 10s));
  std::string bound =
      volumeDir(local["metadata"].value("uid", ""), "kubernetes.io~local-volume", "local-pv");
  EXPECT_EQ(mountsUnder(bound), std::vector<std::string>{bound});

  // nfs: not supported, said clearly, and the pod waits.
  EXPECT_TRUE(waitForApiEvent("pvc-nfs", "FailedMount", [](const std::string& m) {
    return absl::StartsWith(m, "MountVolume.SetUp failed for volume \"data\" : ") &&
           absl::StrContains(m, "nfs") &&
           (absl::StrContains(m, "not supported") || absl::StrContains(m, "supports only"));
  })) << describeApiEvents("pvc-nfs");
  waitForObject(podPath("pvc-nfs"),
                [](const json& p) { return containerWaiting(p, "ContainerCreating"); });
  EXPECT_TRUE(containersOf("pvc-nfs").empty());
}

// The API server's ServiceAccount admission and a short maximum token lifetime,
// so the refresh happens within the test.
class VolumesServiceAccount : public VolumesCluster {
 protected:
  // A token lifetime of 20 s (a test-only relaxation of the fake) makes the
  // agent's refresh at 80 % of it visible within the test.
  void apiOptions(fakeapi::FakeApiServerOptions& opts) override {
    opts.serviceAccountAdmission = true;
    opts.maxTokenExpirationSeconds = 20;
  }
};

TEST_F(VolumesServiceAccount, ProjectedServiceAccountToken) {
  startJoined();
  json created = createPod(podObject("sa-pod", "sleep 3600"));
  // The admission plugin added the kube-api-access volume and its mount.
  std::string volume;
  for (const auto& v : created["spec"].value("volumes", json::array())) {
    if (absl::StartsWith(v.value("name", ""), "kube-api-access-")) volume = v.value("name", "");
  }
  ASSERT_FALSE(volume.empty()) << created.dump();

  std::string id = runningContainer("sa-pod", "main");
  ASSERT_FALSE(id.empty());
  const std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  ExecResult token = execIn(*cri_, id, {"cat", dir + "/token"});
  ASSERT_TRUE(token.ok && token.exitCode == 0) << token.describe();
  auto claims = api_->reviewToken(token.out);
  ASSERT_TRUE(claims.ok()) << claims.status() << " token: " << token.out;
  EXPECT_EQ(claims->value("sub", ""), "system:serviceaccount:default:default") << claims->dump();
  EXPECT_EQ((*claims)["kubernetes.io"]["pod"].value("name", ""), "sa-pod") << claims->dump();
  EXPECT_EQ(execIn(*cri_, id, {"cat", dir + "/ca.crt"}).out, api_->caPem());
  EXPECT_EQ(execIn(*cri_, id, {"cat", dir + "/namespace"}).out, "default");
  EXPECT_EQ(execIn(*cri_, id, {"stat", "-L", "-c", "%a", dir + "/token"}).text, "644");
  ExecResult mounts = execIn(*cri_, id, {"cat", "/proc/mounts"});
  EXPECT_TRUE(absl::StartsWith(mountLine(mounts.out, dir), "tmpfs " + dir + " tmpfs ro"))
      << mounts.out;

  // 20 s tokens are refreshed after 80 % of their life (less a jitter).
  ExecResult fresh;
  EXPECT_TRUE(pollUntil(
      [&] {
        fresh = execIn(*cri_, id, {"cat", dir + "/token"});
        return fresh.ok && fresh.exitCode == 0 && !fresh.out.empty() && fresh.out != token.out;
      },
      25s))
      << "token not refreshed";
  EXPECT_TRUE(api_->reviewToken(fresh.out).ok());
  auto requests = api_->tokenRequests();
  EXPECT_GE(requests.size(), 2u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.boundKind, "Pod");
    EXPECT_EQ(r.boundName, "sa-pod");
    EXPECT_EQ(r.user, "system:node:it-node");
    EXPECT_EQ(r.requestedExpirationSeconds, 3607);
  }
  EXPECT_EQ(containersOf("sa-pod").size(), 1u);
}

}  // namespace
}  // namespace cubelet::testing

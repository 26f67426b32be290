// Static pod manifests: identity (UID, name, namespace, node, annotations), the
// directory rules (dot-files, subdirectories, file order), duplicates, and bad files
// that never stop the good ones.
#include "agent/sources/static_pods.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace agent::sources {
namespace {

namespace fs = std::filesystem;

constexpr char kWeb[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: httpd
    image: busybox:1.36
    command: [httpd, -f, -p, "8080"]
)";

constexpr char kJob[] = R"({"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "job", "namespace": "batch"},
  "spec": {"restartPolicy": "Never",
           "containers": [{"name": "run", "image": "busybox:1.36", "command": ["true"]}]}})";

class StaticPodsTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-static-pods-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  std::string dir_;
};

TEST_F(StaticPodsTest, PodGetsKubeletIdentity) {
  std::string path = write("web.yaml", kWeb);
  auto pod = loadManifestFile(path, "Node-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->metadata.name, "web-node-1");
  EXPECT_EQ(pod->metadata.namespace_, "default");
  EXPECT_EQ(pod->spec.nodeName, "Node-1");
  ASSERT_EQ(pod->metadata.uid.size(), 32u);
  EXPECT_EQ(pod->metadata.uid.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(pod->metadata.annotations.at("kubernetes.io/config.hash"), pod->metadata.uid);
  EXPECT_EQ(pod->metadata.annotations.at("kubernetes.io/config.source"), "file");
  EXPECT_EQ(pod->metadata.annotations.count("kubernetes.io/config.seen"), 0u);
  EXPECT_EQ(pod->metadata.labels.at("app"), "web");
  // The API server's defaults are applied: no API server sees static pods.
  EXPECT_EQ(pod->spec.restartPolicy, "Always");
  EXPECT_EQ(pod->spec.containers[0].imagePullPolicy, "IfNotPresent");
}

TEST_F(StaticPodsTest, UidIsStableForTheSameContent) {
  std::string a = write("web.yaml", kWeb);
  auto first = loadManifestFile(a, "node1");
  auto second = loadManifestFile(a, "node1");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->metadata.uid, second->metadata.uid);

  // Formatting, comments and key order are not content.
  write("web.yaml",
        "# a comment\nkind: Pod\napiVersion: v1\nspec:\n  containers:\n  - image: "
        "'busybox:1.36'\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]\n    name: httpd\n"
        "metadata: {labels: {app: web}, name: web}\n");
  auto reformatted = loadManifestFile(a, "node1");
  ASSERT_TRUE(reformatted.ok()) << reformatted.status();
  EXPECT_EQ(reformatted->metadata.uid, first->metadata.uid);
}

TEST_F(StaticPodsTest, UidChangesWithContentNodeOrPath) {
  std::string path = write("web.yaml", kWeb);
  auto base = loadManifestFile(path, "node1");
  ASSERT_TRUE(base.ok());

  auto otherNode = loadManifestFile(path, "node2");
  ASSERT_TRUE(otherNode.ok());
  EXPECT_NE(otherNode->metadata.uid, base->metadata.uid);

  std::string copy = write("web-copy.yaml", kWeb);
  auto otherPath = loadManifestFile(copy, "node1");
  ASSERT_TRUE(otherPath.ok());
  EXPECT_NE(otherPath->metadata.uid, base->metadata.uid);

  std::string changed = kWeb;
  changed.replace(changed.find("8080"), 4, "8081");
  write("web.yaml", changed);
  auto edited = loadManifestFile(path, "node1");
  ASSERT_TRUE(edited.ok());
  EXPECT_NE(edited->metadata.uid, base->metadata.uid);
  EXPECT_EQ(edited->metadata.annotations.at("kubernetes.io/config.hash"), edited->metadata.uid);
}

TEST_F(StaticPodsTest, UidFunctionIsDeterministic) {
  std::string uid = staticPodUid("{}", "node", "/p");
  EXPECT_EQ(uid, staticPodUid("{}", "node", "/p"));
  EXPECT_NE(uid, staticPodUid("{}", "node", "/q"));
  EXPECT_NE(uid, staticPodUid("{ }", "node", "/p"));
  EXPECT_EQ(uid.size(), 32u);
  // 128-bit FNV-1a of nothing but the fixed "host:" and "file:" prefixes.
  EXPECT_EQ(staticPodUid("", "", ""), staticPodUid("", "", ""));
  EXPECT_NE(staticPodUid("", "", ""), staticPodUid("", "a", ""));
}

TEST_F(StaticPodsTest, ExplicitUidAndNamespaceAreKept) {
  std::string path = write("job.json", kJob);
  write("pinned.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: pinned, uid: fixed-uid}\nspec:\n  "
        "containers: [{name: c, image: busybox}]\n");
  auto job = loadManifestFile(path, "n");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->metadata.namespace_, "batch");
  EXPECT_EQ(job->metadata.name, "job-n");
  auto pinned = loadManifestFile(dir_ + "/pinned.yaml", "n");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->metadata.uid, "fixed-uid");
  EXPECT_EQ(pinned->metadata.annotations.at("kubernetes.io/config.hash"), "fixed-uid");
}

TEST_F(StaticPodsTest, ScanReadsYamlAndJsonInFileOrder) {
  write("b-web.yaml", kWeb);
  write("a-job.json", kJob);
  ManifestScan scan = scanManifestDir(dir_, "node1");
  EXPECT_TRUE(scan.errors.empty());
  ASSERT_EQ(scan.pods.size(), 2u);
  EXPECT_EQ(scan.pods[0].pod->metadata.name, "job-node1");
  EXPECT_EQ(scan.pods[0].file, dir_ + "/a-job.json");
  EXPECT_EQ(scan.pods[1].pod->metadata.name, "web-node1");
  EXPECT_EQ(scan.pods[1].file, dir_ + "/b-web.yaml");
}

TEST_F(StaticPodsTest, DotFilesAndDirectoriesAreIgnored) {
  write("web.yaml", kWeb);
  write(".web.yaml.swp", "garbage: [");
  write(".hidden.yaml", kJob);
  fs::create_directory(dir_ + "/sub");
  write("sub/job.yaml", kJob);
  ManifestScan scan = scanManifestDir(dir_, "node1");
  EXPECT_TRUE(scan.errors.empty()) << scan.errors[0].message;
  ASSERT_EQ(scan.pods.size(), 1u);
  EXPECT_EQ(scan.pods[0].pod->metadata.name, "web-node1");
}

TEST_F(StaticPodsTest, DuplicatePodNameKeepsTheFirstFile) {
  write("10-web.yaml", kWeb);
  std::string other = kWeb;
  other.replace(other.find("busybox:1.36"), 12, "busybox:1.35");
  write("20-web.yaml", other);
  ManifestScan scan = scanManifestDir(dir_, "node1");
  ASSERT_EQ(scan.pods.size(), 1u);
  EXPECT_EQ(scan.pods[0].file, dir_ + "/10-web.yaml");
  EXPECT_EQ(scan.pods[0].pod->spec.containers[0].image, "busybox:1.36");
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_EQ(scan.errors[0].file, dir_ + "/20-web.yaml");
  EXPECT_EQ(scan.errors[0].message, dir_ + "/20-web.yaml: duplicate pod \"default/web-node1\": " +
                                        "already defined by " + dir_ + "/10-web.yaml");
}

TEST_F(StaticPodsTest, SameNameInOtherNamespaceIsNoDuplicate) {
  write("a.yaml", kWeb);
  std::string other = kWeb;
  other.replace(other.find("  name: web"), 11, "  name: web\n  namespace: other");
  write("b.yaml", other);
  ManifestScan scan = scanManifestDir(dir_, "node1");
  EXPECT_TRUE(scan.errors.empty());
  EXPECT_EQ(scan.pods.size(), 2u);
}

TEST_F(StaticPodsTest, OneBadFileAmongGoodOnes) {
  write("a-job.json", kJob);
  write("b-noimage.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: c}]\n");
  write("c-broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n");
  write("d-web.yaml", kWeb);
  write("e-deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
  write("f-two.yaml", std::string(kWeb) + "---\n" + kWeb);
  write("g-empty.yaml", "");
  write("h-port.yaml", std::string(kWeb) + "    ports: [{containerPort: \"80a\"}]\n");
  write("i-nokind.yaml", "apiVersion: v1\nmetadata: {name: k}\n");
  ManifestScan scan = scanManifestDir(dir_, "node1");
  ASSERT_EQ(scan.pods.size(), 2u);
  EXPECT_EQ(scan.pods[0].pod->metadata.name, "job-node1");
  EXPECT_EQ(scan.pods[1].pod->metadata.name, "web-node1");
  ASSERT_EQ(scan.errors.size(), 7u);
  const std::string d = dir_ + "/";
  EXPECT_EQ(scan.errors[0].file, d + "b-noimage.yaml");
  EXPECT_EQ(scan.errors[0].message, d + "b-noimage.yaml: spec.containers[0].image: Required value");
  EXPECT_EQ(scan.errors[1].file, d + "c-broken.yaml");
  EXPECT_EQ(scan.errors[1].message.rfind(d + "c-broken.yaml:", 0), 0u) << scan.errors[1].message;
  EXPECT_EQ(scan.errors[2].message,
            d + "e-deploy.yaml: kind: Unsupported value: \"Deployment\": expected \"Pod\"");
  EXPECT_EQ(scan.errors[3].message, d + "f-two.yaml: multiple YAML documents; one Pod per file");
  EXPECT_EQ(scan.errors[4].message, d + "g-empty.yaml: empty manifest: expected one Pod");
  EXPECT_EQ(scan.errors[5].message,
            d + "h-port.yaml: spec.containers[0].ports[0].containerPort: expected integer, got " +
                "string \"80a\"");
  EXPECT_EQ(scan.errors[6].message, d + "i-nokind.yaml: kind: Required value");
  for (const ManifestError& e : scan.errors) {
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << "one line: " << e.message;
  }
}

TEST_F(StaticPodsTest, MissingNameIsRequiredNotSuffixed) {
  write("a.yaml", "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, image: i}]}\n");
  ManifestScan scan = scanManifestDir(dir_, "node1");
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_EQ(scan.errors[0].message, dir_ + "/a.yaml: metadata.name: Required value");
}

TEST_F(StaticPodsTest, NameTooLongWithNodeSuffixIsInvalid) {
  std::string name(250, 'a');
  write("a.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
                      "}\nspec: {containers: [{name: c, image: i}]}\n");
  ManifestScan scan = scanManifestDir(dir_, "node1");
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_NE(scan.errors[0].message.find("metadata.name: Invalid value"), std::string::npos);
}

TEST_F(StaticPodsTest, SingleFilePathIsAccepted) {
  std::string path = write("web.yaml", kWeb);
  ManifestScan scan = scanManifestDir(path, "node1");
  EXPECT_TRUE(scan.errors.empty());
  ASSERT_EQ(scan.pods.size(), 1u);
  EXPECT_EQ(scan.pods[0].file, path);
}

TEST_F(StaticPodsTest, MissingPathIsOneError) {
  ManifestScan scan = scanManifestDir(dir_ + "/nope", "node1");
  EXPECT_TRUE(scan.pods.empty());
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_EQ(scan.errors[0].message, dir_ + "/nope: manifest path does not exist");
}

TEST_F(StaticPodsTest, EmptyDirectoryHasNothing) {
  ManifestScan scan = scanManifestDir(dir_, "node1");
  EXPECT_TRUE(scan.pods.empty());
  EXPECT_TRUE(scan.errors.empty());
}

TEST_F(StaticPodsTest, UnreadableEntriesAreErrors) {
  write("web.yaml", kWeb);
  ASSERT_EQ(::symlink((dir_ + "/gone.yaml").c_str(), (dir_ + "/dangling.yaml").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir_ + "/pipe.yaml").c_str(), 0600), 0);
  ManifestScan scan = scanManifestDir(dir_, "node1");
  ASSERT_EQ(scan.pods.size(), 1u);
  ASSERT_EQ(scan.errors.size(), 2u);
  EXPECT_EQ(scan.errors[0].file, dir_ + "/dangling.yaml");
  EXPECT_EQ(scan.errors[1].message, dir_ + "/pipe.yaml: not a regular file");
}

TEST_F(StaticPodsTest, OversizedManifestIsRefused) {
  std::string path = write("big.yaml", std::string(kWeb) + "# " + std::string(11 << 20, 'x'));
  auto pod = loadManifestFile(path, "n");
  ASSERT_FALSE(pod.ok());
  EXPECT_NE(pod.status().message().find("manifest larger than"), std::string::npos);
}

TEST_F(StaticPodsTest, ConfigSeenIsRfc3339Nano) {
  api::Pod pod;
  using namespace std::chrono;
  system_clock::time_point t{seconds(1704164645)};  // 2024-01-02T03:04:05Z
  setConfigSeen(pod, t);
  EXPECT_EQ(pod.metadata.annotations.at("kubernetes.io/config.seen"), "2024-01-02T03:04:05Z");
  setConfigSeen(pod, t + nanoseconds(120'000'000));
  EXPECT_EQ(pod.metadata.annotations.at("kubernetes.io/config.seen"), "2024-01-02T03:04:05.12Z");
  setConfigSeen(pod, t + nanoseconds(1));
  EXPECT_EQ(pod.metadata.annotations.at("kubernetes.io/config.seen"),
            "2024-01-02T03:04:05.000000001Z");
}

}  // namespace
}  // namespace agent::sources

// securityContext with a real containerd: what the containers see (uid and gid,
// read-only root, no_new_privs, capabilities), a Localhost seccomp profile under
// <root-dir>/seccomp enforced, and the CreateContainerConfigError of a broken
// profile, a missing one and runAsNonRoot with a root image.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Every log file of the agent's pod log directory, concatenated.
std::string readLogs(const std::string& dir) {
  std::string out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    out += ss.str();
  }
  return out;
}

struct Ctr {
  std::string name;
  std::string script;                // run by sh -c
  std::string securityContext = "";  // YAML lines at 6 spaces, "" = none
};

// A restartPolicy Never pod of busybox containers.
std::string manifest(const std::string& name, const std::vector<Ctr>& containers,
                     const std::string& podSecurityContext = "") {
  std::string y = absl::StrCat("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ", name,
                               "\nspec:\n  restartPolicy: Never\n"
                               "  terminationGracePeriodSeconds: 1\n");
  if (!podSecurityContext.empty()) absl::StrAppend(&y, "  securityContext:\n", podSecurityContext);
  absl::StrAppend(&y, "  containers:\n");
  for (const auto& c : containers) {
    absl::StrAppend(&y, "  - name: ", c.name, "\n    image: ", kBusyboxImage,
                    "\n    command: [\"sh\", \"-c\"]\n    args:\n    - |\n");
    for (absl::string_view line : absl::StrSplit(c.script, '\n')) {
      absl::StrAppend(&y, "      ", line, "\n");
    }
    if (!c.securityContext.empty()) {
      absl::StrAppend(&y, "    securityContext:\n", c.securityContext);
    }
  }
  return y;
}

class SecurityTest : public AgentTest {
 protected:
  // Waits for the pod to finish and returns its containers' logs.
  std::string runToCompletion(const std::string& pod) {
    bool done = cubelet_->waitForPod(
        pod,
        [](const std::optional<json>& p) {
          if (!p) return false;
          std::string phase = (*p)["status"].value("phase", "");
          return phase == "Succeeded" || phase == "Failed";
        },
        90s);
    EXPECT_TRUE(done) << cubelet_->pods()->dump();
    return readLogs(cubelet_->podLogsDir());
  }

  // The waiting state of container `c` once its reason is `reason`.
  json waitForWaiting(const std::string& pod, const std::string& c, const std::string& reason) {
    json state;
    bool seen = cubelet_->waitForPod(
        pod,
        [&](const std::optional<json>& p) {
          if (!p) return false;
          json cs = containerStatus(*p, c);
          if (stateSummary(cs) != "waiting:" + reason) return false;
          state = cs["state"]["waiting"];
          return true;
        },
        60s);
    EXPECT_TRUE(seen) << cubelet_->pods()->dump();
    return state;
  }

  void writeProfile(const std::string& name, const std::string& json) {
    std::filesystem::create_directories(cubelet_->rootDir() + "/seccomp");
    std::ofstream(cubelet_->rootDir() + "/seccomp/" + name) << json;
  }
};

TEST_F(SecurityTest, ContainersSeeTheirSecurityContext) {
  startCubelet();
  cubelet_->writeManifest(
      "sc.yaml",
      manifest("sc",
               {
                   {"user", "echo \"user: uid=$(id -u) gid=$(id -g) groups=$(id -G)\"",
                    "      runAsUser: 65534\n      runAsGroup: 65533\n"},
                   {"podlevel", "echo \"podlevel: uid=$(id -u)\""},
                   {"rofs",
                    "if touch /written 2>/dev/null; then echo 'rofs: write=ok'; "
                    "else echo 'rofs: write=refused'; fi",
                    "      readOnlyRootFilesystem: true\n      runAsUser: 0\n"},
                   {"nnp", "echo nnp: $(grep NoNewPrivs /proc/self/status)",
                    "      allowPrivilegeEscalation: false\n"},
                   {"default",
                    "echo default: $(grep NoNewPrivs /proc/self/status)\n"
                    "echo default: $(grep CapEff /proc/self/status)",
                    "      runAsUser: 0\n"},
                   {"caps", "echo caps: $(grep CapEff /proc/self/status)",
                    "      runAsUser: 0\n      capabilities:\n        drop: [\"ALL\"]\n"
                    "        add: [\"NET_ADMIN\", \"CHOWN\"]\n"},
               },
               "    runAsUser: 1001\n    fsGroup: 3000\n    supplementalGroups: [4000]\n"));
  std::string logs = runToCompletion("sc");
  json pod = *cubelet_->pod("sc");
  EXPECT_EQ(pod["status"].value("phase", ""), "Succeeded") << pod.dump();
  // The container's user and group win over the pod's; fsGroup then supplementalGroups.
  size_t at = logs.find("user: uid=65534 gid=65533 groups=65533");
  ASSERT_NE(at, std::string::npos) << logs;
  std::string userLine = logs.substr(at, logs.find('\n', at) - at);
  EXPECT_NE(userLine.find(" 3000"), std::string::npos) << userLine;
  EXPECT_NE(userLine.find(" 4000"), std::string::npos) << userLine;
  EXPECT_NE(logs.find("podlevel: uid=1001"), std::string::npos) << logs;
  EXPECT_NE(logs.find("rofs: write=refused"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("rofs: write=ok"), std::string::npos) << logs;
  EXPECT_NE(logs.find("nnp: NoNewPrivs: 1"), std::string::npos) << logs;
  EXPECT_NE(logs.find("default: NoNewPrivs: 0"), std::string::npos) << logs;
  // CAP_CHOWN is bit 0, CAP_NET_ADMIN bit 12; nothing else.
  EXPECT_NE(logs.find("caps: CapEff: 0000000000001001"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("default: CapEff: 0000000000001001"), std::string::npos) << logs;
}

TEST_F(SecurityTest, LocalhostSeccompProfileIsEnforced) {
  startCubelet();
  writeProfile("deny-mkdir.json", R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
  })");
  cubelet_->writeManifest(
      "seccomp.yaml",
      manifest("seccomp",
               {
                   {"confined",
                    "if mkdir /tmp/d 2>/dev/null; then echo 'confined: mkdir=ok'; "
                    "else echo \"confined: mkdir=refused\"; fi\n"
                    "mkdir /tmp/e 2>&1 | sed 's/^/confined: /'",
                    ""},
                   {"free", "if mkdir /tmp/d; then echo 'free: mkdir=ok'; fi",
                    "      seccompProfile:\n        type: Unconfined\n"},
               },
               "    seccompProfile:\n      type: Localhost\n      localhostProfile: "
               "deny-mkdir.json\n"));
  std::string logs = runToCompletion("seccomp");
  EXPECT_NE(logs.find("confined: mkdir=refused"), std::string::npos) << logs;
  EXPECT_NE(logs.find("Operation not permitted"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("confined: mkdir=ok"), std::string::npos) << logs;
  // The container's own profile (Unconfined) wins over the pod's.
  EXPECT_NE(logs.find("free: mkdir=ok"), std::string::npos) << logs;
}

TEST_F(SecurityTest, BrokenOrMissingProfileIsCreateContainerConfigError) {
  startCubelet();
  writeProfile("broken.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]})");
  const std::string seccompDir = cubelet_->rootDir() + "/seccomp";
  cubelet_->writeManifest("broken.yaml",
                          manifest("broken", {{"main", "echo should not run",
                                               "      seccompProfile:\n        type: Localhost\n"
                                               "        localhostProfile: broken.json\n"}}));
  cubelet_->writeManifest("missing.yaml",
                          manifest("missing", {{"main", "echo should not run",
                                                "      seccompProfile:\n        type: Localhost\n"
                                                "        localhostProfile: nope/missing.json\n"}}));
  json broken = waitForWaiting("broken", "main", "CreateContainerConfigError");
  EXPECT_EQ(broken.value("message", ""),
            "container \"main\": Localhost seccomp profile " + seccompDir +
                "/broken.json: syscalls[0].action: unknown action \"SCMP_ACT_NOPE\"")
      << broken.dump();
  json missing = waitForWaiting("missing", "main", "CreateContainerConfigError");
  EXPECT_EQ(missing.value("message", ""), "container \"main\": Localhost seccomp profile " +
                                              seccompDir + "/nope/missing.json: not found")
      << missing.dump();
  // Nothing was created for either.
  for (const auto& c : containersOf("broken-it-node")) {
    ADD_FAILURE() << "container created: " << c.metadata().name();
  }
  EXPECT_TRUE(containersOf("missing-it-node").empty());
}

TEST_F(SecurityTest, RunAsNonRootWithARootImage) {
  startCubelet();
  cubelet_->writeManifest(
      "nonroot.yaml",
      manifest("nonroot",
               {{"main", "echo should not run", ""},
                {"numeric", "echo \"numeric: uid=$(id -u)\"", "      runAsUser: 1000\n"},
                {"rootuser", "echo should not run", "      runAsUser: 0\n"}},
               "    runAsNonRoot: true\n"));
  json w = waitForWaiting("nonroot", "main", "CreateContainerConfigError");
  json pod = *cubelet_->pod("nonroot");
  std::string uid = pod["metadata"].value("uid", "");
  EXPECT_EQ(
      w.value("message", ""),
      "container has runAsNonRoot and image will run as root (pod: \"nonroot-it-node_default(" +
          uid + ")\", container: main)")
      << w.dump();
  json r = waitForWaiting("nonroot", "rootuser", "CreateContainerConfigError");
  EXPECT_EQ(r.value("message", ""),
            "container's runAsUser breaks non-root policy (pod: \"nonroot-it-node_default(" + uid +
                ")\", container: rootuser)")
      << r.dump();
  // A numeric non-root runAsUser passes the check and runs.
  bool ran = cubelet_->waitForPod(
      "nonroot",
      [&](const std::optional<json>&) {
        return readLogs(cubelet_->podLogsDir()).find("numeric: uid=1000") != std::string::npos;
      },
      60s);
  EXPECT_TRUE(ran) << readLogs(cubelet_->podLogsDir());
}

}  // namespace
}  // namespace cubelet::testing

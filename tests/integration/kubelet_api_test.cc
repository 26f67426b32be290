// The kubelet API on :10250 over HTTPS, on a real containerd with the fake API
// server as the cluster: cubelet runs with the kubelet's secure settings
// (anonymous off, x509 client CA = the cluster CA, token webhook, Webhook
// authorization). curl talks to the port directly; the real kubectl reaches it
// through the fake API server's pods/log, pods/exec and pods/portforward proxies,
// as it reaches a kubelet through kube-apiserver.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "absl/strings/str_split.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/run_command.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
};

class KubeletApiTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    auto admin = api_->issueClientCert("kubelet-api-admin", {"system:masters"});
    ASSERT_TRUE(admin.ok()) << admin.status();
    writeFile(dir_ + "/admin.crt", admin->certPem);
    writeFile(dir_ + "/admin.key", admin->keyPem);
    auto stranger = api_->issueClientCert("stranger", {"some-group"});
    ASSERT_TRUE(stranger.ok()) << stranger.status();
    writeFile(dir_ + "/stranger.crt", stranger->certPem);
    writeFile(dir_ + "/stranger.key", stranger->keyPem);
    ASSERT_TRUE(
        api_->writeCertKubeconfig(dir_ + "/admin.kubeconfig", "kubectl-admin", {"system:masters"})
            .ok());
  }

  void startSecure(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {
        "--anonymous-auth=false", "--authentication-token-webhook=true",
        "--authorization-mode=Webhook", "--client-ca-file=" + api_->caFile()};
    flags.insert(flags.end(), extra.begin(), extra.end());
    startJoined(flags);
    // Serving once the port answers at all (401 without credentials).
    for (int i = 0; i < 200; ++i) {
      if (curl("/healthz", {}).status != 0) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "the kubelet API did not answer on port " << cubelet_->apiPort();
  }

  static void writeFile(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::trunc) << data;
  }

  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(cubelet_->apiPort()) + path;
  }

  // `who`: "admin", "stranger" (client certificates), "token:<t>", or "" (nobody).
  Reply curl(const std::string& path, const std::string& who, const std::string& method = "GET") {
    std::vector<std::string> argv = {"curl", "-sk",  "--max-time", "20",
                                     "-X",   method, "-w",         "\n%{http_code}"};
    if (who == "admin" || who == "stranger") {
      argv.insert(argv.end(),
                  {"--cert", dir_ + "/" + who + ".crt", "--key", dir_ + "/" + who + ".key"});
    } else if (who.rfind("token:", 0) == 0) {
      argv.insert(argv.end(), {"-H", "Authorization: Bearer " + who.substr(6)});
    }
    argv.push_back(url(path));
    auto r = runCommand(argv);
    Reply out;
    if (!r.ok()) return out;
    size_t nl = r->output.rfind('\n');
    if (nl == std::string::npos) return out;
    out.status = std::atoi(r->output.c_str() + nl + 1);
    out.body = r->output.substr(0, nl);
    return out;
  }

  CommandResult kubectl(const std::string& args) {
    auto r =
        runCommand({"sh", "-c",
                    "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false KUBECTL_PORT_FORWARD_WEBSOCKETS=false "
                    "kubectl --kubeconfig " +
                        dir_ + "/admin.kubeconfig --request-timeout=30s " + args});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, ""};
  }

  json runningPod(const std::string& name, const std::string& command) {
    createPod(podObject(name, command));
    return waitForPodPhase(name, "Running");
  }

  int openFds() const {
    int n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(cubelet_->pid()) + "/fd")) {
      ++n;
    }
    return n;
  }
};

TEST_F(KubeletApiTest, AuthenticatesAndAuthorizesEveryRequest) {
  startSecure();
  // Nobody: 401.
  Reply r = curl("/pods", "");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.body, "Unauthorized");
  // A client certificate from the cluster CA, but no RBAC rights: 403 naming the
  // attributes the SubjectAccessReview asked about.
  r = curl("/pods", "stranger");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("user=stranger"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("resource=nodes"), std::string::npos) << r.body;
  r = curl("/stats/summary", "stranger");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("subresource(s)=[stats]"), std::string::npos) << r.body;
  // An unknown bearer token: TokenReview says no -> 401.
  EXPECT_EQ(curl("/pods", "token:not-a-token").status, 401);
  // A token the API server knows, of a user without rights: 403; of an admin: 200.
  std::string weak = api_->addToken("weak-user", {});
  r = curl("/configz", "token:" + weak);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("user=weak-user"), std::string::npos) << r.body;
  EXPECT_EQ(curl("/configz", "token:" + api_->adminToken()).status, 200);
  // cluster-admin by certificate.
  r = curl("/pods", "admin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).value("kind", ""), "PodList");
}

TEST_F(KubeletApiTest, ServesHealthPodsConfigAndStats) {
  startSecure();
  runningPod("web", "sleep 3600");
  Reply r = curl("/healthz", "admin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  r = curl("/healthz?verbose", "admin");
  EXPECT_NE(r.body.find("[+]syncloop ok"), std::string::npos) << r.body;

  r = curl("/pods", "admin");
  ASSERT_EQ(r.status, 200);
  bool found = false;
  json podList = json::parse(r.body);
  for (const auto& p : podList["items"]) {
    found |= p["metadata"].value("name", "") == "web";
  }
  EXPECT_TRUE(found) << r.body;

  r = curl("/runningpods/", "admin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"web\""), std::string::npos) << r.body;

  r = curl("/configz", "admin");
  ASSERT_EQ(r.status, 200) << r.body;
  json cfg = json::parse(r.body)["kubeletconfig"];
  EXPECT_EQ(cfg["authorization"].value("mode", ""), "Webhook");
  EXPECT_EQ(cfg.value("port", 0), cubelet_->apiPort());

  // The stats summary names the node and the running pod (collected every few seconds).
  json summary;
  for (int i = 0; i < 100; ++i) {
    r = curl("/stats/summary", "admin");
    if (r.status == 200) {
      summary = json::parse(r.body);
      bool has = false;
      for (const auto& p : summary.value("pods", json::array())) {
        has |= p["podRef"].value("name", "") == "web";
      }
      if (has) break;
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(summary["node"].value("nodeName", ""), "it-node") << summary.dump();

  EXPECT_EQ(curl("/no/such/path", "admin").status, 404);
}

TEST_F(KubeletApiTest, MetricsUseTheKubeletNames) {
  startSecure();
  runningPod("metered", "sleep 3600");
  Reply r;
  // kubelet_running_pods counts the pod once the PLEG saw it running.
  std::regex running(R"(\nkubelet_running_pods (\d+))");
  std::smatch m;
  for (int i = 0; i < 100; ++i) {
    r = curl("/metrics", "admin");
    if (std::regex_search(r.body, m, running) && std::stoi(m[1]) >= 1) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(std::regex_search(r.body, m, running)) << r.body.substr(0, 2000);
  EXPECT_GE(std::stoi(m[1]), 1);
  for (const char* name : {"# TYPE kubelet_pod_start_duration_seconds histogram",
                           "kubelet_runtime_operations_total{operation_type=\"run_podsandbox\"}",
                           "kubelet_node_name{node=\"it-node\"} 1", "process_resident_memory_bytes",
                           "kubelet_pleg_relist_duration_seconds_bucket"}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
  // /metrics/resource: what metrics-server reads.
  for (int i = 0; i < 100; ++i) {
    r = curl("/metrics/resource", "admin");
    if (r.body.find("pod=\"metered\"") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_NE(r.body.find("node_cpu_usage_seconds_total"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("container_memory_working_set_bytes{container=\"main\",namespace="
                        "\"default\",pod=\"metered\"}"),
            std::string::npos)
      << r.body;
  r = curl("/metrics/probes", "admin");
  EXPECT_EQ(r.status, 200);
}

TEST_F(KubeletApiTest, LogsThroughKubectl) {
  startSecure();
  // stdout and stderr reach the log through separate pipes: the stderr line comes
  // a moment later so the order in the file is certain.
  runningPod("talker",
             "for i in 1 2 3 4 5; do echo line-$i; done; sleep 0.5; echo err-line >&2; sleep 3600");
  CommandResult r;
  for (int i = 0; i < 50; ++i) {
    r = kubectl("logs talker");
    if (r.output.find("err-line") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "line-1\nline-2\nline-3\nline-4\nline-5\nerr-line\n");
  r = kubectl("logs talker --tail=2");
  EXPECT_EQ(r.output, "line-5\nerr-line\n");
  r = kubectl("logs talker --limit-bytes=9");
  EXPECT_EQ(r.output, "line-1\nli");
  r = kubectl("logs talker --timestamps --tail=1");
  EXPECT_TRUE(
      std::regex_match(r.output, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err-line\n)")))
      << r.output;
  r = kubectl("logs talker --since=1h");
  EXPECT_NE(r.output.find("line-1"), std::string::npos);
  // No previous instance yet; a malformed option and a missing container.
  r = kubectl("logs talker --previous");
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.output.find("previous terminated container \"main\" in pod \"talker\" not found"),
            std::string::npos)
      << r.output;
  Reply bad = curl("/containerLogs/default/talker/main?tailLines=abc", "admin");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(curl("/containerLogs/default/talker/nope", "admin").status, 404);
  EXPECT_EQ(curl("/containerLogs/default/nosuchpod/main", "admin").status, 404);
}

TEST_F(KubeletApiTest, FollowEndsWithTheContainerAndPreviousShowsTheOldInstance) {
  startSecure();
  // Each instance prints its start count, then keeps printing for ~2 s and exits 1.
  runningPod("restarter",
             "n=$(cat /tmp/n 2>/dev/null || echo 0); echo start-$n; "
             "for i in 1 2 3 4; do echo tick-$i; sleep 0.5; done; exit 1");
  int before = openFds();
  // Follow the first instance: the stream carries the ticks, then ends by itself
  // once the container has exited (no hanging kubectl).
  auto start = std::chrono::steady_clock::now();
  CommandResult f = kubectl("logs -f restarter");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(f.exitCode, 0) << f.output;
  EXPECT_NE(f.output.find("tick-4"), std::string::npos) << f.output;
  EXPECT_LT(took, 30s);
  // After the restart, --previous shows the instance that exited.
  json pod = waitForObject(podPath("restarter"), [](const json& p) {
    for (const auto& c :
         p.value("status", json::object()).value("containerStatuses", json::array())) {
      if (c.value("restartCount", 0) >= 1) return true;
    }
    return false;
  });
  CommandResult prev = kubectl("logs --previous restarter");
  EXPECT_EQ(prev.exitCode, 0) << prev.output;
  EXPECT_NE(prev.output.find("tick-4"), std::string::npos) << prev.output;
  // Followers and their inotify watches are gone again.
  std::this_thread::sleep_for(1s);
  EXPECT_LE(openFds(), before + 2);
}

TEST_F(KubeletApiTest, ExecAndPortForwardThroughKubectl) {
  startSecure();
  runningPod(
      "shell",
      "mkdir -p /www && echo hello-from-httpd > /www/index.html && httpd -f -p 8080 -h /www");
  // exec with stdin and stdout over SPDY, proxied by cubelet to containerd's stream server.
  CommandResult r = kubectl("exec shell -- echo exec-ok");
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "exec-ok\n");
  auto in =
      runCommand({"sh", "-c",
                  "printf 'ping-through-stdin' | KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl "
                  "--kubeconfig " +
                      dir_ + "/admin.kubeconfig exec -i shell -- cat"});
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->output, "ping-through-stdin");
  // The exit code travels back too.
  r = kubectl("exec shell -- sh -c 'exit 3'");
  EXPECT_EQ(r.exitCode, 3) << r.output;

  // port-forward to the pod's busybox httpd.
  auto pf = runCommand({"sh", "-c",
                        "KUBECTL_PORT_FORWARD_WEBSOCKETS=false kubectl --kubeconfig " + dir_ +
                            "/admin.kubeconfig port-forward pod/shell :8080 > " + dir_ +
                            "/pf.log 2>&1 & pid=$!; "
                            "for i in $(seq 100); do port=$(sed -n 's/^Forwarding from "
                            "127.0.0.1:\\([0-9]*\\).*/\\1/p' " +
                            dir_ +
                            "/pf.log); [ -n \"$port\" ] && break; sleep 0.1; done; "
                            "curl -s --max-time 10 http://127.0.0.1:$port/; kill $pid"});
  ASSERT_TRUE(pf.ok());
  EXPECT_NE(pf->output.find("hello-from-httpd"), std::string::npos) << pf->output;

  // /run: a one-shot command, output in the body.
  Reply run = curl("/run/default/shell/main?cmd=echo%20run-ok", "admin", "POST");
  EXPECT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.body, "run-ok\n");
  // Bad input: no streams, unknown pod.
  EXPECT_EQ(curl("/exec/default/shell/main?command=true", "admin", "POST").status, 400);
  EXPECT_EQ(curl("/exec/default/nosuch/main?command=true&output=1", "admin", "POST").status, 404);
}

TEST_F(KubeletApiTest, HealthzFailsWhenTheSyncLoopStalls) {
  startSecure({"--sync-loop-health-threshold=3s"});
  ASSERT_EQ(curl("/healthz", "admin").body, "ok");
  // containerd frozen: the PLEG's relist cannot finish, so the sync loop stalls.
  pid_t ctrd = 0;
  std::ifstream(containerd().runDir() + "/containerd.pid") >> ctrd;
  ASSERT_GT(ctrd, 0);
  ::kill(ctrd, SIGSTOP);
  Reply r;
  for (int i = 0; i < 100; ++i) {
    r = curl("/healthz", "admin");
    if (r.status == 500) break;
    std::this_thread::sleep_for(100ms);
  }
  ::kill(ctrd, SIGCONT);
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("[-]syncloop failed"), std::string::npos) << r.body;
  // Healthy again once the runtime answers.
  for (int i = 0; i < 100; ++i) {
    r = curl("/healthz", "admin");
    if (r.status == 200) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace cubelet::testing

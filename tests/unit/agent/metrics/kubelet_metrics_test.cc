// KubeletMetrics (/metrics), the process collector, the instrumented CRI
// decorators and the prober's /metrics/probes.
#include "agent/metrics/kubelet_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/metrics/instrumented_runtime.h"
#include "agent/metrics/prober_metrics.h"
#include "agent/metrics/process_collector.h"

namespace cubelet::testing {
namespace {

using namespace agent::metrics;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The value on the line that starts with `series + " "`, or NaN.
double valueOf(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nan("");
}

TEST(KubeletMetricsTest, RendersUpstreamFamilies) {
  KubeletMetrics m;
  m.setNodeName("old");
  m.setNodeName("node-a");
  m.runningPods.set(3);
  m.runningContainers.with({std::string(kContainerStateRunning)}).set(5);
  m.podStartDuration.observe(1.5);
  m.startedContainersErrorsTotal.with({std::string(kContainerTypeInit), "CreateContainerError"})
      .inc();
  m.evictions.with({"memory.available"}).inc();
  std::string text = m.render();

  // Help texts with component-base's stability prefix, upstream buckets.
  EXPECT_TRUE(contains(text,
                       "# HELP kubelet_node_name [ALPHA] The node's name. The count is always 1.\n"
                       "# TYPE kubelet_node_name gauge\n"
                       "kubelet_node_name{node=\"node-a\"} 1\n"))
      << text;
  EXPECT_FALSE(contains(text, "node=\"old\""));
  EXPECT_TRUE(contains(text, "# TYPE kubelet_running_pods gauge\nkubelet_running_pods 3\n"));
  EXPECT_TRUE(contains(text, "kubelet_running_containers{container_state=\"running\"} 5\n"));
  EXPECT_TRUE(contains(text,
                       "kubelet_pod_start_duration_seconds_bucket{le=\"1\"} 0\n"
                       "kubelet_pod_start_duration_seconds_bucket{le=\"2\"} 1\n"));
  EXPECT_TRUE(contains(text, "kubelet_pod_start_duration_seconds_bucket{le=\"3600\"} 1\n"));
  EXPECT_TRUE(contains(text,
                       "kubelet_started_containers_errors_total{code=\"CreateContainerError\","
                       "container_type=\"init_container\"} 1\n"));
  EXPECT_TRUE(contains(text, "kubelet_evictions{eviction_signal=\"memory.available\"} 1\n"));
  // Unlabelled families are always there; labelled and lazy ones only once used.
  EXPECT_TRUE(contains(text, "kubelet_started_pods_total 0\n"));
  EXPECT_TRUE(contains(text, "kubelet_pleg_relist_duration_seconds_count 0\n"));
  EXPECT_FALSE(contains(text, "kubelet_pod_start_sli_duration_seconds"));
  EXPECT_FALSE(contains(text, "kubelet_runtime_operations_total"));
  m.podStartSliDuration.with({}).observe(2);
  EXPECT_TRUE(contains(m.render(), "kubelet_pod_start_sli_duration_seconds_count 1\n"));
  // Process metrics, raw (no stability prefix).
  EXPECT_TRUE(contains(text,
                       "# HELP process_open_fds Number of open file descriptors.\n"
                       "# TYPE process_open_fds gauge\n"));
  // Families are sorted by name.
  EXPECT_LT(text.find("kubelet_evictions"), text.find("kubelet_node_name"));
  EXPECT_LT(text.find("kubelet_running_pods"), text.find("process_cpu_seconds_total"));
}

TEST(KubeletMetricsTest, HttpLabelsAsTheKubeletServer) {
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/containerLogs/ns/pod/c"), "containerLogs");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/stats/summary"), "stats");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/metrics"), "metrics");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/metrics/resource"), "metrics/resource");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/metrics/probes/x"), "metrics/probes");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/metrics/slis"), "other");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/healthz"), "healthz");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/"), "other");
  EXPECT_EQ(KubeletMetrics::httpPathBucket("/no/such"), "other");

  auto exec = KubeletMetrics::httpLabels("POST", "/exec/ns/pod/c", "readwrite");
  EXPECT_EQ(exec.method, "POST");
  EXPECT_EQ(exec.path, "exec");
  EXPECT_EQ(exec.longRunning, "true");
  auto pf = KubeletMetrics::httpLabels("GET", "/portForward/ns/pod", "readwrite");
  EXPECT_EQ(pf.path, "portForward");
  EXPECT_EQ(pf.longRunning, "false");  // upstream's map says "portforward"
  EXPECT_EQ(KubeletMetrics::httpLabels("BREW", "/pods", "readonly").method, "other");

  KubeletMetrics m;
  auto l = KubeletMetrics::httpLabels("GET", "/pods", "readwrite");
  m.httpRequestStarted(l);
  m.httpRequestStarted(l);
  std::string during = m.render();
  const std::string series =
      "{long_running=\"false\",method=\"GET\",path=\"pods\",server_type=\"readwrite\"}";
  EXPECT_EQ(valueOf(during, "kubelet_http_inflight_requests" + series), 2) << during;
  EXPECT_EQ(valueOf(during, "kubelet_http_requests_total" + series), 2);
  m.httpRequestFinished(l, 0.02);
  m.httpRequestFinished(l, 0.2);
  std::string after = m.render();
  EXPECT_EQ(valueOf(after, "kubelet_http_inflight_requests" + series), 0);
  EXPECT_EQ(valueOf(after, "kubelet_http_requests_duration_seconds_count" + series), 2);
  EXPECT_EQ(valueOf(after,
                    "kubelet_http_requests_duration_seconds_bucket{long_running=\"false\","
                    "method=\"GET\",path=\"pods\",server_type=\"readwrite\",le=\"0.025\"}"),
            1);
}

std::string statusField(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

int countFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;  // includes the directory's own descriptor, as the collector does
}

TEST(ProcessCollectorTest, SaneAgainstProcSelf) {
  // Burn a little CPU so the counter is not trivially zero.
  volatile double x = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
  while (std::chrono::steady_clock::now() < until) x = x + 1;

  int extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(extra, 0);
  const int fdsBefore = countFds();
  ProcessStats st = readProcessStats();
  const int fdsAfter = countFds();
  close(extra);

  ASSERT_TRUE(st.openFds && st.maxFds && st.cpuSeconds && st.residentMemoryBytes &&
              st.virtualMemoryBytes && st.virtualMemoryMaxBytes && st.startTimeSeconds);
  EXPECT_GE(*st.openFds, std::min(fdsBefore, fdsAfter));
  EXPECT_LE(*st.openFds, std::max(fdsBefore, fdsAfter));

  struct rlimit nofile {};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  EXPECT_EQ(*st.maxFds, static_cast<double>(nofile.rlim_cur));
  struct rlimit as {};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &as), 0);
  if (as.rlim_cur == RLIM_INFINITY) {
    EXPECT_EQ(*st.virtualMemoryMaxBytes, 18446744073709551615.0);
  } else {
    EXPECT_EQ(*st.virtualMemoryMaxBytes, static_cast<double>(as.rlim_cur));
  }

  // VmRSS / VmSize are in kB; allow for growth between the two reads.
  const double rssKb = std::stod(statusField("VmRSS"));
  const double vmKb = std::stod(statusField("VmSize"));
  EXPECT_NEAR(*st.residentMemoryBytes / 1024, rssKb, rssKb * 0.2 + 1024);
  EXPECT_NEAR(*st.virtualMemoryBytes / 1024, vmKb, vmKb * 0.2 + 1024);

  EXPECT_GT(*st.cpuSeconds, 0);
  EXPECT_LT(*st.cpuSeconds, 3600);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(*st.startTimeSeconds, now + 1);
  EXPECT_GT(*st.startTimeSeconds, now - 3600);

  // A missing /proc leaves the figures out instead of failing.
  ProcessStats none = readProcessStats("/nonexistent/self", "/nonexistent/stat");
  EXPECT_FALSE(none.openFds || none.cpuSeconds || none.maxFds || none.startTimeSeconds);
  std::vector<FamilySnapshot> fams;
  appendProcessFamilies(none, fams);
  EXPECT_TRUE(fams.empty());
}

// A runtime whose every call succeeds, or fails when `fail` is set.
class FakeRuntime : public cri::RuntimeService, public cri::ImageService {
 public:
  std::atomic<bool> fail{false};
  std::atomic<int> calls{0};

  template <class T>
  absl::StatusOr<T> answer(T value) {
    ++calls;
    if (fail) return absl::UnavailableError("runtime down");
    return value;
  }
  absl::Status answer() {
    ++calls;
    return fail ? absl::UnavailableError("runtime down") : absl::OkStatus();
  }

  absl::StatusOr<runtime::v1::VersionResponse> version() override {
    runtime::v1::VersionResponse r;
    r.set_runtime_name("fake");
    return answer(r);
  }
  absl::StatusOr<runtime::v1::StatusResponse> status(bool) override {
    return answer(runtime::v1::StatusResponse{});
  }
  absl::StatusOr<std::string> runPodSandbox(const runtime::v1::PodSandboxConfig&,
                                            const std::string&) override {
    return answer(std::string("sb1"));
  }
  absl::Status stopPodSandbox(const std::string&) override { return answer(); }
  absl::Status removePodSandbox(const std::string&) override { return answer(); }
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> podSandboxStatus(const std::string&,
                                                                         bool) override {
    return answer(runtime::v1::PodSandboxStatusResponse{});
  }
  absl::StatusOr<std::vector<runtime::v1::PodSandbox>> listPodSandbox(
      const runtime::v1::PodSandboxFilter&) override {
    return answer(std::vector<runtime::v1::PodSandbox>{});
  }
  absl::StatusOr<std::string> createContainer(const std::string&,
                                              const runtime::v1::ContainerConfig&,
                                              const runtime::v1::PodSandboxConfig&) override {
    return answer(std::string("c1"));
  }
  absl::Status startContainer(const std::string&) override { return answer(); }
  absl::Status stopContainer(const std::string&, int64_t) override { return answer(); }
  absl::Status removeContainer(const std::string&) override { return answer(); }
  absl::StatusOr<std::vector<runtime::v1::Container>> listContainers(
      const runtime::v1::ContainerFilter&) override {
    return answer(std::vector<runtime::v1::Container>(2));
  }
  absl::StatusOr<runtime::v1::ContainerStatusResponse> containerStatus(const std::string&,
                                                                       bool) override {
    return answer(runtime::v1::ContainerStatusResponse{});
  }
  absl::Status updateContainerResources(const std::string&,
                                        const runtime::v1::LinuxContainerResources&) override {
    return answer();
  }
  absl::Status reopenContainerLog(const std::string&) override { return answer(); }
  absl::StatusOr<runtime::v1::ExecSyncResponse> execSync(const std::string&,
                                                         const std::vector<std::string>&,
                                                         int64_t) override {
    return answer(runtime::v1::ExecSyncResponse{});
  }
  absl::StatusOr<std::string> exec(const runtime::v1::ExecRequest&) override {
    return answer(std::string("http://x/exec"));
  }
  absl::StatusOr<std::string> attach(const runtime::v1::AttachRequest&) override {
    return answer(std::string("http://x/attach"));
  }
  absl::StatusOr<std::string> portForward(const runtime::v1::PortForwardRequest&) override {
    return answer(std::string("http://x/pf"));
  }
  absl::StatusOr<runtime::v1::ContainerStats> containerStats(const std::string&) override {
    return answer(runtime::v1::ContainerStats{});
  }
  absl::StatusOr<std::vector<runtime::v1::ContainerStats>> listContainerStats(
      const runtime::v1::ContainerStatsFilter&) override {
    return answer(std::vector<runtime::v1::ContainerStats>{});
  }
  absl::StatusOr<runtime::v1::PodSandboxStats> podSandboxStats(const std::string&) override {
    return answer(runtime::v1::PodSandboxStats{});
  }
  absl::StatusOr<std::vector<runtime::v1::PodSandboxStats>> listPodSandboxStats(
      const runtime::v1::PodSandboxStatsFilter&) override {
    return answer(std::vector<runtime::v1::PodSandboxStats>{});
  }
  absl::Status updateRuntimeConfig(const std::string&) override { return answer(); }

  absl::StatusOr<std::vector<runtime::v1::Image>> listImages(
      const runtime::v1::ImageFilter&) override {
    return answer(std::vector<runtime::v1::Image>{});
  }
  absl::StatusOr<std::optional<runtime::v1::Image>> imageStatus(
      const runtime::v1::ImageSpec&) override {
    return answer(std::optional<runtime::v1::Image>{});
  }
  absl::StatusOr<std::string> pullImage(const runtime::v1::ImageSpec&,
                                        const runtime::v1::AuthConfig*,
                                        const runtime::v1::PodSandboxConfig*) override {
    return answer(std::string("sha256:abc"));
  }
  absl::Status removeImage(const runtime::v1::ImageSpec&) override { return answer(); }
  absl::StatusOr<runtime::v1::ImageFsInfoResponse> imageFsInfo() override {
    return answer(runtime::v1::ImageFsInfoResponse{});
  }
};

TEST(InstrumentedRuntimeTest, CountsOperationsAndErrors) {
  KubeletMetrics m;
  FakeRuntime fake;
  InstrumentedRuntimeService rt(fake, m);
  InstrumentedImageService img(fake, m);

  auto v = rt.version();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->runtime_name(), "fake");  // results pass through
  ASSERT_TRUE(rt.listContainers({}).ok());
  EXPECT_EQ(rt.listContainers({})->size(), 2u);
  ASSERT_TRUE(rt.runPodSandbox({}, "runc").ok());
  ASSERT_TRUE(img.pullImage({}, nullptr, nullptr).ok());
  fake.fail = true;
  EXPECT_EQ(rt.execSync("c1", {"true"}, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(rt.runPodSandbox({}, "runc").ok());
  EXPECT_FALSE(rt.stopContainer("c1", 30).ok());
  EXPECT_FALSE(img.imageFsInfo().ok());
  EXPECT_EQ(fake.calls.load(), 9);

  auto total = [&](const char* op) { return m.runtimeOperations.with({op}).value(); };
  auto errors = [&](const char* op) { return m.runtimeOperationsErrors.with({op}).value(); };
  EXPECT_EQ(total("version"), 1);
  EXPECT_EQ(total("list_containers"), 2);
  EXPECT_EQ(total("run_podsandbox"), 2);
  EXPECT_EQ(errors("run_podsandbox"), 1);
  EXPECT_EQ(total("pull_image"), 1);
  EXPECT_EQ(total("exec_sync"), 1);
  EXPECT_EQ(errors("exec_sync"), 1);
  EXPECT_EQ(errors("stop_container"), 1);
  EXPECT_EQ(errors("image_fs_info"), 1);
  EXPECT_EQ(m.runtimeOperationsDuration.with({"list_containers"}).count(), 2u);
  EXPECT_EQ(m.runPodSandboxDuration.with({"runc"}).count(), 2u);
  EXPECT_EQ(m.runPodSandboxErrors.with({"runc"}).value(), 1);

  std::string text = m.render();
  EXPECT_TRUE(contains(text,
                       "# HELP kubelet_runtime_operations_total [ALPHA] Cumulative number of "
                       "runtime operations by operation type.\n"
                       "# TYPE kubelet_runtime_operations_total counter\n"
                       "kubelet_runtime_operations_total{operation_type=\"exec_sync\"} 1\n"
                       "kubelet_runtime_operations_total{operation_type=\"image_fs_info\"} 1\n"
                       "kubelet_runtime_operations_total{operation_type=\"list_containers\"} 2\n"))
      << text;
  // Upstream's buckets: ExponentialBuckets(.005, 2.5, 14).
  EXPECT_TRUE(contains(text,
                       "kubelet_runtime_operations_duration_seconds_bucket{operation_type="
                       "\"version\",le=\"745.0580596923828\"} 1\n"));
  EXPECT_TRUE(contains(text,
                       "kubelet_runtime_operations_errors_total{operation_type="
                       "\"run_podsandbox\"} 1\n"));
  EXPECT_FALSE(contains(text,
                        "kubelet_runtime_operations_errors_total{operation_type="
                        "\"version\"} 1\n"));
}

TEST(InstrumentedRuntimeTest, ConcurrentCallsFromWorkers) {
  KubeletMetrics m;
  FakeRuntime fake;
  InstrumentedRuntimeService rt(fake, m);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        EXPECT_TRUE(rt.listPodSandbox({}).ok());
        recordRuntimeOperation(m, "status", i % 5 == 0, std::chrono::milliseconds(1));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(fake.calls.load(), 2000);
  EXPECT_EQ(m.runtimeOperations.with({"list_podsandbox"}).value(), 2000);
  EXPECT_EQ(m.runtimeOperationsErrors.with({"list_podsandbox"}).value(), 0);
  EXPECT_EQ(m.runtimeOperationsDuration.with({"list_podsandbox"}).count(), 2000u);
  EXPECT_EQ(m.runtimeOperations.with({"status"}).value(), 2000);
  EXPECT_EQ(m.runtimeOperationsErrors.with({"status"}).value(), 400);
  // 1 ms falls in the first bucket (le 0.005).
  EXPECT_TRUE(contains(m.render(),
                       "kubelet_runtime_operations_duration_seconds_bucket{"
                       "operation_type=\"status\",le=\"0.005\"} 2000\n"));
}

TEST(ProberMetricsTest, ProbesRegistry) {
  ProberMetrics p(1700000000.5);
  ProbeTarget web{"app", "web", "default", "uid-1"};
  ProbeTarget db{"db", "store", "prod", "uid-2"};
  p.recordProbe(ProbeType::kReadiness, ProbeResult::kSuccessful, web, 0.01);
  p.recordProbe(ProbeType::kReadiness, ProbeResult::kSuccessful, web, 0.02);
  p.recordProbe(ProbeType::kReadiness, ProbeResult::kFailed, web, 0.5);
  p.recordProbe(ProbeType::kLiveness, ProbeResult::kUnknown, db, 3);
  std::string text = p.render();

  EXPECT_TRUE(contains(text,
                       "# HELP prober_probe_total [BETA] Cumulative number of a liveness, "
                       "readiness or startup probe for a container by result.\n"
                       "# TYPE prober_probe_total counter\n"
                       "prober_probe_total{container=\"app\",namespace=\"default\",pod=\"web\","
                       "pod_uid=\"uid-1\",probe_type=\"Readiness\",result=\"failed\"} 1\n"
                       "prober_probe_total{container=\"app\",namespace=\"default\",pod=\"web\","
                       "pod_uid=\"uid-1\",probe_type=\"Readiness\",result=\"successful\"} 2\n"
                       "prober_probe_total{container=\"db\",namespace=\"prod\",pod=\"store\","
                       "pod_uid=\"uid-2\",probe_type=\"Liveness\",result=\"unknown\"} 1\n"))
      << text;
  // Failed probes are counted but not timed.
  EXPECT_EQ(valueOf(text,
                    "prober_probe_duration_seconds_count{container=\"app\",namespace=\"default\","
                    "pod=\"web\",probe_type=\"Readiness\"}"),
            2);
  EXPECT_TRUE(contains(text,
                       "# HELP prober_probe_duration_seconds [ALPHA] Duration in seconds "
                       "for a probe response.\n"));
  EXPECT_TRUE(contains(text,
                       "# HELP process_start_time_seconds [ALPHA] Start time of the process since "
                       "unix epoch in seconds.\n"
                       "# TYPE process_start_time_seconds gauge\n"
                       "process_start_time_seconds 1.7000000005e+09\n"));
  // Nothing from /metrics leaks in: a separate registry.
  EXPECT_FALSE(contains(text, "kubelet_"));

  p.removeProbe(ProbeType::kReadiness, web);
  text = p.render();
  EXPECT_FALSE(contains(text, "pod=\"web\""));
  EXPECT_TRUE(contains(text, "pod=\"store\""));
  p.removePod("uid-2", "prod", "store");
  text = p.render();
  EXPECT_FALSE(contains(text, "prober_probe_total"));
  EXPECT_FALSE(contains(text, "prober_probe_duration_seconds"));

  ProberMetrics live;  // start time read from /proc/self
  EXPECT_GT(valueOf(live.render(), "process_start_time_seconds"), 1e9);
}

}  // namespace
}  // namespace cubelet::testing

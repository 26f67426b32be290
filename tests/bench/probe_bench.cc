// probe_bench: what probes cost cubelet (issue 4's benchmark), on a private
// containerd with the integration tests' harness. The same N busybox httpd pods
// run in up to three phases, each on a fresh cubelet:
//   none       no probes;
//   http       an HTTP readiness probe on httpd (period 1 s);
//   http_exec  that, plus an exec liveness probe (`cat`, period 1 s).
// Once every pod runs (and is ready) and a settling time has passed, cubelet's
// utime+stime (/proc/<pid>/stat) is sampled over a window: CPU in % of one core
// (stime also apart: much of an HTTP probe is the kernel's connect and close;
// and, exact, the threads' run time from schedstat),
// beside the CPU of every other process in the test's PID namespace (containerd,
// shims, runc, the containers, with their reaped children: the runtime's share).
// VmRSS/RssAnon are read at the end of the window. The HTTP probes' period jitter
// comes from the request times httpd logs (-vv prints each URL; the CRI log line
// carries the runtime's timestamp): per pod, the gaps between consecutive probe
// requests inside the window, minus the 1 s period.
// Prints one JSON line per phase and a summary line; asserts nothing about time.
// Run (as root; not part of ctest): build-dir/tests/bench/probe_bench
// Environment: PROBE_BENCH_PODS (100), PROBE_BENCH_WINDOW_S (30),
//   PROBE_BENCH_SETTLE_S (10), PROBE_BENCH_PHASES ("none,http,http_exec").
// Each exec probe costs the runtime (containerd, shim, runc) about a tenth of a
// core per run per second, so 100 exec probes at 1 s need ~10 cores: on a small
// machine run the phases with HTTP at full size and the exec phase with fewer
// pods (PROBE_BENCH_PHASES=none,http, then PROBE_BENCH_PODS=10 for all three).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "tests/support/agent_test_fixture.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

int envInt(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : dflt;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// utime+stime (with `children`, also cutime+cstime) of a process, in clock ticks;
// with `sysOnly`, stime alone (the kernel's share: connects, closes, epoll).
int64_t cpuTicks(const std::string& pid, bool children, bool sysOnly = false) {
  std::string stat = readFile("/proc/" + pid + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  if (f.size() < 15) return 0;
  if (sysOnly) return std::stoll(f[12]);
  int64_t t = std::stoll(f[11]) + std::stoll(f[12]);
  if (children) t += std::stoll(f[13]) + std::stoll(f[14]);
  return t;
}

// Nanoseconds the scheduler ran the threads of a process (/proc/<pid>/task/*/schedstat):
// exact, where utime/stime are sampled at the clock tick, which overcharges work
// that timers wake (probes are) when the tick and the timer coincide.
int64_t runNanos(const std::string& pid) {
  int64_t t = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::istringstream in(readFile(e.path() / "schedstat"));
    int64_t ns = 0;
    if (in >> ns) t += ns;
  }
  return t;
}

// CPU ticks of every process in this PID namespace but `exclude`, with their children's.
int64_t othersTicks(const std::vector<std::string>& exclude) {
  int64_t t = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    if (std::find(exclude.begin(), exclude.end(), name) != exclude.end()) continue;
    t += cpuTicks(name, true);
  }
  return t;
}

json memoryOf(pid_t pid) {
  json out;
  std::istringstream status(readFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    for (const char* key : {"VmRSS", "RssAnon"}) {
      if (line.rfind(std::string(key) + ":", 0) == 0) {
        out[std::string(key) + "_kib"] = std::stol(line.substr(std::strlen(key) + 1));
      }
    }
  }
  return out;
}

json summary(std::vector<double> v) {
  if (v.empty()) return {{"n", 0}};
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::min(i == 0 ? 0 : i - 1, v.size() - 1)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  return {{"p50", pct(0.5)},
          {"p90", pct(0.9)},
          {"p99", pct(0.99)},
          {"max", v.back()},
          {"mean", sum / static_cast<double>(v.size())},
          {"n", v.size()}};
}

json benchPod(const std::string& name, bool http, bool exec) {
  json c = {{"name", "web"},
            {"image", kBusyboxImage},
            {"command", json::array({"sh", "-c",
                                     "mkdir -p /www; echo ok > /www/healthz; "
                                     "exec httpd -f -vv -p 8080 -h /www"})}};
  if (http) {
    c["readinessProbe"] = {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}},
                           {"periodSeconds", 1}};
  }
  if (exec) {
    c["livenessProbe"] = {{"exec", {{"command", json::array({"cat", "/www/healthz"})}}},
                          {"periodSeconds", 1}};
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}}},
          {"spec", {{"terminationGracePeriodSeconds", 1}, {"containers", json::array({c})}}}};
}

class ProbeBench : public AgentTest {
 protected:
  // Runs `pods` pods with the given probes on a fresh cubelet and measures them.
  json phase(const std::string& label, int pods, bool http, bool exec) {
    int settle = envInt("PROBE_BENCH_SETTLE_S", 10);
    int window = envInt("PROBE_BENCH_WINDOW_S", 30);
    if (cubelet_) {
      auto rc = cubelet_->stop();
      EXPECT_TRUE(rc.ok()) << rc.status();
      cubelet_.reset();
      cleanRuntime();
    }
    cubelet_ = std::make_unique<CubeletProcess>(dir_ + "/" + label);
    absl::Status s = cubelet_->start();
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return json::object();
    std::cerr << "probe_bench: " << label << ": starting " << pods << " pods" << std::endl;
    auto t0 = Clock::now();
    for (int i = 0; i < pods; ++i) {
      std::string name = "p" + std::to_string(i);
      cubelet_->writeManifest(name + ".yaml", benchPod(name, http, exec).dump());
    }
    // Every pod running, and ready.
    bool allUp = false;
    while (Clock::now() - t0 < 600s) {
      auto list = cubelet_->pods();
      int up = 0;
      if (list.ok()) {
        for (const auto& p : (*list)["items"]) {
          json cs = containerStatus(p, "web");
          if (stateSummary(cs) == "running" && cs.value("ready", false)) ++up;
        }
      }
      if (up == pods) {
        allUp = true;
        break;
      }
      std::this_thread::sleep_for(1s);
    }
    EXPECT_TRUE(allUp) << label << ": not every pod came up within 10 minutes";
    double upS = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cerr << "probe_bench: " << label << ": all up after " << upS << " s; settling"
              << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(settle));

    const std::string pid = std::to_string(cubelet_->pid());
    const std::vector<std::string> exclude = {pid, std::to_string(::getpid())};
    absl::Time wall0 = absl::Now();
    auto m0 = Clock::now();
    int64_t c0 = cpuTicks(pid, false), o0 = othersTicks(exclude);
    int64_t k0 = cpuTicks(pid, false, true), n0 = runNanos(pid);
    std::this_thread::sleep_for(std::chrono::seconds(window));
    int64_t c1 = cpuTicks(pid, false), o1 = othersTicks(exclude);
    int64_t k1 = cpuTicks(pid, false, true), n1 = runNanos(pid);
    double elapsed = std::chrono::duration<double>(Clock::now() - m0).count();
    absl::Time wall1 = absl::Now();
    json mem = memoryOf(cubelet_->pid());
    double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));

    int restarts = 0;
    if (auto list = cubelet_->pods(); list.ok()) {
      for (const auto& p : (*list)["items"]) {
        restarts += containerStatus(p, "web").value("restartCount", 0);
      }
    }
    json out = {{"benchmark", "probes"},
                {"phase", label},
                {"pods", pods},
                {"http_readiness", http},
                {"exec_liveness", exec},
                {"all_up_s", upS},
                {"window_s", elapsed},
                {"cubelet_cpu_pct", 100.0 * static_cast<double>(c1 - c0) / tick / elapsed},
                {"cubelet_cpu_pct_schedstat", 100.0 * static_cast<double>(n1 - n0) / 1e9 / elapsed},
                {"cubelet_sys_cpu_pct", 100.0 * static_cast<double>(k1 - k0) / tick / elapsed},
                {"runtime_cpu_pct", 100.0 * static_cast<double>(o1 - o0) / tick / elapsed},
                {"memory", mem},
                {"restarts", restarts}};
    if (http) out["http_probe_interval_ms"] = jitter(wall0, wall1);
    std::cout << out.dump() << std::endl;
    return out;
  }

  // Gaps between consecutive probe requests (httpd's "url:/healthz" lines)
  // inside [from, to], per pod, in ms; and their deviation from the 1 s period.
  json jitter(absl::Time from, absl::Time to) {
    std::vector<double> gaps, deviation;
    std::error_code ec;
    for (const auto& dir : std::filesystem::directory_iterator(cubelet_->podLogsDir(), ec)) {
      std::istringstream log(readFile(dir.path() / "web" / "0.log"));
      std::optional<absl::Time> last;
      for (std::string line; std::getline(log, line);) {
        if (line.find("url:/healthz") == std::string::npos) continue;
        absl::Time t;
        std::string err;
        if (!absl::ParseTime(absl::RFC3339_full, line.substr(0, line.find(' ')), &t, &err)) {
          continue;
        }
        if (t < from || t > to) continue;
        if (last) {
          double ms = absl::ToDoubleMilliseconds(t - *last);
          gaps.push_back(ms);
          deviation.push_back(std::abs(ms - 1000.0));
        }
        last = t;
      }
    }
    return {{"gap", summary(gaps)}, {"abs_deviation_from_period", summary(deviation)}};
  }
};

TEST_F(ProbeBench, HttpReadinessAndExecLiveness) {
  int pods = envInt("PROBE_BENCH_PODS", 100);
  std::string phases =
      std::getenv("PROBE_BENCH_PHASES") ? std::getenv("PROBE_BENCH_PHASES") : "none,http,http_exec";
  json results = json::object();
  for (absl::string_view p : absl::StrSplit(phases, ',')) {
    std::string label(p);
    if (label == "none") results[label] = phase(label, pods, false, false);
    if (label == "http") results[label] = phase(label, pods, true, false);
    if (label == "http_exec") results[label] = phase(label, pods, true, true);
    if (HasFailure()) break;
  }
  // The probes' own share: each phase against the one without probes.
  json s = {{"benchmark", "probes_summary"}, {"pods", pods}};
  auto cpu = [&](const char* k) { return results[k].value("cubelet_cpu_pct", 0.0); };
  auto anon = [&](const char* k) {
    return results[k].contains("memory") ? results[k]["memory"].value("RssAnon_kib", 0) : 0;
  };
  if (results.contains("none") && results.contains("http")) {
    s["http_probes_cubelet_cpu_pct"] = cpu("http") - cpu("none");
    s["http_probes_cubelet_cpu_pct_schedstat"] =
        results["http"].value("cubelet_cpu_pct_schedstat", 0.0) -
        results["none"].value("cubelet_cpu_pct_schedstat", 0.0);
    s["http_probes_rss_anon_kib"] = anon("http") - anon("none");
    s["budget_http_cpu_pct"] = 2.0;
  }
  if (results.contains("http") && results.contains("http_exec")) {
    s["exec_probes_cubelet_cpu_pct"] = cpu("http_exec") - cpu("http");
    s["exec_probes_cubelet_cpu_pct_schedstat"] =
        results["http_exec"].value("cubelet_cpu_pct_schedstat", 0.0) -
        results["http"].value("cubelet_cpu_pct_schedstat", 0.0);
    s["exec_probes_runtime_cpu_pct"] = results["http_exec"].value("runtime_cpu_pct", 0.0) -
                                       results["http"].value("runtime_cpu_pct", 0.0);
  }
  std::cout << s.dump() << std::endl;
}

}  // namespace
}  // namespace cubelet::testing

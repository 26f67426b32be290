// Probes, lifecycle hooks and termination messages with a real containerd and
// busybox pods: restarts from liveness failures (exec, HTTP, TCP), readiness and
// its initial delay, startup probes holding liveness back, postStart/preStop
// hooks seen through their side effects, termination messages from the file and
// from the log, and probes that cannot work failing cleanly. Events are read
// from cubelet's log (-v=3), where the kubelet's broadcaster prints them too.
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/support/agent_test_fixture.h"
#include "tests/support/logged_events.h"

namespace cubelet::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// PID 1 in the container is sh, which ignores SIGTERM unless it traps it; with
// the trap and a waited-for background sleep, a kill takes effect at once.
const std::string kTrap = "trap 'exit 0' TERM; ";
const std::string kIdle = "sleep 1000 & wait";

json container(const std::string& name, const std::string& script,
               const json& extra = json::object()) {
  json c = {
      {"name", name}, {"image", kBusyboxImage}, {"command", json::array({"sh", "-c", script})}};
  c.update(extra);
  return c;
}

json podOf(const std::string& name, const json& containers,
           const std::string& restartPolicy = "Always", int gracePeriod = 2) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"restartPolicy", restartPolicy},
            {"terminationGracePeriodSeconds", gracePeriod},
            {"containers", containers}}}};
}

json execAction(const std::vector<std::string>& command) {
  return {{"exec", {{"command", command}}}};
}

json httpAction(const json& port, const std::string& path, const std::string& host = "") {
  json a = {{"httpGet", {{"port", port}, {"path", path}}}};
  if (!host.empty()) a["httpGet"]["host"] = host;
  return a;
}

json tcpAction(int port) { return {{"tcpSocket", {{"port", port}}}}; }

// A probe running `action` every `period` seconds, failing after `failures` misses.
json probe(json action, int period = 1, int failures = 1, const json& extra = json::object()) {
  action["periodSeconds"] = period;
  action["failureThreshold"] = failures;
  action.update(extra);
  return action;
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The status of condition `type` ("True"/"False") in a /pods item, or "".
std::string condition(const std::optional<json>& pod, const std::string& type) {
  if (!pod || !pod->contains("status") || !(*pod)["status"].contains("conditions")) return "";
  for (const auto& c : (*pod)["status"]["conditions"]) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "";
}

class HealthTest : public AgentTest {
 protected:
  // Events are logged at -v=3.
  void start() { startCubelet({"--v=3"}); }

  void run(const json& pod) {
    cubelet_->writeManifest(pod["metadata"]["name"].get<std::string>() + ".yaml", pod.dump(2));
  }

  // The status of container `c` of pod `name` (an empty object when unknown).
  json statusOf(const std::string& name, const std::string& c = "main") {
    auto p = cubelet_->pod(name);
    return p ? containerStatus(*p, c) : json::object();
  }
  int restarts(const std::string& name) { return statusOf(name).value("restartCount", 0); }
  bool ready(const std::string& name) { return statusOf(name).value("ready", false); }

  std::vector<LoggedEvent> events(const std::string& pod, const std::string& reason) {
    return loggedEvents(cubelet_->log(), "default/" + pod + "-it-node", reason);
  }
  // Waits for an event about `pod` with `reason` whose message contains `text`.
  bool waitForEvent(const std::string& pod, const std::string& reason, const std::string& text,
                    std::chrono::milliseconds timeout) {
    return waitUntil(
        [&] {
          for (const auto& e : events(pod, reason)) {
            if (e.message.find(text) != std::string::npos) return true;
          }
          return false;
        },
        timeout);
  }

  static bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return pred();
  }

  // The log of attempt `attempt` of container `c` of pod `name` (kubelet layout).
  std::string containerLog(const std::string& name, const std::string& c, int attempt = 0) {
    std::string prefix = "default_" + name + "-it-node_";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(cubelet_->podLogsDir(), ec)) {
      if (e.path().filename().string().rfind(prefix, 0) == 0) {
        return readFile(e.path() / c / (std::to_string(attempt) + ".log"));
      }
    }
    return "";
  }

  std::string dump() {
    auto p = cubelet_->pods();
    return p.ok() ? p->dump(1) : std::string(p.status().message());
  }

  // The pod's IP once it runs.
  std::string podIP(const std::string& name) {
    std::string ip;
    cubelet_->waitForPod(
        name,
        [&](const std::optional<json>& p) {
          if (p && p->contains("status")) ip = (*p)["status"].value("podIP", "");
          return !ip.empty();
        },
        60s);
    return ip;
  }
};

TEST_F(HealthTest, ExecLivenessProbeRestartsContainerWhoseFileIsDeleted) {
  start();
  run(podOf("liveness-exec",
            json::array(
                {container("main", kTrap + "touch /tmp/healthy; sleep 3; rm /tmp/healthy; " + kIdle,
                           {{"livenessProbe", probe(execAction({"cat", "/tmp/healthy"}), 1, 1,
                                                    {{"initialDelaySeconds", 1}})}})})));
  ASSERT_TRUE(cubelet_->waitForPhase("liveness-exec", "Running", 60s)) << dump();
  // Healthy while the file is there.
  auto t0 = Clock::now();
  while (secondsSince(t0) < 1.5) {
    ASSERT_EQ(restarts("liveness-exec"), 0) << "restarted while healthy";
    std::this_thread::sleep_for(200ms);
  }
  // Each instance deletes its file after 3 s and is restarted; the count keeps growing.
  int last = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        int n = restarts("liveness-exec");
        EXPECT_GE(n, last) << "restartCount went down";
        last = n;
        return n >= 2;
      },
      40s))
      << dump();
  json cs = statusOf("liveness-exec");
  EXPECT_TRUE(cs["lastState"].contains("terminated")) << cs.dump();

  auto unhealthy = events("liveness-exec", "Unhealthy");
  ASSERT_FALSE(unhealthy.empty()) << cubelet_->log();
  EXPECT_EQ(unhealthy[0].type, "Warning");
  EXPECT_EQ(unhealthy[0].fieldPath, "spec.containers{main}");
  EXPECT_EQ(unhealthy[0].message.rfind("Liveness probe failed: ", 0), 0u) << unhealthy[0].message;
  EXPECT_NE(unhealthy[0].message.find("/tmp/healthy"), std::string::npos) << unhealthy[0].message;
  auto killing = events("liveness-exec", "Killing");
  ASSERT_FALSE(killing.empty());
  EXPECT_EQ(killing[0].message, "Container main failed liveness probe, will be restarted");
}

TEST_F(HealthTest, HttpLivenessProbeRestartsOnlyWhenServerStopsAnswering) {
  start();
  // Answers 200 on /healthz for 5 s, then 404 (the port is given by name).
  run(podOf("http-404", json::array({container(
                            "main",
                            "mkdir -p /www; echo ok > /www/healthz; (sleep 5; rm /www/healthz) & "
                            "exec httpd -f -p 8080 -h /www",
                            {{"ports", json::array({{{"name", "http"}, {"containerPort", 8080}}})},
                             {"livenessProbe", probe(httpAction("http", "/healthz"), 1, 2)}})})));
  // Answers for 5 s, then its server is gone: connection refused.
  run(podOf("http-gone", json::array({container(
                             "main",
                             kTrap +
                                 "mkdir -p /www; echo ok > /www/healthz; httpd -p 8080 -h /www; "
                                 "sleep 5; killall httpd; " +
                                 kIdle,
                             {{"livenessProbe", probe(httpAction(8080, "/healthz"), 1, 2)}})})));
  ASSERT_TRUE(cubelet_->waitForPhase("http-404", "Running", 60s)) << dump();
  ASSERT_TRUE(cubelet_->waitForPhase("http-gone", "Running", 60s)) << dump();
  auto t0 = Clock::now();
  while (secondsSince(t0) < 3) {
    ASSERT_EQ(restarts("http-404"), 0) << "restarted while answering";
    ASSERT_EQ(restarts("http-gone"), 0) << "restarted while answering";
    std::this_thread::sleep_for(200ms);
  }
  // (The very first probe may come before httpd listens: connection refused.)
  for (const auto& e : events("http-404", "Unhealthy")) {
    EXPECT_EQ(e.message.find("statuscode"), std::string::npos) << "failed while answering";
  }
  auto refusals = [&] {
    int n = 0;
    for (const auto& e : events("http-gone", "Unhealthy")) {
      if (e.message.find("connection refused") != std::string::npos) ++n;
    }
    return n;
  };
  int refusedWhileAnswering = refusals();

  ASSERT_TRUE(
      waitUntil([&] { return restarts("http-404") >= 1 && restarts("http-gone") >= 1; }, 30s))
      << dump();
  EXPECT_TRUE(waitForEvent("http-404", "Unhealthy",
                           "Liveness probe failed: HTTP probe failed with statuscode: 404", 1s))
      << describeEvents(events("http-404", "Unhealthy"));
  EXPECT_GT(refusals(), refusedWhileAnswering) << describeEvents(events("http-gone", "Unhealthy"));
  EXPECT_TRUE(waitForEvent("http-404", "Killing", "failed liveness probe", 1s));
  EXPECT_TRUE(waitForEvent("http-gone", "Killing", "failed liveness probe", 1s));
  // The new instance answers again and runs.
  EXPECT_TRUE(waitUntil([&] { return stateSummary(statusOf("http-404")) == "running"; }, 10s));
}

TEST_F(HealthTest, TcpProbes) {
  start();
  // Listens only after 3 s: not ready until then, and never restarted for it.
  run(podOf("tcp-ready", json::array({container("main", "sleep 3; exec httpd -f -p 8080 -h /",
                                                {{"readinessProbe", probe(tcpAction(8080))}})})));
  // Nothing listens on 9999.
  run(podOf("tcp-dead", json::array({container("main", kTrap + kIdle,
                                               {{"livenessProbe", probe(tcpAction(9999))}})})));
  std::optional<Clock::time_point> running;
  double readyAfter = -1;
  ASSERT_TRUE(waitUntil(
      [&] {
        json cs = statusOf("tcp-ready");
        if (!running && stateSummary(cs) == "running") running = Clock::now();
        if (running && cs.value("ready", false)) {
          readyAfter = secondsSince(*running);
          return true;
        }
        return false;
      },
      60s))
      << dump();
  EXPECT_GE(readyAfter, 2.0) << "ready before anything listened";
  EXPECT_EQ(restarts("tcp-ready"), 0);

  ASSERT_TRUE(waitUntil([&] { return restarts("tcp-dead") >= 1; }, 30s)) << dump();
  EXPECT_TRUE(waitForEvent("tcp-dead", "Unhealthy", "9999", 1s))
      << describeEvents(events("tcp-dead", "Unhealthy"));
  for (const auto& e : events("tcp-dead", "Unhealthy")) {
    EXPECT_EQ(e.message.rfind("Liveness probe failed: ", 0), 0u) << e.message;
  }
  EXPECT_EQ(restarts("tcp-ready"), 0);
}

TEST_F(HealthTest, ReadinessWaitsForInitialDelayAndNeverRestarts) {
  start();
  run(podOf("ready-late",
            json::array({container("main", kTrap + kIdle,
                                   {{"readinessProbe", probe(execAction({"true"}), 1, 1,
                                                             {{"initialDelaySeconds", 4}})}})})));
  run(podOf("never-ready",
            json::array({container("main", kTrap + kIdle,
                                   {{"readinessProbe", probe(execAction({"false"}), 1, 1)}})})));
  std::optional<Clock::time_point> running;
  double readyAfter = -1;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto p = cubelet_->pod("ready-late");
        if (!p) return false;
        json cs = containerStatus(*p, "main");
        if (!running && stateSummary(cs) == "running") running = Clock::now();
        if (running && cs.value("ready", false)) {
          readyAfter = secondsSince(*running);
          EXPECT_EQ(condition(p, "ContainersReady"), "True");
          EXPECT_EQ(condition(p, "Ready"), "True");
          return true;
        }
        if (running) {
          EXPECT_NE(condition(p, "Ready"), "True") << "pod Ready, container not";
        }
        return false;
      },
      60s))
      << dump();
  // The first run comes after initialDelaySeconds (4 s); `running` was seen late if anything.
  EXPECT_GE(readyAfter, 3.0) << "ready before the initial delay";
  EXPECT_LT(readyAfter, 10.0) << "readiness not reported promptly";

  // A failing readiness probe: not ready, and never a restart.
  ASSERT_TRUE(cubelet_->waitForPhase("never-ready", "Running", 30s)) << dump();
  std::this_thread::sleep_for(5s);
  auto p = cubelet_->pod("never-ready");
  ASSERT_TRUE(p);
  json cs = containerStatus(*p, "main");
  EXPECT_EQ(cs["restartCount"], 0);
  EXPECT_EQ(cs["ready"], false);
  EXPECT_EQ(stateSummary(cs), "running");
  EXPECT_EQ(condition(p, "ContainersReady"), "False");
  EXPECT_EQ(condition(p, "Ready"), "False");
  EXPECT_EQ(containersOf("never-ready-it-node").size(), 1u);
  auto unhealthy = events("never-ready", "Unhealthy");
  ASSERT_FALSE(unhealthy.empty());
  EXPECT_EQ(unhealthy[0].message.rfind("Readiness probe failed", 0), 0u) << unhealthy[0].message;
  EXPECT_TRUE(events("never-ready", "Killing").empty())
      << describeEvents(events("never-ready", "Killing"));
  EXPECT_TRUE(ready("ready-late"));
}

TEST_F(HealthTest, StartupProbeHoldsLivenessBack) {
  start();
  // Starts up after 6 s. Liveness checks the same file with one allowed miss:
  // if it ran before the startup probe succeeded it would restart the container.
  run(podOf("slow-start",
            json::array({container(
                "main", kTrap + "sleep 6; touch /tmp/started; " + kIdle,
                {{"startupProbe", probe(execAction({"cat", "/tmp/started"}), 1, 30)},
                 {"livenessProbe", probe(execAction({"cat", "/tmp/started"}), 1, 1)}})})));
  // Never starts up: restarted after two misses.
  run(podOf("never-starts",
            json::array({container("main", kTrap + kIdle,
                                   {{"startupProbe", probe(execAction({"false"}), 1, 2)}})})));
  ASSERT_TRUE(cubelet_->waitForPhase("slow-start", "Running", 60s)) << dump();
  auto t0 = Clock::now();
  while (secondsSince(t0) < 4) {
    json cs = statusOf("slow-start");
    ASSERT_EQ(cs.value("restartCount", 0), 0) << "restarted before startup succeeded";
    EXPECT_EQ(cs.value("started", true), false) << cs.dump();
    EXPECT_EQ(cs.value("ready", true), false) << "ready before started: " << cs.dump();
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(waitUntil([&] { return statusOf("slow-start").value("started", false); }, 20s))
      << dump();
  EXPECT_TRUE(waitUntil([&] { return ready("slow-start"); }, 5s)) << dump();
  std::this_thread::sleep_for(3s);  // liveness now runs, and passes
  EXPECT_EQ(restarts("slow-start"), 0);
  EXPECT_TRUE(events("slow-start", "Killing").empty())
      << describeEvents(events("slow-start", "Killing"));
  for (const auto& e : events("slow-start", "Unhealthy")) {
    EXPECT_EQ(e.message.rfind("Startup probe failed", 0), 0u) << e.message;
  }
  EXPECT_FALSE(events("slow-start", "Unhealthy").empty());

  ASSERT_TRUE(waitUntil([&] { return restarts("never-starts") >= 1; }, 30s)) << dump();
  EXPECT_TRUE(waitForEvent("never-starts", "Killing",
                           "Container main failed startup probe, will be restarted", 1s))
      << describeEvents(events("never-starts", "Killing"));
}

TEST_F(HealthTest, PostStartExecHookRuns) {
  start();
  // The main process waits (at most 10 s) for the file the hook writes.
  run(podOf(
      "poststart",
      json::array({container(
          "main",
          kTrap +
              "i=0; while [ ! -f /tmp/poststart ] && [ $i -lt 100 ]; do sleep 0.1; "
              "i=$((i+1)); done; echo seen: $(cat /tmp/poststart); " +
              kIdle,
          {{"lifecycle",
            {{"postStart", execAction({"sh", "-c", "echo from-hook > /tmp/poststart"})}}}})})));
  ASSERT_TRUE(cubelet_->waitForPhase("poststart", "Running", 60s)) << dump();
  ASSERT_TRUE(waitUntil(
      [&] { return containerLog("poststart", "main").find("seen:") != std::string::npos; }, 20s));
  EXPECT_NE(containerLog("poststart", "main").find("stdout F seen: from-hook"), std::string::npos)
      << containerLog("poststart", "main");
  auto containers = containersOf("poststart-it-node");
  ASSERT_EQ(containers.size(), 1u);
  auto out = cri_->execSync(containers[0].id(), {"cat", "/tmp/poststart"}, 5);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->stdout(), "from-hook\n");
  EXPECT_EQ(restarts("poststart"), 0);
  EXPECT_TRUE(events("poststart", "FailedPostStartHook").empty());
}

TEST_F(HealthTest, HooksReachTheirTargets) {
  start();
  // Every hook leaves its mark in this server's log (httpd -vv logs each URL).
  run(podOf("observer", json::array({container("main",
                                               "mkdir -p /www; cd /www; "
                                               "touch poststart-http prestop-http prestop-exec; "
                                               "exec httpd -f -vv -p 8080 -h /www")})));
  std::string obs = podIP("observer");
  ASSERT_FALSE(obs.empty()) << dump();
  ASSERT_TRUE(cubelet_->waitForPhase("observer", "Running", 60s)) << dump();
  run(podOf("hooked-http",
            json::array({container("main", kTrap + kIdle,
                                   {{"lifecycle",
                                     {{"postStart", httpAction(8080, "/poststart-http", obs)},
                                      {"preStop", httpAction(8080, "/prestop-http", obs)}}}})})));
  run(podOf("hooked-exec",
            json::array({container(
                "main", kTrap + kIdle,
                {{"lifecycle",
                  {{"preStop", execAction({"wget", "-q", "-O", "/dev/null",
                                           "http://" + obs + ":8080/prestop-exec"})}}}})})));
  ASSERT_TRUE(cubelet_->waitForPhase("hooked-http", "Running", 60s)) << dump();
  ASSERT_TRUE(cubelet_->waitForPhase("hooked-exec", "Running", 60s)) << dump();
  auto seen = [&](const std::string& path) {
    return containerLog("observer", "main").find("url:" + path) != std::string::npos;
  };
  EXPECT_TRUE(waitUntil([&] { return seen("/poststart-http"); }, 10s))
      << containerLog("observer", "main");
  EXPECT_FALSE(seen("/prestop-http"));
  EXPECT_FALSE(seen("/prestop-exec"));

  cubelet_->removeManifest("hooked-http.yaml");
  cubelet_->removeManifest("hooked-exec.yaml");
  ASSERT_TRUE(waitUntil(
      [&] {
        return sandboxesOf("hooked-http-it-node").empty() &&
               sandboxesOf("hooked-exec-it-node").empty();
      },
      30s));
  EXPECT_TRUE(seen("/prestop-http")) << containerLog("observer", "main");
  EXPECT_TRUE(seen("/prestop-exec")) << containerLog("observer", "main");
  EXPECT_TRUE(events("hooked-http", "FailedPreStopHook").empty());
  EXPECT_TRUE(events("hooked-exec", "FailedPreStopHook").empty());
}

TEST_F(HealthTest, FailingHooksAndSleepingPreStop) {
  start();
  run(podOf("bad-poststart",
            json::array({container(
                "main", kTrap + kIdle,
                {{"lifecycle",
                  {{"postStart", execAction({"sh", "-c", "echo hook-$((6*7)); exit 1"})}}}})})));
  run(podOf("bad-prestop",
            json::array(
                {container("main", kTrap + kIdle,
                           {{"lifecycle", {{"preStop", execAction({"sh", "-c", "exit 7"})}}}})})));
  // preStop sleeps 2 s; the container itself stops at once on SIGTERM.
  run(podOf("sleepy",
            json::array({container("main", kTrap + kIdle,
                                   {{"lifecycle", {{"preStop", {{"sleep", {{"seconds", 2}}}}}}}})}),
            "Always", 10));

  // A failed postStart kills the container, which is then restarted.
  ASSERT_TRUE(waitUntil([&] { return restarts("bad-poststart") >= 1; }, 30s)) << dump();
  auto failed = events("bad-poststart", "FailedPostStartHook");
  ASSERT_FALSE(failed.empty()) << cubelet_->log();
  EXPECT_EQ(failed[0].type, "Warning");
  EXPECT_NE(failed[0].message.find("hook-42"), std::string::npos) << failed[0].message;
  EXPECT_TRUE(waitForEvent("bad-poststart", "Killing", "FailedPostStartHook", 1s))
      << describeEvents(events("bad-poststart", "Killing"));

  ASSERT_TRUE(cubelet_->waitForPhase("bad-prestop", "Running", 60s)) << dump();
  ASSERT_TRUE(cubelet_->waitForPhase("sleepy", "Running", 60s)) << dump();
  auto t0 = Clock::now();
  cubelet_->removeManifest("bad-prestop.yaml");
  cubelet_->removeManifest("sleepy.yaml");
  double sleepyGone = -1, badGone = -1;
  ASSERT_TRUE(waitUntil(
      [&] {
        if (badGone < 0 && sandboxesOf("bad-prestop-it-node").empty()) badGone = secondsSince(t0);
        if (sleepyGone < 0 && sandboxesOf("sleepy-it-node").empty()) sleepyGone = secondsSince(t0);
        return badGone >= 0 && sleepyGone >= 0;
      },
      30s));
  // A failing preStop is reported and the container stopped anyway.
  EXPECT_TRUE(waitForEvent("bad-prestop", "FailedPreStopHook", "", 1s)) << cubelet_->log();
  EXPECT_LT(badGone, 8.0);
  // The sleep runs before the stop signal, and within the grace period.
  EXPECT_GE(sleepyGone, 2.0);
  EXPECT_LT(sleepyGone, 9.0);
}

TEST_F(HealthTest, TerminationMessages) {
  start();
  auto withPolicy = [](const std::string& policy) {
    return json{{"terminationMessagePolicy", policy}};
  };
  run(podOf("msg-file",
            json::array({container("main", "printf 'bye from file' > /dev/termination-log")}),
            "Never"));
  run(podOf("msg-path",
            json::array({container("main", "printf 'custom path' > /tmp/why; exit 1",
                                   {{"terminationMessagePath", "/tmp/why"}})}),
            "Never"));
  run(podOf("msg-big",
            json::array({container(
                "main",
                "{ printf HEAD; for i in $(seq 1 600); do printf 0123456789; done; printf TAIL; } "
                "> /dev/termination-log")}),
            "Never"));
  run(podOf("msg-no-file", json::array({container("main", "echo logged; exit 2")}), "Never"));
  run(podOf("fallback",
            json::array({container("main", "for i in $(seq 1 100); do echo line-$i; done; exit 3",
                                   withPolicy("FallbackToLogsOnError"))}),
            "Never"));
  run(podOf("fallback-ok",
            json::array({container("main", "echo fine", withPolicy("FallbackToLogsOnError"))}),
            "Never"));
  run(podOf(
      "fallback-file",
      json::array({container("main", "echo in-log; printf 'in-file' > /dev/termination-log; exit 1",
                             withPolicy("FallbackToLogsOnError"))}),
      "Never"));
  for (const char* name : {"msg-file", "msg-path", "msg-big", "msg-no-file", "fallback",
                           "fallback-ok", "fallback-file"}) {
    ASSERT_TRUE(cubelet_->waitForPod(
        name,
        [](const std::optional<json>& p) {
          if (!p || !p->contains("status")) return false;
          std::string phase = (*p)["status"].value("phase", "");
          return phase == "Succeeded" || phase == "Failed";
        },
        60s))
        << name << "\n"
        << dump();
  }
  auto message = [&](const std::string& name) {
    json t = statusOf(name)["state"]["terminated"];
    return t.is_object() ? t.value("message", "") : std::string("<not terminated>");
  };
  EXPECT_EQ(message("msg-file"), "bye from file");
  EXPECT_EQ(stateSummary(statusOf("msg-file")), "terminated:Completed:0");
  EXPECT_EQ(message("msg-path"), "custom path");
  EXPECT_EQ(message("msg-no-file"), "") << "policy File never falls back to the log";
  // Capped at 4096 bytes: the end of the file, as the kubelet reads it.
  std::string big = message("msg-big");
  EXPECT_EQ(big.size(), 4096u);
  EXPECT_EQ(big.find("HEAD"), std::string::npos);
  EXPECT_EQ(big.substr(big.size() - 4), "TAIL");
  // The last 80 lines of the log.
  std::string tail = message("fallback");
  EXPECT_EQ(tail.rfind("line-21\n", 0), 0u) << tail;
  EXPECT_NE(tail.find("line-100"), std::string::npos) << tail;
  EXPECT_EQ(tail.find("line-20\n"), std::string::npos) << tail;
  EXPECT_EQ(message("fallback-ok"), "") << "a container that succeeded gets no log fallback";
  EXPECT_EQ(message("fallback-file"), "in-file") << "the file wins over the log";
}

TEST_F(HealthTest, ProbesThatCannotWorkFailCleanly) {
  start();
  // A port name the container does not declare.
  run(podOf("no-port",
            json::array({container("main", kTrap + kIdle,
                                   {{"livenessProbe", probe(httpAction("nope", "/"), 1, 1)}})})));
  // Accepts connections and never answers: the probe times out.
  run(podOf("hangs",
            json::array({container("main", "exec nc -ll -p 8081 -e sleep 1000",
                                   {{"readinessProbe", probe(httpAction(8081, "/"), 1, 1,
                                                             {{"timeoutSeconds", 1}})}})})));
  // Answers with something that is not HTTP.
  run(podOf("garbage",
            json::array({container("main", "exec nc -ll -p 8082 -e echo garbage",
                                   {{"readinessProbe", probe(httpAction(8082, "/"), 1, 1)}})})));
  // The probe's command is not in the image.
  run(podOf("no-command",
            json::array({container("main", kTrap + kIdle,
                                   {{"readinessProbe", probe(execAction({"/no/such/probe"}))}})})));
  // A healthy neighbour is not held up by any of them.
  run(podOf("fine", json::array({container("main", "exec httpd -f -p 8080 -h /",
                                           {{"readinessProbe", probe(tcpAction(8080))}})})));

  for (const char* name : {"no-port", "hangs", "garbage", "no-command", "fine"}) {
    ASSERT_TRUE(cubelet_->waitForPhase(name, "Running", 60s)) << name << "\n" << dump();
  }
  EXPECT_TRUE(waitForEvent("no-port", "Unhealthy", "nope", 15s))
      << describeEvents(loggedEvents(cubelet_->log()));
  for (const auto& e : events("no-port", "Unhealthy")) {
    EXPECT_EQ(e.message.rfind("Liveness probe", 0), 0u) << e.message;
  }
  // A timeout says so (after a first "connection refused" maybe, before nc listens).
  EXPECT_TRUE(waitForEvent("hangs", "Unhealthy", "Readiness probe failed", 15s))
      << describeEvents(loggedEvents(cubelet_->log()));
  EXPECT_TRUE(waitUntil(
      [&] {
        for (const auto& e : events("hangs", "Unhealthy")) {
          if (e.message.find("Client.Timeout") != std::string::npos ||
              e.message.find("deadline exceeded") != std::string::npos ||
              e.message.find("timeout") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      15s))
      << describeEvents(events("hangs", "Unhealthy"));
  EXPECT_TRUE(waitForEvent("garbage", "Unhealthy", "Readiness probe failed", 15s))
      << describeEvents(loggedEvents(cubelet_->log()));
  EXPECT_TRUE(waitForEvent("garbage", "Unhealthy", "malformed HTTP response", 15s))
      << describeEvents(events("garbage", "Unhealthy"));
  EXPECT_TRUE(waitForEvent("no-command", "Unhealthy", "Readiness probe", 15s))
      << describeEvents(loggedEvents(cubelet_->log()));
  EXPECT_TRUE(waitUntil([&] { return ready("fine"); }, 10s)) << dump();

  // Probing goes on: more failures keep being reported, the agent answers, nothing is
  // ready that should not be, and a probe error (no such port) restarts nothing.
  size_t hangsBefore = events("hangs", "Unhealthy").size();
  std::this_thread::sleep_for(4s);
  EXPECT_GT(events("hangs", "Unhealthy").size(), hangsBefore) << "probing stopped";
  EXPECT_TRUE(cubelet_->running());
  EXPECT_FALSE(ready("hangs"));
  EXPECT_FALSE(ready("garbage"));
  EXPECT_FALSE(ready("no-command"));
  EXPECT_TRUE(ready("fine"));
  EXPECT_EQ(restarts("no-port"), 0) << "a probe that errors is not a liveness failure";
}

}  // namespace
}  // namespace cubelet::testing

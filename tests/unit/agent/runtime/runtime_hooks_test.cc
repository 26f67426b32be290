// The runtime manager's lifecycle hooks and termination messages against a real
// gRPC CRI double, with the real hook runner: postStart after StartContainer
// (a failure kills the container: PostStartHookError), preStop before
// StopContainer with its time taken off the grace period, the preStop handler
// kept in an annotation for pods without a spec, and the message of an exited
// container read from its termination-log file or its log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <thread>

#include "agent/api/pod_decode.h"
#include "agent/health/hook_runner.h"
#include "agent/runtime/labels.h"
#include "agent/runtime/runtime_manager.h"
#include "core/sd_event_loop.h"
#include "cri/grpc_runtime_client.h"
#include "tests/fakes/fake_cri_server.h"
#include "tests/support/cubelet_process.h"
#include "tests/support/fake_cri_env.h"

namespace agent::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

MATCHER_P3(Event, warning, reason, message, "") {
  return arg.warning == warning && arg.reason == reason && arg.message == message;
}

::runtime::v1::ExecSyncResponse execResult(int code, const std::string& out,
                                           const std::string& err) {
  ::runtime::v1::ExecSyncResponse r;
  r.set_exit_code(code);
  r.set_stdout(out);
  r.set_stderr(err);
  return r;
}

class RuntimeHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = cubelet::testing::startFakeCri("rt-hooks");
    ASSERT_TRUE(env.ok()) << env.status();
    dir_ = env->dir;
    cri_ = std::move(env->server);
    client_ = std::move(env->client);
    cri_->addImage("busybox:1.35");
    // As in the agent, the loop runs on a thread of its own and the runtime
    // manager's calls come from others.
    loopThread_ = std::make_unique<cubelet::testing::LoopThread>();
    hooks_ = std::make_unique<health::LifecycleHookRunner>(loopThread_->loop(), *client_);
    runtime_ = std::make_unique<RuntimeManager>(*client_, *client_,
                                                cubelet::testing::testRuntimeOptions(dir_));
    runtime_->setHookRunner(hooks_.get());
  }

  void TearDown() override { loopThread_.reset(); }

  std::shared_ptr<const api::Pod> pod(json container, int64_t grace = 30) {
    container["name"] = "c";
    container["image"] = "busybox:1.35";
    json j = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u1"}}},
              {"spec",
               {{"nodeName", "node-1"},
                {"terminationGracePeriodSeconds", grace},
                {"containers", {container}}}}};
    auto p = api::decodePod(j);
    EXPECT_TRUE(p.ok()) << p.status();
    api::applyPodDefaults(*p);
    return std::make_shared<const api::Pod>(std::move(*p));
  }

  static json exec(std::vector<std::string> cmd) { return {{"exec", {{"command", cmd}}}}; }

  // Creates the sandbox and starts the pod's container.
  SyncResult start(const std::shared_ptr<const api::Pod>& p) {
    SyncRequest req;
    req.pod = p;
    req.status.uid = p->metadata.uid;
    req.actions = computePodActions(*p, req.status);
    for (size_t i : req.actions.containersToStart) req.starts.push_back({i, false});
    return runtime_->syncPod(req);
  }

  PodRuntimeStatus status() {
    auto s = runtime_->getPodStatus("u1");
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or(PodRuntimeStatus{});
  }

  // The only container's id.
  std::string containerId() {
    auto ids = cri_->containerIds();
    EXPECT_EQ(ids.size(), 1u);
    return ids.empty() ? "" : ids[0];
  }

  // Position of the first call to `method` in the call log (-1: none).
  int firstCall(const std::string& method) {
    auto log = cri_->callLog();
    auto it = std::find(log.begin(), log.end(), method);
    return it == log.end() ? -1 : static_cast<int>(it - log.begin());
  }

  std::vector<ContainerEvent> eventsOf(const std::vector<PodContainerEvent>& all) {
    std::vector<ContainerEvent> out;
    for (const auto& e : all) {
      EXPECT_EQ(e.container, "c");
      out.push_back(e.event);
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<cubelet::testing::FakeCriServer> cri_;
  std::unique_ptr<cri::GrpcRuntimeClient> client_;
  std::unique_ptr<cubelet::testing::LoopThread> loopThread_;
  std::unique_ptr<health::LifecycleHookRunner> hooks_;
  std::unique_ptr<RuntimeManager> runtime_;
};

TEST_F(RuntimeHooksTest, PostStartExecRunsAfterStart) {
  std::vector<std::string> ran;
  cri_->setExecSyncHandler([&](const ::runtime::v1::ExecSyncRequest& r) {
    ran.assign(r.cmd().begin(), r.cmd().end());
    return execResult(0, "", "");
  });
  SyncResult res = start(pod({{"lifecycle", {{"postStart", exec({"sh", "-c", "echo hi"})}}}}));
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, "") << res.starts[0].message;
  EXPECT_EQ(ran, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_GT(firstCall("ExecSync"), firstCall("StartContainer"));
  EXPECT_EQ(cri_->callCount("StopContainer"), 0);
  ASSERT_TRUE(res.fresh.has_value());
  EXPECT_EQ(res.fresh->containers.at(0).state, ContainerState::kRunning);
}

TEST_F(RuntimeHooksTest, PostStartFailureKillsTheContainer) {
  cri_->setExecSyncHandler(
      [](const ::runtime::v1::ExecSyncRequest&) { return execResult(1, "out\n", "boom"); });
  SyncResult res = start(pod({{"lifecycle", {{"postStart", exec({"sh", "-c", "exit 1"})}}}}, 7));
  ASSERT_EQ(res.starts.size(), 1u);
  const std::string msg =
      "Exec lifecycle hook ([sh -c exit 1]) for Container \"c\" in Pod \"p_ns(u1)\" failed - "
      "error: command 'sh -c exit 1' exited with 1: boom, message: \"out\\nboom\"";
  EXPECT_EQ(res.starts[0].reason, kPostStartHookError);
  EXPECT_EQ(res.starts[0].message, msg);
  const auto& ev = res.starts[0].events;
  ASSERT_GE(ev.size(), 2u);
  EXPECT_THAT(ev[ev.size() - 2], Event(true, "FailedPostStartHook", msg));
  EXPECT_THAT(ev.back(), Event(false, "Killing", "FailedPostStartHook"));
  // Stopped with the pod's grace period; the container has exited.
  std::string id = containerId();
  EXPECT_EQ(cri_->stopCalls(), (std::vector<std::pair<std::string, int64_t>>{{id, 7}}));
  ASSERT_TRUE(res.fresh.has_value());
  EXPECT_EQ(res.fresh->containers.at(0).state, ContainerState::kExited);
}

TEST_F(RuntimeHooksTest, NoHookRunnerSkipsHooks) {
  runtime_->setHookRunner(nullptr);
  SyncResult res = start(pod({{"lifecycle", {{"postStart", exec({"false"})}}}}));
  ASSERT_EQ(res.starts.size(), 1u);
  EXPECT_EQ(res.starts[0].reason, "");
  EXPECT_EQ(cri_->callCount("ExecSync"), 0);
}

TEST_F(RuntimeHooksTest, PreStopRunsBeforeStopAndTakesItsTimeOffTheGrace) {
  auto p = pod({{"lifecycle", {{"preStop", exec({"sh", "-c", "sleep 1"})}}}});
  ASSERT_EQ(start(p).starts.at(0).reason, "");
  int64_t hookTimeout = -1;
  cri_->setExecSyncHandler([&](const ::runtime::v1::ExecSyncRequest& r) {
    hookTimeout = r.timeout();
    std::this_thread::sleep_for(1100ms);
    return execResult(0, "", "");
  });
  std::string id = containerId();
  SyncRequest req;
  req.pod = p;
  req.status = status();
  req.actions.sandboxId = req.status.sandboxes.at(0).id;
  req.actions.containersToKill.push_back(
      {id, "c", "Container c failed liveness probe, will be restarted", 5});
  SyncResult res = runtime_->syncPod(req);
  EXPECT_THAT(eventsOf(res.events),
              ::testing::ElementsAre(
                  Event(false, "Killing", "Container c failed liveness probe, will be restarted")));
  int exec = firstCall("ExecSync");
  ASSERT_GE(exec, 0);
  EXPECT_LT(exec, firstCall("StopContainer"));
  EXPECT_EQ(hookTimeout, 5);  // the hook may take the whole grace period
  // The probe's grace (5 s), less the hook's whole second.
  EXPECT_EQ(cri_->stopCalls(), (std::vector<std::pair<std::string, int64_t>>{{id, 4}}));
}

TEST_F(RuntimeHooksTest, PreStopFailureIsAnEventAndTheStopGoesOn) {
  auto p = pod({{"lifecycle", {{"preStop", exec({"/bin/drain"})}}}});
  ASSERT_EQ(start(p).starts.at(0).reason, "");
  cri_->setExecSyncHandler(
      [](const ::runtime::v1::ExecSyncRequest&) { return execResult(2, "", "no drain"); });
  KillRequest req;
  req.pod = p;
  req.status = status();
  req.gracePeriodSeconds = 30;
  KillResult res = runtime_->killPod(req);
  EXPECT_TRUE(res.status.ok()) << res.status;
  EXPECT_THAT(eventsOf(res.events),
              ::testing::ElementsAre(
                  Event(false, "Killing", "Stopping container c"),
                  Event(true, "FailedPreStopHook",
                        "Exec lifecycle hook ([/bin/drain]) for Container \"c\" in Pod "
                        "\"p_ns(u1)\" failed - error: command '/bin/drain' exited with 2: no "
                        "drain, message: \"no drain\"")));
  EXPECT_EQ(cri_->stopCalls(), (std::vector<std::pair<std::string, int64_t>>{{containerId(), 30}}));
  EXPECT_EQ(status().containers.at(0).state, ContainerState::kExited);
}

TEST_F(RuntimeHooksTest, NoPreStopWithoutGraceAndAtLeastTwoSeconds) {
  auto p = pod({{"lifecycle", {{"preStop", exec({"/bin/drain"})}}}}, 0);
  ASSERT_EQ(start(p).starts.at(0).reason, "");
  KillRequest req;
  req.pod = p;
  req.status = status();
  req.gracePeriodSeconds = 0;
  EXPECT_TRUE(runtime_->killPod(req).status.ok());
  EXPECT_EQ(cri_->callCount("ExecSync"), 0);
  EXPECT_EQ(cri_->stopCalls(), (std::vector<std::pair<std::string, int64_t>>{{containerId(), 2}}));
}

TEST_F(RuntimeHooksTest, PreStopHandlerAnnotationServesPodsWithoutSpec) {
  auto p = pod({{"lifecycle", {{"preStop", exec({"sh", "-c", "echo bye"})}}}});
  ASSERT_EQ(start(p).starts.at(0).reason, "");
  auto config = cri_->containerConfig(containerId());
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->annotations().at(kContainerPreStopHandlerAnnotation),
            R"({"exec":{"command":["sh","-c","echo bye"]}})");

  std::vector<std::string> ran;
  cri_->setExecSyncHandler([&](const ::runtime::v1::ExecSyncRequest& r) {
    ran.assign(r.cmd().begin(), r.cmd().end());
    return execResult(0, "", "");
  });
  KillRequest req;  // no pod: everything comes from the runtime
  req.status = status();
  req.gracePeriodSeconds = *req.status.containers.at(0).gracePeriodSeconds;
  req.remove = true;
  KillResult res = runtime_->killPod(req);
  EXPECT_TRUE(res.status.ok()) << res.status;
  EXPECT_EQ(ran, (std::vector<std::string>{"sh", "-c", "echo bye"}));
  EXPECT_THAT(eventsOf(res.events),
              ::testing::ElementsAre(Event(false, "Killing", "Stopping container c")));
  EXPECT_TRUE(cri_->containerIds().empty());
}

TEST_F(RuntimeHooksTest, TerminationMessageFromTheFile) {
  mode_t umask = ::umask(022);  // the usual umask, which open(2) alone would apply
  SyncResult res = start(pod(json::object()));
  ::umask(umask);
  ASSERT_EQ(res.starts.at(0).reason, "");
  std::string id = containerId();
  auto config = cri_->containerConfig(id);
  ASSERT_TRUE(config.has_value());
  // The managed /etc/hosts, then the termination log (the kubelet's order).
  ASSERT_EQ(config->mounts_size(), 2);
  EXPECT_EQ(config->mounts(0).container_path(), "/etc/hosts");
  EXPECT_EQ(config->mounts(1).container_path(), "/dev/termination-log");
  const std::string hostPath = config->mounts(1).host_path();
  // World-writable whatever the umask, for non-root containers.
  struct stat st {};
  ASSERT_EQ(::stat(hostPath.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);

  std::ofstream(hostPath) << "bye from the app";
  cri_->exitContainer(id, 3, "Error");
  PodRuntimeStatus s = status();
  EXPECT_EQ(s.containers.at(0).exitCode, 3);
  EXPECT_EQ(s.containers.at(0).message, "bye from the app");
}

TEST_F(RuntimeHooksTest, TerminationMessageFromTheLogOnError) {
  SyncResult res = start(pod({{"terminationMessagePolicy", "FallbackToLogsOnError"}}));
  ASSERT_EQ(res.starts.at(0).reason, "");
  std::string id = containerId();
  auto sandbox = cri_->sandboxConfig(cri_->sandboxIds().at(0));
  auto config = cri_->containerConfig(id);
  ASSERT_TRUE(sandbox.has_value() && config.has_value());
  std::string logPath = sandbox->log_directory() + "/" + config->log_path();
  ASSERT_EQ(::mkdir((sandbox->log_directory() + "/c").c_str(), 0755), 0);
  std::ofstream(logPath) << "2024-05-06T07:08:09.1Z stdout F starting\n"
                            "2024-05-06T07:08:09.2Z stderr P fatal: \n"
                            "2024-05-06T07:08:09.3Z stderr F no config\n";
  cri_->exitContainer(id, 1, "Error");
  EXPECT_EQ(status().containers.at(0).message, "starting\nfatal: no config\n");
}

}  // namespace
}  // namespace agent::runtime

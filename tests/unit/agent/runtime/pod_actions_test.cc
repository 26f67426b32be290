#include "agent/runtime/pod_actions.h"

#include "agent/api/pod_decode.h"

#include <gtest/gtest.h>

namespace agent::runtime {
namespace {

api::Container ctr(const std::string& name) {
  api::Container c;
  c.name = name;
  c.image = "busybox:1.35";
  c.specHash = "hash-" + name;
  return c;
}

api::Pod makePod(std::vector<std::string> apps, std::vector<std::string> inits = {},
                 std::string policy = "Always") {
  api::Pod p;
  p.metadata.name = "p";
  p.metadata.namespace_ = "default";
  p.metadata.uid = "uid-1";
  p.spec.restartPolicy = policy;
  for (auto& n : apps) p.spec.containers.push_back(ctr(n));
  for (auto& n : inits) p.spec.initContainers.push_back(ctr(n));
  return p;
}

SandboxRuntimeStatus readySandbox(uint32_t attempt = 0) {
  SandboxRuntimeStatus s;
  s.id = "sb" + std::to_string(attempt);
  s.state = SandboxState::kReady;
  s.attempt = attempt;
  s.ip = "10.88.0.5";
  return s;
}

ContainerRuntimeStatus cstat(const api::Container& spec, ContainerState st, int exitCode = 0,
                             int64_t created = 1) {
  ContainerRuntimeStatus c;
  c.id = spec.name + std::to_string(created);
  c.name = spec.name;
  c.state = st;
  c.exitCode = exitCode;
  c.hash = containerHash(spec);
  c.createdAtNs = created;
  return c;
}

TEST(PodActionsTest, NewPodCreatesSandboxAndStartsAllContainers) {
  auto pod = makePod({"a", "b"});
  PodRuntimeStatus st;
  auto a = computePodActions(pod, st);
  EXPECT_TRUE(a.createSandbox);
  EXPECT_TRUE(a.killPod);
  EXPECT_EQ(a.attempt, 0u);
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(a.initContainersToStart.empty());
}

TEST(PodActionsTest, NewPodWithInitContainersStartsFirstInitOnly) {
  auto pod = makePod({"app"}, {"init1", "init2"});
  auto a = computePodActions(pod, PodRuntimeStatus{});
  EXPECT_TRUE(a.createSandbox);
  ASSERT_FALSE(a.initContainersToStart.empty());
  EXPECT_EQ(a.initContainersToStart.back(), 0u);
  EXPECT_TRUE(a.containersToStart.empty());
}

TEST(PodActionsTest, RunningPodNeedsNothing) {
  auto pod = makePod({"a"});
  PodRuntimeStatus st;
  st.sandboxes.push_back(readySandbox());
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kRunning));
  EXPECT_TRUE(computePodActions(pod, st).empty());
}

TEST(PodActionsTest, InitContainersRunInOrder) {
  auto pod = makePod({"app"}, {"i1", "i2"});
  PodRuntimeStatus st;
  st.sandboxes.push_back(readySandbox());
  st.containers.push_back(cstat(pod.spec.initContainers[0], ContainerState::kRunning));
  auto a = computePodActions(pod, st);
  EXPECT_TRUE(a.empty()) << "i1 still running";

  st.containers[0] = cstat(pod.spec.initContainers[0], ContainerState::kExited, 0);
  a = computePodActions(pod, st);
  ASSERT_FALSE(a.initContainersToStart.empty());
  EXPECT_EQ(a.initContainersToStart.back(), 1u);

  st.containers.insert(st.containers.begin(),
                       cstat(pod.spec.initContainers[1], ContainerState::kExited, 0, 2));
  a = computePodActions(pod, st);
  EXPECT_TRUE(a.initContainersToStart.empty());
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{0}));
}

TEST(PodActionsTest, FailedInitContainerRestartsUnlessNever) {
  for (std::string policy : {"Always", "OnFailure", "Never"}) {
    auto pod = makePod({"app"}, {"i1"}, policy);
    PodRuntimeStatus st;
    st.sandboxes.push_back(readySandbox());
    st.containers.push_back(cstat(pod.spec.initContainers[0], ContainerState::kExited, 1));
    auto a = computePodActions(pod, st);
    if (policy == "Never") {
      EXPECT_TRUE(a.killPod) << policy;
      EXPECT_TRUE(a.initContainersToStart.empty()) << policy;
    } else {
      ASSERT_FALSE(a.initContainersToStart.empty()) << policy;
      EXPECT_EQ(a.initContainersToStart.back(), 0u);
    }
  }
}

TEST(PodActionsTest, RestartPolicyDecidesExitedContainers) {
  struct Case {
    std::string policy;
    int exitCode;
    bool restart;
  } cases[] = {{"Always", 0, true},    {"Always", 1, true}, {"OnFailure", 0, false},
               {"OnFailure", 1, true}, {"Never", 0, false}, {"Never", 1, false}};
  for (const auto& c : cases) {
    auto pod = makePod({"a", "keep"}, {}, c.policy);
    PodRuntimeStatus st;
    st.sandboxes.push_back(readySandbox());
    st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kExited, c.exitCode));
    st.containers.push_back(cstat(pod.spec.containers[1], ContainerState::kRunning));
    auto a = computePodActions(pod, st);
    EXPECT_EQ(!a.containersToStart.empty(), c.restart) << c.policy << " exit " << c.exitCode;
    EXPECT_FALSE(a.killPod);
  }
}

TEST(PodActionsTest, AllDoneUnderNeverKillsPodWithoutRestarting) {
  auto pod = makePod({"a"}, {}, "Never");
  PodRuntimeStatus st;
  st.sandboxes.push_back(readySandbox());
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kExited, 0));
  auto a = computePodActions(pod, st);
  EXPECT_TRUE(a.killPod);
  EXPECT_FALSE(a.createSandbox);
  EXPECT_TRUE(a.containersToStart.empty());
}

TEST(PodActionsTest, DeadSandboxIsRecreatedWithNextAttempt) {
  auto pod = makePod({"a"});
  PodRuntimeStatus st;
  auto sb = readySandbox(2);
  sb.state = SandboxState::kNotReady;
  st.sandboxes.push_back(sb);
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kExited, 137));
  auto a = computePodActions(pod, st);
  EXPECT_TRUE(a.createSandbox);
  EXPECT_EQ(a.attempt, 3u);
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{0}));
}

TEST(PodActionsTest, DeadSandboxOfFinishedNeverPodIsNotRecreated) {
  auto pod = makePod({"a"}, {}, "Never");
  PodRuntimeStatus st;
  auto sb = readySandbox(0);
  sb.state = SandboxState::kNotReady;
  st.sandboxes.push_back(sb);
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kExited, 0));
  auto a = computePodActions(pod, st);
  EXPECT_FALSE(a.createSandbox);
}

TEST(PodActionsTest, OnFailureSkipsSucceededContainersWhenRecreatingSandbox) {
  auto pod = makePod({"done", "failed"}, {}, "OnFailure");
  PodRuntimeStatus st;
  auto sb = readySandbox(0);
  sb.state = SandboxState::kNotReady;
  st.sandboxes.push_back(sb);
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kExited, 0));
  st.containers.push_back(cstat(pod.spec.containers[1], ContainerState::kExited, 2));
  auto a = computePodActions(pod, st);
  EXPECT_TRUE(a.createSandbox);
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{1}));
}

TEST(PodActionsTest, ChangedSpecRestartsRunningContainer) {
  auto pod = makePod({"a"}, {}, "Never");
  PodRuntimeStatus st;
  st.sandboxes.push_back(readySandbox());
  auto running = cstat(pod.spec.containers[0], ContainerState::kRunning);
  running.hash = "stale";
  st.containers.push_back(running);
  auto a = computePodActions(pod, st);
  ASSERT_EQ(a.containersToKill.size(), 1u);
  EXPECT_EQ(a.containersToKill[0].id, running.id);
  EXPECT_EQ(a.containersToStart, (std::vector<size_t>{0}));
}

TEST(PodActionsTest, HostNetworkChangeRecreatesSandbox) {
  auto pod = makePod({"a"});
  pod.spec.hostNetwork = true;
  PodRuntimeStatus st;
  st.sandboxes.push_back(readySandbox());
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kRunning));
  EXPECT_TRUE(computePodActions(pod, st).createSandbox);
}

TEST(PodActionsTest, DeletedPodDoesNotRestartContainers) {
  auto pod = makePod({"a"});
  pod.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  PodRuntimeStatus st;
  st.sandboxes.push_back(readySandbox());
  st.containers.push_back(cstat(pod.spec.containers[0], ContainerState::kExited, 1));
  EXPECT_FALSE(shouldContainerBeRestarted(pod.spec.containers[0], pod, st));
}

TEST(PodActionsTest, ContainerHashChangesWithSpec) {
  auto hashOf = [](const char* container) {
    auto j = nlohmann::json::parse(std::string(R"({"apiVersion":"v1","kind":"Pod",
        "metadata":{"name":"p"},"spec":{"containers":[)") +
                                   container + "]}}");
    auto pod = api::decodePod(j);
    EXPECT_TRUE(pod.ok()) << pod.status();
    return containerHash(pod->spec.containers[0]);
  };
  std::string a = hashOf(R"({"name":"a","image":"busybox:1.35"})");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, hashOf(R"({"image":"busybox:1.35","name":"a"})")) << "key order is irrelevant";
  EXPECT_NE(a, hashOf(R"({"name":"a","image":"busybox:1.36"})"));
  EXPECT_NE(a, hashOf(R"({"name":"a","image":"busybox:1.35","command":["sleep","1"]})"));
}

}  // namespace
}  // namespace agent::runtime

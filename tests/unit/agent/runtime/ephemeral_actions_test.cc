// Ephemeral containers in computePodActions (started once, into a kept sandbox, never
// restarted or killed for a spec change) and the CRI pid namespace of one that targets
// a container (applyEphemeralTarget).
#include <gtest/gtest.h>

#include "agent/runtime/ephemeral_containers.h"
#include "agent/runtime/pod_actions.h"

namespace agent::runtime {
namespace {

api::Container ctr(const std::string& name) {
  api::Container c;
  c.name = name;
  c.image = "busybox:1.36";
  c.specHash = "hash-" + name;
  return c;
}

// A running pod (app container "app") with one ephemeral container "dbg".
struct Running {
  api::Pod pod;
  PodRuntimeStatus status;
  Running() {
    pod.metadata.name = "p";
    pod.metadata.namespace_ = "default";
    pod.metadata.uid = "uid-1";
    pod.spec.restartPolicy = "Always";
    pod.spec.containers.push_back(ctr("app"));
    api::Container dbg = ctr("dbg");
    dbg.targetContainerName = "app";
    pod.spec.ephemeralContainers.push_back(dbg);
    SandboxRuntimeStatus sb;
    sb.id = "sb0";
    sb.state = SandboxState::kReady;
    sb.ip = "10.88.0.5";
    status.sandboxes.push_back(sb);
    status.containers.push_back(cstat("app", ContainerState::kRunning));
  }
  static ContainerRuntimeStatus cstat(const std::string& name, ContainerState st,
                                      int exitCode = 0) {
    ContainerRuntimeStatus c;
    c.id = name + "-id";
    c.name = name;
    c.state = st;
    c.exitCode = exitCode;
    c.hash = "hash-" + name;
    c.createdAtNs = 1;
    return c;
  }
};

TEST(EphemeralActionsTest, StartsOnceWhenItHasNoStatus) {
  Running r;
  PodActions a = computePodActions(r.pod, r.status);
  EXPECT_EQ(a.ephemeralContainersToStart, (std::vector<size_t>{0}));
  EXPECT_TRUE(a.containersToStart.empty());
  EXPECT_TRUE(a.containersToKill.empty());
  EXPECT_FALSE(a.killPod);
  EXPECT_FALSE(a.empty());

  // Running: nothing to do.
  r.status.containers.push_back(Running::cstat("dbg", ContainerState::kRunning));
  a = computePodActions(r.pod, r.status);
  EXPECT_TRUE(a.empty());
}

TEST(EphemeralActionsTest, NotRestartedAfterExitWhateverThePolicy) {
  for (const char* policy : {"Always", "OnFailure", "Never"}) {
    Running r;
    r.pod.spec.restartPolicy = policy;
    r.status.containers.push_back(Running::cstat("dbg", ContainerState::kExited, 1));
    PodActions a = computePodActions(r.pod, r.status);
    EXPECT_TRUE(a.empty()) << policy;
    // Created but never started, or unknown: it has a status, so it is not started again.
    r.status.containers.back().state = ContainerState::kUnknown;
    EXPECT_TRUE(computePodActions(r.pod, r.status).ephemeralContainersToStart.empty()) << policy;
  }
}

TEST(EphemeralActionsTest, NotKilledForASpecChange) {
  Running r;
  r.status.containers.push_back(Running::cstat("dbg", ContainerState::kRunning));
  r.status.containers.back().hash = "something-else";
  PodActions a = computePodActions(r.pod, r.status);
  EXPECT_TRUE(a.empty());
}

TEST(EphemeralActionsTest, NotStartedWhenThePodIsKilledOrDeleted) {
  {
    // A sandbox to replace: everything is killed, nothing ephemeral starts.
    Running r;
    r.status.sandboxes[0].state = SandboxState::kNotReady;
    PodActions a = computePodActions(r.pod, r.status);
    EXPECT_TRUE(a.killPod);
    EXPECT_TRUE(a.ephemeralContainersToStart.empty());
  }
  {
    // Every app container done under Never: the pod is killed.
    Running r;
    r.pod.spec.restartPolicy = "Never";
    r.status.containers[0] = Running::cstat("app", ContainerState::kExited, 0);
    PodActions a = computePodActions(r.pod, r.status);
    EXPECT_TRUE(a.killPod);
    EXPECT_TRUE(a.ephemeralContainersToStart.empty());
  }
  {
    Running r;
    r.pod.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
    EXPECT_TRUE(computePodActions(r.pod, r.status).ephemeralContainersToStart.empty());
  }
}

TEST(EphemeralActionsTest, StartsWhileInitContainersRun) {
  Running r;
  r.pod.spec.initContainers.push_back(ctr("init"));
  r.status.containers = {Running::cstat("init", ContainerState::kRunning)};
  PodActions a = computePodActions(r.pod, r.status);
  EXPECT_EQ(a.ephemeralContainersToStart, (std::vector<size_t>{0}));
  EXPECT_TRUE(a.containersToStart.empty());
}

TEST(EphemeralTargetTest, SharesTheTargetsPidNamespace) {
  Running r;
  ::runtime::v1::ContainerConfig config;
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      ::runtime::v1::CONTAINER);
  const api::Container& dbg = r.pod.spec.ephemeralContainers[0];
  ASSERT_TRUE(applyEphemeralTarget(r.pod, dbg, r.status, &config).ok());
  const auto& ns = config.linux().security_context().namespace_options();
  EXPECT_EQ(ns.pid(), ::runtime::v1::TARGET);
  EXPECT_EQ(ns.target_id(), "app-id");
}

TEST(EphemeralTargetTest, PodSharedPidNamespaceIsKept) {
  Running r;
  ::runtime::v1::ContainerConfig config;
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      ::runtime::v1::POD);
  ASSERT_TRUE(
      applyEphemeralTarget(r.pod, r.pod.spec.ephemeralContainers[0], r.status, &config).ok());
  EXPECT_EQ(config.linux().security_context().namespace_options().pid(), ::runtime::v1::POD);
  EXPECT_TRUE(config.linux().security_context().namespace_options().target_id().empty());
}

TEST(EphemeralTargetTest, MissingTargetIsAnErrorAndOthersAreUntouched) {
  Running r;
  r.status.containers.clear();
  ::runtime::v1::ContainerConfig config;
  absl::Status s =
      applyEphemeralTarget(r.pod, r.pod.spec.ephemeralContainers[0], r.status, &config);
  EXPECT_EQ(s.message(), "unable to find target container app");
  // A regular container with the field (decoded, not upstream's) is not an ephemeral one.
  r.pod.spec.containers[0].targetContainerName = "app";
  EXPECT_TRUE(applyEphemeralTarget(r.pod, r.pod.spec.containers[0], r.status, &config).ok());
  EXPECT_FALSE(config.has_linux());
}

}  // namespace
}  // namespace agent::runtime

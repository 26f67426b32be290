// Ephemeral containers in a pod the agent receives: decoded with their target, given
// the container defaults, and validated as upstream's validateEphemeralContainers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/api/pod_decode.h"
#include "core/yaml_json.h"

namespace agent::api {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Pod> load(const std::string& ephemeral) {
  std::string text = R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: init, image: busybox}]
  containers: [{name: app, image: "busybox:1.36"}]
  volumes: [{name: v, emptyDir: {}}]
  ephemeralContainers:
)" + ephemeral;
  auto j = core::parseYamlOrJson(text, "pod.yaml");
  if (!j.ok()) return j.status();
  auto pod = decodePod(*j);
  if (!pod.ok()) return pod.status();
  applyPodDefaults(*pod);
  absl::Status s = validatePod(*pod);
  if (!s.ok()) return s;
  return pod;
}

TEST(EphemeralContainersDecodeTest, DecodedAndDefaulted) {
  auto pod = load("  - {name: dbg, image: \"busybox:1.36\", targetContainerName: app}\n");
  ASSERT_TRUE(pod.ok()) << pod.status();
  ASSERT_EQ(pod->spec.ephemeralContainers.size(), 1u);
  const Container& c = pod->spec.ephemeralContainers[0];
  EXPECT_EQ(c.targetContainerName, "app");
  EXPECT_EQ(c.terminationMessagePath, "/dev/termination-log");
  EXPECT_EQ(c.terminationMessagePolicy, "File");
  EXPECT_EQ(c.imagePullPolicy, "IfNotPresent");
  // An init container is a valid target too.
  EXPECT_TRUE(load("  - {name: dbg, image: busybox, targetContainerName: init}\n").ok());
}

TEST(EphemeralContainersDecodeTest, RejectsWhatUpstreamRejects) {
  struct Case {
    std::string yaml, want;
  };
  const std::string kNo = ": Forbidden: cannot be set for an Ephemeral Container";
  std::vector<Case> cases = {
      {"  - {name: app, image: busybox}\n",
       "spec.ephemeralContainers[0].name: Duplicate value: \"app\""},
      {"  - {name: dbg, image: busybox}\n  - {name: dbg, image: busybox}\n",
       "spec.ephemeralContainers[1].name: Duplicate value: \"dbg\""},
      {"  - {name: dbg}\n", "spec.ephemeralContainers[0].image: Required value"},
      {"  - {name: dbg, image: busybox, targetContainerName: nope}\n",
       "spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\""},
      {"  - {name: dbg, image: busybox, ports: [{containerPort: 80}]}\n",
       "spec.ephemeralContainers[0].ports" + kNo},
      {"  - {name: dbg, image: busybox, resources: {limits: {cpu: 1}}}\n",
       "spec.ephemeralContainers[0].resources" + kNo},
      {"  - {name: dbg, image: busybox, readinessProbe: {exec: {command: [x]}}}\n",
       "spec.ephemeralContainers[0].readinessProbe" + kNo},
      {"  - {name: dbg, image: busybox, lifecycle: {preStop: {exec: {command: [x]}}}}\n",
       "spec.ephemeralContainers[0].lifecycle" + kNo},
      {"  - {name: dbg, image: busybox, restartPolicy: Always}\n",
       "spec.ephemeralContainers[0].restartPolicy" + kNo},
      {"  - {name: dbg, image: busybox, volumeMounts: [{name: v, mountPath: /v, subPath: s}]}\n",
       "spec.ephemeralContainers[0].volumeMounts[0].subPath" + kNo},
  };
  for (const auto& c : cases) {
    auto pod = load(c.yaml);
    ASSERT_FALSE(pod.ok()) << c.yaml;
    EXPECT_THAT(std::string(pod.status().message()), HasSubstr(c.want)) << c.yaml;
  }
}

}  // namespace
}  // namespace agent::api

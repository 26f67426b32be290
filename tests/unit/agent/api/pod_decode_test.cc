// Pods from YAML and JSON: decoding, the API server's defaults, validation, and the
// errors each kind of bad input gets.
#include "agent/api/pod_decode.h"

#include <gtest/gtest.h>

#include "core/status.h"
#include "core/yaml_json.h"

namespace agent::api {
namespace {

// The whole pipeline a manifest goes through.
absl::StatusOr<Pod> load(const std::string& text) {
  auto j = core::parseYamlOrJson(text, "pod.yaml");
  if (!j.ok()) return j.status();
  auto pod = decodePod(*j);
  if (!pod.ok()) return pod.status();
  applyPodDefaults(*pod);
  absl::Status s = validatePod(*pod);
  if (!s.ok()) return s;
  return pod;
}

constexpr char kFullYaml[] = R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: prod
  uid: 1234-abcd
  resourceVersion: "42"
  generation: 3
  creationTimestamp: "2024-01-02T03:04:05Z"
  deletionTimestamp: "2024-01-02T04:00:00Z"
  deletionGracePeriodSeconds: 15
  labels: {app: web}
  annotations: {note: "x"}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-rs, uid: u1, controller: true}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  activeDeadlineSeconds: 100
  hostNetwork: true
  dnsPolicy: None
  dnsConfig:
    nameservers: [1.1.1.1]
    searches: [a.local]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  hostAliases: [{ip: 10.0.0.1, hostnames: [db]}]
  securityContext: {runAsUser: 1000, fsGroup: 2000, supplementalGroups: [5, 6],
                    sysctls: [{name: net.core.somaxconn, value: "1024"}]}
  enableServiceLinks: false
  priority: 7
  runtimeClassName: runc
  readinessGates: [{conditionType: example.com/ready}]
  volumes:
  - name: data
    emptyDir: {medium: Memory, sizeLimit: 64Mi}
  - name: host
    hostPath: {path: /var/log, type: Directory}
  - name: cfg
    configMap: {name: app-config, items: [{key: a, path: a.txt, mode: 0400}], optional: true}
  - name: sec
    secret: {secretName: app-secret, defaultMode: 0600}
  - name: nfs
    nfs: {server: x, path: /}
  - name: proj
    projected:
      sources:
      - serviceAccountToken: {path: token}
      - secret: {name: s1}
  initContainers:
  - name: init
    image: busybox:1.36
    command: [sh, -c, "true"]
  containers:
  - name: app
    image: registry.local/app@sha256:0000000000000000000000000000000000000000000000000000000000000000
    args: ["--port", "8080"]
    workingDir: /srv
    ports:
    - {name: http, containerPort: 8080, protocol: UDP}
    env:
    - {name: MODE, value: prod}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: CPU
      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
    - name: KEY
      valueFrom: {secretKeyRef: {name: s, key: k, optional: false}}
    envFrom:
    - {prefix: CFG_, configMapRef: {name: app-config}}
    resources:
      limits: {cpu: "2", memory: 1Gi}
      requests: {cpu: 500m}
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true, subPath: sub, mountPropagation: HostToContainer}
    livenessProbe:
      httpGet: {path: /healthz, port: http, httpHeaders: [{name: X, value: "y"}]}
      periodSeconds: 5
    readinessProbe:
      tcpSocket: {port: 8080}
    startupProbe:
      exec: {command: [cat, /ready]}
      failureThreshold: 30
    lifecycle:
      preStop: {sleep: {seconds: 3}}
      postStart: {exec: {command: [touch, /started]}}
    securityContext:
      privileged: false
      runAsNonRoot: true
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
    imagePullPolicy: Never
    terminationMessagePolicy: FallbackToLogsOnError
    stdin: true
    tty: true
)";

TEST(PodDecodeTest, DecodesEveryModelledField) {
  auto pod = load(kFullYaml);
  ASSERT_TRUE(pod.ok()) << pod.status();
  const ObjectMeta& m = pod->metadata;
  EXPECT_EQ(m.name, "web");
  EXPECT_EQ(m.namespace_, "prod");
  EXPECT_EQ(m.uid, "1234-abcd");
  EXPECT_EQ(m.resourceVersion, "42");
  EXPECT_EQ(m.generation, 3);
  EXPECT_EQ(m.creationTimestamp, "2024-01-02T03:04:05Z");
  EXPECT_EQ(m.deletionTimestamp, "2024-01-02T04:00:00Z");
  EXPECT_EQ(m.deletionGracePeriodSeconds, 15);
  EXPECT_EQ(m.labels.at("app"), "web");
  ASSERT_EQ(m.ownerReferences.size(), 1u);
  EXPECT_EQ(m.ownerReferences[0].kind, "ReplicaSet");
  EXPECT_EQ(m.ownerReferences[0].controller, true);

  const PodSpec& s = pod->spec;
  EXPECT_EQ(s.restartPolicy, "OnFailure");
  EXPECT_EQ(s.terminationGracePeriodSeconds, 5);
  EXPECT_EQ(s.activeDeadlineSeconds, 100);
  EXPECT_TRUE(s.hostNetwork);
  ASSERT_TRUE(s.dnsConfig.has_value());
  EXPECT_EQ(s.dnsConfig->options[0].value, "2");
  EXPECT_FALSE(s.dnsConfig->options[1].value.has_value());
  EXPECT_EQ(s.hostAliases[0].hostnames[0], "db");
  EXPECT_EQ(s.securityContext->fsGroup, 2000);
  EXPECT_EQ(s.securityContext->supplementalGroups, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(s.securityContext->sysctls[0].value, "1024");
  EXPECT_EQ(s.enableServiceLinks, false);
  EXPECT_EQ(s.priority, 7);
  EXPECT_EQ(s.runtimeClassName, "runc");
  EXPECT_EQ(s.readinessGates[0].conditionType, "example.com/ready");

  ASSERT_EQ(s.volumes.size(), 6u);
  EXPECT_EQ(s.volumes[0].emptyDir->medium, "Memory");
  EXPECT_EQ(s.volumes[0].emptyDir->sizeLimit->value(), 64 << 20);
  EXPECT_EQ(s.volumes[1].hostPath->type, "Directory");
  EXPECT_EQ(s.volumes[2].configMap->name, "app-config");
  EXPECT_EQ(s.volumes[2].configMap->items[0].mode, 0400);
  EXPECT_EQ(s.volumes[2].configMap->defaultMode, 0644);  // Defaulted.
  EXPECT_EQ(s.volumes[3].secret->name, "app-secret");
  EXPECT_EQ(s.volumes[3].secret->defaultMode, 0600);
  EXPECT_EQ(s.volumes[4].otherSources, std::vector<std::string>{"nfs"});
  EXPECT_EQ(s.volumes[5].projected->sources[0].serviceAccountToken->expirationSeconds, 3600);
  EXPECT_EQ(s.volumes[5].projected->sources[1].secret->name, "s1");

  ASSERT_EQ(s.initContainers.size(), 1u);
  EXPECT_EQ(s.initContainers[0].imagePullPolicy, "IfNotPresent");
  ASSERT_EQ(s.containers.size(), 1u);
  const Container& c = s.containers[0];
  EXPECT_EQ(c.args, (std::vector<std::string>{"--port", "8080"}));
  EXPECT_EQ(c.workingDir, "/srv");
  EXPECT_EQ(c.ports[0].protocol, "UDP");
  EXPECT_EQ(c.ports[0].hostPort, 8080);  // hostNetwork copies containerPort.
  EXPECT_EQ(c.env[0].value, "prod");
  EXPECT_EQ(c.env[1].valueFrom->fieldRef->fieldPath, "metadata.name");
  EXPECT_EQ(c.env[1].valueFrom->fieldRef->apiVersion, "v1");
  EXPECT_EQ(c.env[2].valueFrom->resourceFieldRef->divisor->milliValue(), 1);
  EXPECT_EQ(c.env[3].valueFrom->secretKeyRef->optional, false);
  EXPECT_EQ(c.envFrom[0].prefix, "CFG_");
  EXPECT_EQ(c.envFrom[0].configMapRef->name, "app-config");
  EXPECT_EQ(c.resources.limits.at("cpu").milliValue(), 2000);
  EXPECT_EQ(c.resources.requests.at("cpu").milliValue(), 500);
  EXPECT_EQ(c.resources.requests.at("memory").value(), 1 << 30);  // From the limit.
  EXPECT_EQ(c.volumeMounts[0].mountPropagation, "HostToContainer");
  EXPECT_TRUE(c.volumeMounts[0].readOnly);
  const Probe& live = *c.livenessProbe;
  EXPECT_TRUE(live.handler.httpGet->port.isString);
  EXPECT_EQ(live.handler.httpGet->port.strValue, "http");
  EXPECT_EQ(live.handler.httpGet->scheme, "HTTP");
  EXPECT_EQ(live.periodSeconds, 5);
  EXPECT_EQ(live.timeoutSeconds, 1);
  EXPECT_EQ(live.failureThreshold, 3);
  EXPECT_EQ(c.readinessProbe->handler.tcpSocket->port.intValue, 8080);
  EXPECT_EQ(c.startupProbe->handler.exec->command[1], "/ready");
  EXPECT_EQ(c.startupProbe->failureThreshold, 30);
  EXPECT_EQ(c.lifecycle->preStop->sleep->seconds, 3);
  EXPECT_EQ(c.securityContext->capabilities->drop[0], "ALL");
  EXPECT_EQ(c.securityContext->runAsNonRoot, true);
  EXPECT_EQ(c.imagePullPolicy, "Never");
  EXPECT_EQ(c.terminationMessagePolicy, "FallbackToLogsOnError");
  EXPECT_EQ(c.terminationMessagePath, "/dev/termination-log");
  EXPECT_TRUE(c.stdin && c.tty && !c.stdinOnce);
}

constexpr char kMinimalJson[] = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "mini"},
  "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]},
                          {"name": "d", "image": "busybox:latest"},
                          {"name": "e", "image": "localhost:5000/busybox"},
                          {"name": "f", "image": "busybox:1.36"}],
           "volumes": [{"name": "scratch"}]}
})";

TEST(PodDecodeTest, MinimalJsonGetsApiServerDefaults) {
  auto pod = load(kMinimalJson);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->metadata.namespace_, "default");
  EXPECT_EQ(pod->spec.restartPolicy, "Always");
  EXPECT_EQ(pod->spec.terminationGracePeriodSeconds, 30);
  EXPECT_EQ(pod->spec.dnsPolicy, "ClusterFirst");
  EXPECT_EQ(pod->spec.enableServiceLinks, true);
  EXPECT_TRUE(pod->spec.volumes[0].emptyDir.has_value());  // A volume with no source.
  const auto& cs = pod->spec.containers;
  EXPECT_EQ(cs[0].imagePullPolicy, "Always");
  EXPECT_EQ(cs[1].imagePullPolicy, "Always");
  EXPECT_EQ(cs[2].imagePullPolicy, "Always");
  EXPECT_EQ(cs[3].imagePullPolicy, "IfNotPresent");
  EXPECT_EQ(cs[0].ports[0].protocol, "TCP");
  EXPECT_EQ(cs[0].ports[0].hostPort, 0);
  EXPECT_EQ(cs[0].terminationMessagePath, "/dev/termination-log");
  EXPECT_EQ(cs[0].terminationMessagePolicy, "File");
}

TEST(PodDecodeTest, YamlAndJsonOfTheSamePodAgree) {
  auto fromJson = load(kMinimalJson);
  auto fromYaml = load(R"(
apiVersion: v1
kind: Pod
metadata: {name: mini}
spec:
  containers:
  - {name: c, image: busybox, ports: [{containerPort: 80}]}
  - {name: d, image: "busybox:latest"}
  - {name: e, image: "localhost:5000/busybox"}
  - {name: f, image: "busybox:1.36"}
  volumes: [{name: scratch}]
)");
  ASSERT_TRUE(fromJson.ok() && fromYaml.ok());
  EXPECT_EQ(fromJson->spec.containers.size(), fromYaml->spec.containers.size());
  for (size_t i = 0; i < fromJson->spec.containers.size(); ++i) {
    EXPECT_EQ(fromJson->spec.containers[i].image, fromYaml->spec.containers[i].image);
    EXPECT_EQ(fromJson->spec.containers[i].imagePullPolicy,
              fromYaml->spec.containers[i].imagePullPolicy);
  }
}

TEST(PodDecodeTest, DefaultsAreIdempotent) {
  auto pod = load(kFullYaml);
  ASSERT_TRUE(pod.ok());
  Pod again = *pod;
  applyPodDefaults(again);
  EXPECT_EQ(again.spec.containers[0].resources.requests.at("cpu").milliValue(), 500);
  EXPECT_EQ(again.spec.containers[0].livenessProbe->periodSeconds, 5);
  EXPECT_EQ(again.spec.restartPolicy, pod->spec.restartPolicy);
}

struct BadCase {
  std::string name;
  std::string text;
  std::string error;  // A substring of the message.
};

class PodBadInputTest : public testing::TestWithParam<BadCase> {};

TEST_P(PodBadInputTest, GetsClearError) {
  auto pod = load(GetParam().text);
  ASSERT_FALSE(pod.ok()) << GetParam().name;
  EXPECT_EQ(pod.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(pod.status().message().find(GetParam().error), std::string::npos)
      << GetParam().name << ": " << pod.status().message();
}

// A valid pod with `extra` spliced into the first container.
std::string withContainer(const std::string& extra) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
         "    image: busybox\n" +
         extra;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PodBadInputTest,
    testing::Values(
        BadCase{"MalformedYaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n", "pod.yaml:"},
        BadCase{"MalformedYamlLine", "kind: Pod\nmetadata:\n  name: a\n   bad: b\n", "pod.yaml:4:"},
        BadCase{"NotAnObject", "- a\n- b\n", "expected a Pod object, got array"},
        BadCase{"WrongKind", "apiVersion: apps/v1\nkind: Deployment\n",
                "kind: Unsupported value: \"Deployment\""},
        BadCase{"WrongApiVersion", "apiVersion: v2\nkind: Pod\n",
                "apiVersion: Unsupported value: \"v2\""},
        BadCase{"PortAsBadString", withContainer("    ports: [{containerPort: \"80a\"}]\n"),
                "spec.containers[0].ports[0].containerPort: expected integer, got string \"80a\""},
        BadCase{"QuotedPort", withContainer("    ports: [{containerPort: \"80\"}]\n"),
                "spec.containers[0].ports[0].containerPort: expected integer, got string \"80\""},
        BadCase{"ArgsNotList", withContainer("    args: hello\n"),
                "spec.containers[0].args: expected array, got string \"hello\""},
        BadCase{"EnvValueNumber", withContainer("    env: [{name: A, value: 1}]\n"),
                "spec.containers[0].env[0].value: expected string, got number 1"},
        BadCase{"TtyString", withContainer("    tty: \"true\"\n"),
                "spec.containers[0].tty: expected boolean, got string \"true\""},
        BadCase{"BadQuantity", withContainer("    resources: {limits: {cpu: 2x}}\n"),
                "spec.containers[0].resources.limits[cpu]: invalid quantity \"2x\""},
        BadCase{"GraceOutOfRange",
                "kind: Pod\nspec: {terminationGracePeriodSeconds: 99999999999999999999}\n",
                "spec.terminationGracePeriodSeconds: expected integer, got number"},
        BadCase{"MissingName", "kind: Pod\nspec: {containers: [{name: c, image: i}]}\n",
                "metadata.name: Required value"},
        BadCase{"BadPodName", "metadata: {name: Web_1}\nspec: {containers: [{name: c, image: i}]}",
                "metadata.name: Invalid value: \"Web_1\""},
        BadCase{"NoContainers", "metadata: {name: p}\nspec: {}\n",
                "spec.containers: Required value"},
        BadCase{"MissingImage", "metadata: {name: p}\nspec: {containers: [{name: c}]}\n",
                "spec.containers[0].image: Required value"},
        BadCase{"MissingContainerName", "metadata: {name: p}\nspec: {containers: [{image: i}]}\n",
                "spec.containers[0].name: Required value"},
        BadCase{"BadContainerName",
                "metadata: {name: p}\nspec: {containers: [{name: My.App, image: i}]}\n",
                "spec.containers[0].name: Invalid value: \"My.App\""},
        BadCase{"DuplicateContainerNames",
                "metadata: {name: p}\nspec: {containers: [{name: a, image: i}, {name: a, image: "
                "i}]}\n",
                "spec.containers[1].name: Duplicate value: \"a\""},
        BadCase{"DuplicateAcrossInit",
                "metadata: {name: p}\nspec: {initContainers: [{name: a, image: i}], containers: "
                "[{name: a, image: i}]}\n",
                "spec.containers[0].name: Duplicate value: \"a\""},
        BadCase{"BadRestartPolicy",
                "metadata: {name: p}\nspec: {restartPolicy: Sometimes, containers: [{name: a, "
                "image: i}]}\n",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: "
                "\"Always\", \"OnFailure\", \"Never\""},
        BadCase{"BadPullPolicy", withContainer("    imagePullPolicy: Sometimes\n"),
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\""},
        BadCase{"PortZero", withContainer("    ports: [{name: http}]\n"),
                "spec.containers[0].ports[0].containerPort: Required value"},
        BadCase{"PortTooBig", withContainer("    ports: [{containerPort: 70000}]\n"),
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between "
                "1 and 65535, inclusive"},
        BadCase{"BadProtocol", withContainer("    ports: [{containerPort: 1, protocol: ICMP}]\n"),
                "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\""},
        BadCase{"BadEnvName", withContainer("    env: [{name: 1ABC, value: x}]\n"),
                "spec.containers[0].env[0].name: Invalid value: \"1ABC\""},
        BadCase{"EnvNameMissing", withContainer("    env: [{value: x}]\n"),
                "spec.containers[0].env[0].name: Required value"},
        BadCase{"UnknownVolumeMount",
                withContainer("    volumeMounts: [{name: data, mountPath: /d}]\n"),
                "spec.containers[0].volumeMounts[0].name: Not found: \"data\""},
        BadCase{"RequestOverLimit",
                withContainer("    resources: {requests: {cpu: \"2\"}, limits: {cpu: \"1\"}}\n"),
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less "
                "than or equal to cpu limit of 1"},
        BadCase{"ProbeWithoutHandler", withContainer("    livenessProbe: {periodSeconds: 3}\n"),
                "spec.containers[0].livenessProbe: Required value: must specify a handler type"},
        BadCase{"ProbeTwoHandlers",
                withContainer("    readinessProbe: {exec: {command: [x]}, tcpSocket: {port: 1}}\n"),
                "spec.containers[0].readinessProbe: Forbidden: may not specify more than 1"},
        BadCase{"LivenessSuccessThreshold",
                withContainer("    livenessProbe: {exec: {command: [x]}, successThreshold: 2}\n"),
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"},
        BadCase{"SidecarOnAppContainer", withContainer("    restartPolicy: Always\n"),
                "spec.containers[0].restartPolicy: Forbidden"},
        BadCase{"DnsNoneWithoutConfig",
                "metadata: {name: p}\nspec: {dnsPolicy: None, containers: [{name: a, image: i}]}\n",
                "spec.dnsConfig: Required value"},
        BadCase{"DuplicateVolume",
                "metadata: {name: p}\nspec: {volumes: [{name: v}, {name: v}], containers: [{name: "
                "a, image: i}]}\n",
                "spec.volumes[1].name: Duplicate value: \"v\""},
        BadCase{"TwoVolumeSources",
                "metadata: {name: p}\nspec: {volumes: [{name: v, emptyDir: {}, hostPath: {path: "
                "/x}}], containers: [{name: a, image: i}]}\n",
                "spec.volumes[0]: Forbidden: may not specify more than 1 volume type"},
        BadCase{"SecretWithoutName",
                "metadata: {name: p}\nspec: {volumes: [{name: v, secret: {}}], containers: "
                "[{name: a, image: i}]}\n",
                "spec.volumes[0].secret.secretName: Required value"},
        BadCase{"HostNetworkPortMismatch",
                "metadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: a, image: i, "
                "ports: [{containerPort: 80, hostPort: 81}]}]}\n",
                "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match"}),
    [](const testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(PodDecodeTest, AllValidationErrorsAreReported) {
  auto pod = load("metadata: {name: p}\nspec: {containers: [{name: A}, {name: b}]}\n");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().message(),
            "spec.containers[0].name: Invalid value: \"A\": must be a lowercase RFC 1123 label: "
            "at most 63 lower case alphanumeric characters or '-', starting and ending with an "
            "alphanumeric character; spec.containers[0].image: Required value; "
            "spec.containers[1].image: Required value");
}

TEST(PodDecodeTest, NamesAtTheLengthLimits) {
  Pod pod;
  pod.metadata.name = std::string(253, 'a');
  pod.spec.containers.push_back({});
  pod.spec.containers[0].name = std::string(63, 'c');
  pod.spec.containers[0].image = "i";
  applyPodDefaults(pod);
  EXPECT_TRUE(validatePod(pod).ok()) << validatePod(pod);
  pod.metadata.name += "a";
  pod.spec.containers[0].name += "c";
  absl::Status s = validatePod(pod);
  EXPECT_NE(s.message().find("metadata.name: Invalid value"), std::string::npos) << s;
  EXPECT_NE(s.message().find("spec.containers[0].name: Invalid value"), std::string::npos) << s;
}

TEST(PodDecodeTest, SidecarInitContainerMayHaveProbes) {
  auto pod = load(
      "metadata: {name: p}\nspec:\n  initContainers:\n  - {name: s, image: i, restartPolicy: "
      "Always, readinessProbe: {exec: {command: [x]}}}\n  - {name: t, image: i, startupProbe: "
      "{exec: {command: [x]}}}\n  containers: [{name: a, image: i}]\n");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().message(),
            "spec.initContainers[1].startupProbe: Forbidden: may not be set for init containers");
}

TEST(PodDecodeTest, DefaultImagePullPolicy) {
  EXPECT_EQ(defaultImagePullPolicy("busybox"), "Always");
  EXPECT_EQ(defaultImagePullPolicy("busybox:latest"), "Always");
  EXPECT_EQ(defaultImagePullPolicy("busybox:1.36"), "IfNotPresent");
  EXPECT_EQ(defaultImagePullPolicy("registry:5000/busybox"), "Always");
  EXPECT_EQ(defaultImagePullPolicy(
                "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000"),
            "IfNotPresent");
}

}  // namespace
}  // namespace agent::api

// The typed Pod (k8s.io/api/core/v1) as the node agent sees it: only the fields the
// agent uses, as plain structs named like their JSON fields. std::optional marks the
// fields whose "unset" the API distinguishes from the zero value. PodStatus lives
// with the status code, not here. Decoding is in pod_decode.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/quantity.h"

namespace agent::api {

// intstr.IntOrString: a port given as a number or as a named container port.
struct IntOrString {
  bool isString = false;
  int32_t intValue = 0;
  std::string strValue{};
};

struct OwnerReference {
  std::string apiVersion{};
  std::string kind{};
  std::string name{};
  std::string uid{};
  std::optional<bool> controller{};
};

struct ObjectMeta {
  std::string name{};
  std::string namespace_{};  // JSON "namespace".
  std::string uid{};
  std::string resourceVersion{};
  int64_t generation = 0;
  std::string creationTimestamp{};  // RFC 3339; empty when unset.
  std::optional<std::string> deletionTimestamp{};
  std::optional<int64_t> deletionGracePeriodSeconds{};
  std::map<std::string, std::string> labels{};
  std::map<std::string, std::string> annotations{};
  std::vector<OwnerReference> ownerReferences{};
};

// --- Containers ---

struct ContainerPort {
  std::string name{};
  int32_t hostPort = 0;
  int32_t containerPort = 0;
  std::string protocol{};  // Defaulted to "TCP".
  std::string hostIP{};
};

struct ObjectFieldSelector {
  std::string apiVersion{};
  std::string fieldPath{};
};

struct ResourceFieldSelector {
  std::string containerName{};
  std::string resource{};
  std::optional<Quantity> divisor{};
};

struct KeySelector {  // ConfigMapKeySelector and SecretKeySelector alike.
  std::string name{};
  std::string key{};
  std::optional<bool> optional{};
};

struct EnvVarSource {
  std::optional<ObjectFieldSelector> fieldRef{};
  std::optional<ResourceFieldSelector> resourceFieldRef{};
  std::optional<KeySelector> configMapKeyRef{};
  std::optional<KeySelector> secretKeyRef{};
};

struct EnvVar {
  std::string name{};
  std::string value{};
  std::optional<EnvVarSource> valueFrom{};
};

struct EnvFromRef {  // ConfigMapEnvSource and SecretEnvSource alike.
  std::string name{};
  std::optional<bool> optional{};
};

struct EnvFromSource {
  std::string prefix{};
  std::optional<EnvFromRef> configMapRef{};
  std::optional<EnvFromRef> secretRef{};
};

struct ResourceRequirements {
  std::map<std::string, Quantity> limits{};
  std::map<std::string, Quantity> requests{};
};

// What a change of one resource in place needs (core/v1 ContainerResizePolicy).
struct ContainerResizePolicy {
  std::string resourceName{};   // "cpu" or "memory"
  std::string restartPolicy{};  // "NotRequired" (the default) or "RestartContainer"
};

struct VolumeMount {
  std::string name{};
  bool readOnly = false;
  std::string mountPath{};
  std::string subPath{};
  std::string subPathExpr{};
  std::optional<std::string> mountPropagation{};
};

struct ExecAction {
  std::vector<std::string> command{};
};

struct HTTPHeader {
  std::string name{};
  std::string value{};
};

struct HTTPGetAction {
  std::string path{};
  IntOrString port{};
  std::string host{};
  std::string scheme{};  // Defaulted to "HTTP".
  std::vector<HTTPHeader> httpHeaders{};
};

struct TCPSocketAction {
  IntOrString port{};
  std::string host{};
};

struct GRPCAction {
  int32_t port = 0;
  std::optional<std::string> service{};
};

struct SleepAction {
  int64_t seconds = 0;
};

// What a probe or lifecycle hook runs; exactly one action is set in a valid pod.
struct Handler {
  std::optional<ExecAction> exec{};
  std::optional<HTTPGetAction> httpGet{};
  std::optional<TCPSocketAction> tcpSocket{};
  std::optional<GRPCAction> grpc{};    // Probes only.
  std::optional<SleepAction> sleep{};  // Lifecycle hooks only.
};

// Zero means "unset" for the counters; the defaults (period 10, timeout 1, success 1,
// failure 3) are applied by applyPodDefaults, as the API server does.
struct Probe {
  Handler handler{};  // Inline in JSON.
  int32_t initialDelaySeconds = 0;
  int32_t timeoutSeconds = 0;
  int32_t periodSeconds = 0;
  int32_t successThreshold = 0;
  int32_t failureThreshold = 0;
  std::optional<int64_t> terminationGracePeriodSeconds{};
};

struct Lifecycle {
  std::optional<Handler> postStart{};
  std::optional<Handler> preStop{};
};

struct Capabilities {
  std::vector<std::string> add{};
  std::vector<std::string> drop{};
};

struct SeccompProfile {
  std::string type{};  // RuntimeDefault, Unconfined, Localhost.
  std::optional<std::string> localhostProfile{};
};

// Passed through to the runtime (CRI SELinuxOption); never interpreted here.
struct SELinuxOptions {
  std::string user{};
  std::string role{};
  std::string type{};
  std::string level{};
};

struct AppArmorProfile {
  std::string type{};  // RuntimeDefault, Unconfined, Localhost.
  std::optional<std::string> localhostProfile{};
};

struct SecurityContext {
  std::optional<Capabilities> capabilities{};
  std::optional<bool> privileged{};
  std::optional<int64_t> runAsUser{};
  std::optional<int64_t> runAsGroup{};
  std::optional<bool> runAsNonRoot{};
  std::optional<bool> readOnlyRootFilesystem{};
  std::optional<bool> allowPrivilegeEscalation{};
  std::optional<std::string> procMount{};
  std::optional<SeccompProfile> seccompProfile{};
  std::optional<SELinuxOptions> seLinuxOptions{};
  std::optional<AppArmorProfile> appArmorProfile{};
};

struct Container {
  std::string name{};
  std::string image{};
  std::vector<std::string> command{};
  std::vector<std::string> args{};
  std::string workingDir{};
  std::vector<ContainerPort> ports{};
  std::vector<EnvFromSource> envFrom{};
  std::vector<EnvVar> env{};
  ResourceRequirements resources{};
  std::vector<ContainerResizePolicy> resizePolicy{};
  std::optional<std::string> restartPolicy{};  // Only "Always", for sidecar init containers.
  std::vector<VolumeMount> volumeMounts{};
  std::optional<Probe> livenessProbe{};
  std::optional<Probe> readinessProbe{};
  std::optional<Probe> startupProbe{};
  std::optional<Lifecycle> lifecycle{};
  std::string terminationMessagePath{};    // Defaulted to "/dev/termination-log".
  std::string terminationMessagePolicy{};  // Defaulted to "File".
  std::string imagePullPolicy{};           // Defaulted from the image tag.
  std::optional<SecurityContext> securityContext{};
  bool stdin = false;
  bool stdinOnce = false;
  bool tty = false;
  // Ephemeral containers only (EphemeralContainer.targetContainerName): the
  // container whose process namespace it joins.
  std::string targetContainerName{};
  // Set by decoding: a hash of the container's JSON as received (without resources
  // and resizePolicy), the value of the io.kubernetes.container.hash annotation; a
  // change restarts the container.
  std::string specHash{};
};

// --- Volumes ---

struct KeyToPath {
  std::string key{};
  std::string path{};
  std::optional<int32_t> mode{};
};

struct HostPathVolumeSource {
  std::string path{};
  std::optional<std::string> type{};
};

struct EmptyDirVolumeSource {
  std::string medium{};  // "" (node disk) or "Memory".
  std::optional<Quantity> sizeLimit{};
};

// ConfigMapVolumeSource and SecretVolumeSource; the JSON names the object "name" for a
// ConfigMap and "secretName" for a Secret.
struct ObjectVolumeSource {
  std::string name{};
  std::vector<KeyToPath> items{};
  std::optional<int32_t> defaultMode{};
  std::optional<bool> optional{};
};

struct DownwardAPIVolumeFile {
  std::string path{};
  std::optional<ObjectFieldSelector> fieldRef{};
  std::optional<ResourceFieldSelector> resourceFieldRef{};
  std::optional<int32_t> mode{};
};

struct DownwardAPIVolumeSource {
  std::vector<DownwardAPIVolumeFile> items{};
  std::optional<int32_t> defaultMode{};
};

struct ServiceAccountTokenProjection {
  std::string audience{};
  std::optional<int64_t> expirationSeconds{};
  std::string path{};
};

struct VolumeProjection {
  std::optional<ObjectVolumeSource> configMap{};  // Without defaultMode.
  std::optional<ObjectVolumeSource> secret{};     // JSON "name", without defaultMode.
  std::optional<DownwardAPIVolumeSource> downwardAPI{};
  std::optional<ServiceAccountTokenProjection> serviceAccountToken{};
};

struct ProjectedVolumeSource {
  std::vector<VolumeProjection> sources{};
  std::optional<int32_t> defaultMode{};
};

struct PersistentVolumeClaimVolumeSource {
  std::string claimName{};
  bool readOnly = false;
};

struct Volume {
  std::string name{};
  std::optional<HostPathVolumeSource> hostPath{};
  std::optional<EmptyDirVolumeSource> emptyDir{};
  std::optional<ObjectVolumeSource> configMap{};
  std::optional<ObjectVolumeSource> secret{};
  std::optional<DownwardAPIVolumeSource> downwardAPI{};
  std::optional<ProjectedVolumeSource> projected{};
  std::optional<PersistentVolumeClaimVolumeSource> persistentVolumeClaim{};
  // JSON names of the volume sources set that cubelet does not model ("nfs", ...), so
  // the volume manager can refuse them by name.
  std::vector<std::string> otherSources{};
};

// --- Pod ---

struct Sysctl {
  std::string name{};
  std::string value{};
};

struct PodSecurityContext {
  std::optional<int64_t> runAsUser{};
  std::optional<int64_t> runAsGroup{};
  std::optional<bool> runAsNonRoot{};
  std::vector<int64_t> supplementalGroups{};
  std::optional<std::string> supplementalGroupsPolicy{};  // "Merge" (unset) or "Strict"
  std::optional<int64_t> fsGroup{};
  std::optional<std::string> fsGroupChangePolicy{};  // "Always" (unset) or "OnRootMismatch"
  std::vector<Sysctl> sysctls{};
  std::optional<SeccompProfile> seccompProfile{};
  std::optional<SELinuxOptions> seLinuxOptions{};
  std::optional<AppArmorProfile> appArmorProfile{};
};

struct PodDNSConfigOption {
  std::string name{};
  std::optional<std::string> value{};
};

struct PodDNSConfig {
  std::vector<std::string> nameservers{};
  std::vector<std::string> searches{};
  std::vector<PodDNSConfigOption> options{};
};

struct HostAlias {
  std::string ip{};
  std::vector<std::string> hostnames{};
};

struct PodReadinessGate {
  std::string conditionType{};
};

struct Toleration {
  std::string key{};
  std::string operator_{};  // JSON "operator": "Equal" (also when empty) or "Exists"
  std::string value{};
  std::string effect{};  // empty: every effect
  std::optional<int64_t> tolerationSeconds{};
};

struct PodSpec {
  std::vector<Volume> volumes{};
  std::vector<Container> initContainers{};
  std::vector<Container> containers{};
  // Added through the pods/ephemeralcontainers subresource; never removed.
  std::vector<Container> ephemeralContainers{};
  std::string restartPolicy{};  // Defaulted to "Always".
  // The API server always defaults it; unset and 30 are the same thing.
  int64_t terminationGracePeriodSeconds = 30;
  std::optional<int64_t> activeDeadlineSeconds{};
  std::string dnsPolicy{};  // Defaulted to "ClusterFirst".
  std::map<std::string, std::string> nodeSelector{};
  std::string serviceAccountName{};
  std::optional<bool> automountServiceAccountToken{};
  std::string nodeName{};
  bool hostNetwork = false;
  bool hostPID = false;
  bool hostIPC = false;
  std::optional<bool> shareProcessNamespace{};
  std::optional<PodSecurityContext> securityContext{};
  std::string hostname{};
  std::string subdomain{};
  std::vector<HostAlias> hostAliases{};
  std::string priorityClassName{};
  std::optional<int32_t> priority{};
  std::optional<PodDNSConfig> dnsConfig{};
  std::vector<PodReadinessGate> readinessGates{};
  std::vector<Toleration> tolerations{};
  std::optional<std::string> runtimeClassName{};
  // The RuntimeClass's pod overhead, set by the API server's admission.
  std::map<std::string, Quantity> overhead{};
  std::optional<bool> enableServiceLinks{};  // Defaulted to true.
  std::optional<bool> setHostnameAsFQDN{};
  // Names of the Secrets (in the pod's namespace) holding registry credentials;
  // JSON: a list of LocalObjectReference ({"name": ...}). Empty names are dropped.
  std::vector<std::string> imagePullSecrets{};
};

struct Pod {
  ObjectMeta metadata{};
  PodSpec spec{};
  // From the API's status (empty for static pods): status.phase and status.startTime.
  std::string statusPhase{};
  std::string statusStartTime{};
};

}  // namespace agent::api

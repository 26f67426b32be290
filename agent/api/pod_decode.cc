#include "agent/api/pod_decode.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace agent::api {
namespace {

using core::decodeObject;
using core::JsonField;

// ConfigMap and Secret volume sources differ only in the member naming the object.
absl::Status decodeObjectSource(const JsonField& f, const char* nameKey,
                                std::optional<ObjectVolumeSource>& out) {
  if (!f.isSet()) return absl::OkStatus();
  ObjectVolumeSource src;
  RETURN_IF_ERROR(decodeObject(f, nameKey, src.name, "items", src.items, "defaultMode",
                               src.defaultMode, "optional", src.optional));
  out = std::move(src);
  return absl::OkStatus();
}

// Volume sources of v1.VolumeSource that cubelet does not model.
constexpr std::string_view kOtherVolumeSources[] = {
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
};

}  // namespace

absl::Status decodeJson(const JsonField& f, IntOrString& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (f.value()->is_string()) {
    out.isString = true;
    out.strValue = f.value()->get<std::string>();
    return absl::OkStatus();
  }
  if (f.value()->is_number_integer()) {
    out.isString = false;
    return core::decodeJson(f, out.intValue);
  }
  return f.typeError("integer or string");
}

absl::Status decodeJson(const JsonField& f, OwnerReference& out) {
  return decodeObject(f, "apiVersion", out.apiVersion, "kind", out.kind, "name", out.name, "uid",
                      out.uid, "controller", out.controller);
}

absl::Status decodeJson(const JsonField& f, ObjectMeta& out) {
  return decodeObject(f, "name", out.name, "namespace", out.namespace_, "uid", out.uid,
                      "resourceVersion", out.resourceVersion, "generation", out.generation,
                      "creationTimestamp", out.creationTimestamp, "deletionTimestamp",
                      out.deletionTimestamp, "deletionGracePeriodSeconds",
                      out.deletionGracePeriodSeconds, "labels", out.labels, "annotations",
                      out.annotations, "ownerReferences", out.ownerReferences);
}

absl::Status decodeJson(const JsonField& f, ContainerPort& out) {
  return decodeObject(f, "name", out.name, "hostPort", out.hostPort, "containerPort",
                      out.containerPort, "protocol", out.protocol, "hostIP", out.hostIP);
}

absl::Status decodeJson(const JsonField& f, ObjectFieldSelector& out) {
  return decodeObject(f, "apiVersion", out.apiVersion, "fieldPath", out.fieldPath);
}

absl::Status decodeJson(const JsonField& f, ResourceFieldSelector& out) {
  return decodeObject(f, "containerName", out.containerName, "resource", out.resource, "divisor",
                      out.divisor);
}

absl::Status decodeJson(const JsonField& f, KeySelector& out) {
  return decodeObject(f, "name", out.name, "key", out.key, "optional", out.optional);
}

absl::Status decodeJson(const JsonField& f, EnvVarSource& out) {
  return decodeObject(f, "fieldRef", out.fieldRef, "resourceFieldRef", out.resourceFieldRef,
                      "configMapKeyRef", out.configMapKeyRef, "secretKeyRef", out.secretKeyRef);
}

absl::Status decodeJson(const JsonField& f, EnvVar& out) {
  return decodeObject(f, "name", out.name, "value", out.value, "valueFrom", out.valueFrom);
}

absl::Status decodeJson(const JsonField& f, EnvFromRef& out) {
  return decodeObject(f, "name", out.name, "optional", out.optional);
}

absl::Status decodeJson(const JsonField& f, EnvFromSource& out) {
  return decodeObject(f, "prefix", out.prefix, "configMapRef", out.configMapRef, "secretRef",
                      out.secretRef);
}

absl::Status decodeJson(const JsonField& f, ResourceRequirements& out) {
  return decodeObject(f, "limits", out.limits, "requests", out.requests);
}

absl::Status decodeJson(const JsonField& f, ContainerResizePolicy& out) {
  return decodeObject(f, "resourceName", out.resourceName, "restartPolicy", out.restartPolicy);
}

absl::Status decodeJson(const JsonField& f, VolumeMount& out) {
  return decodeObject(f, "name", out.name, "readOnly", out.readOnly, "mountPath", out.mountPath,
                      "subPath", out.subPath, "subPathExpr", out.subPathExpr, "mountPropagation",
                      out.mountPropagation);
}

absl::Status decodeJson(const JsonField& f, ExecAction& out) {
  return decodeObject(f, "command", out.command);
}

absl::Status decodeJson(const JsonField& f, HTTPHeader& out) {
  return decodeObject(f, "name", out.name, "value", out.value);
}

absl::Status decodeJson(const JsonField& f, HTTPGetAction& out) {
  return decodeObject(f, "path", out.path, "port", out.port, "host", out.host, "scheme", out.scheme,
                      "httpHeaders", out.httpHeaders);
}

absl::Status decodeJson(const JsonField& f, TCPSocketAction& out) {
  return decodeObject(f, "port", out.port, "host", out.host);
}

absl::Status decodeJson(const JsonField& f, GRPCAction& out) {
  return decodeObject(f, "port", out.port, "service", out.service);
}

absl::Status decodeJson(const JsonField& f, SleepAction& out) {
  return decodeObject(f, "seconds", out.seconds);
}

absl::Status decodeJson(const JsonField& f, Handler& out) {
  return decodeObject(f, "exec", out.exec, "httpGet", out.httpGet, "tcpSocket", out.tcpSocket,
                      "grpc", out.grpc, "sleep", out.sleep);
}

absl::Status decodeJson(const JsonField& f, Probe& out) {
  RETURN_IF_ERROR(decodeJson(f, out.handler));  // The handler is inline in a probe.
  return decodeObject(f, "initialDelaySeconds", out.initialDelaySeconds, "timeoutSeconds",
                      out.timeoutSeconds, "periodSeconds", out.periodSeconds, "successThreshold",
                      out.successThreshold, "failureThreshold", out.failureThreshold,
                      "terminationGracePeriodSeconds", out.terminationGracePeriodSeconds);
}

absl::Status decodeJson(const JsonField& f, Lifecycle& out) {
  return decodeObject(f, "postStart", out.postStart, "preStop", out.preStop);
}

absl::Status decodeJson(const JsonField& f, Capabilities& out) {
  return decodeObject(f, "add", out.add, "drop", out.drop);
}

absl::Status decodeJson(const JsonField& f, SeccompProfile& out) {
  return decodeObject(f, "type", out.type, "localhostProfile", out.localhostProfile);
}

absl::Status decodeJson(const JsonField& f, SELinuxOptions& out) {
  return decodeObject(f, "user", out.user, "role", out.role, "type", out.type, "level", out.level);
}

absl::Status decodeJson(const JsonField& f, AppArmorProfile& out) {
  return decodeObject(f, "type", out.type, "localhostProfile", out.localhostProfile);
}

absl::Status decodeJson(const JsonField& f, SecurityContext& out) {
  return decodeObject(f, "capabilities", out.capabilities, "privileged", out.privileged,
                      "runAsUser", out.runAsUser, "runAsGroup", out.runAsGroup, "runAsNonRoot",
                      out.runAsNonRoot, "readOnlyRootFilesystem", out.readOnlyRootFilesystem,
                      "allowPrivilegeEscalation", out.allowPrivilegeEscalation, "procMount",
                      out.procMount, "seccompProfile", out.seccompProfile, "seLinuxOptions",
                      out.seLinuxOptions, "appArmorProfile", out.appArmorProfile);
}

// FNV-1a over the canonical (sorted-key) dump: stable for the same spec. Resources
// and resizePolicy are left out, as the kubelet's HashContainer leaves them out: a
// resize is applied in place, not by a restart.
static std::string hashContainerJson(const nlohmann::json& j) {
  nlohmann::json hashed = j;
  if (hashed.is_object()) {
    hashed.erase("resources");
    hashed.erase("resizePolicy");
  }
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : hashed.dump()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

absl::Status decodeJson(const JsonField& f, Container& out) {
  absl::Status s = decodeObject(
      f, "name", out.name, "image", out.image, "command", out.command, "args", out.args,
      "workingDir", out.workingDir, "ports", out.ports, "envFrom", out.envFrom, "env", out.env,
      "resources", out.resources, "resizePolicy", out.resizePolicy, "restartPolicy",
      out.restartPolicy, "volumeMounts", out.volumeMounts, "livenessProbe", out.livenessProbe,
      "readinessProbe", out.readinessProbe, "startupProbe", out.startupProbe, "lifecycle",
      out.lifecycle, "terminationMessagePath", out.terminationMessagePath,
      "terminationMessagePolicy", out.terminationMessagePolicy, "imagePullPolicy",
      out.imagePullPolicy, "securityContext", out.securityContext, "stdin", out.stdin, "stdinOnce",
      out.stdinOnce, "tty", out.tty, "targetContainerName", out.targetContainerName);
  if (s.ok() && f.isSet()) out.specHash = hashContainerJson(*f.value());
  return s;
}

absl::Status decodeJson(const JsonField& f, KeyToPath& out) {
  return decodeObject(f, "key", out.key, "path", out.path, "mode", out.mode);
}

absl::Status decodeJson(const JsonField& f, HostPathVolumeSource& out) {
  return decodeObject(f, "path", out.path, "type", out.type);
}

absl::Status decodeJson(const JsonField& f, EmptyDirVolumeSource& out) {
  return decodeObject(f, "medium", out.medium, "sizeLimit", out.sizeLimit);
}

absl::Status decodeJson(const JsonField& f, DownwardAPIVolumeFile& out) {
  return decodeObject(f, "path", out.path, "fieldRef", out.fieldRef, "resourceFieldRef",
                      out.resourceFieldRef, "mode", out.mode);
}

absl::Status decodeJson(const JsonField& f, DownwardAPIVolumeSource& out) {
  return decodeObject(f, "items", out.items, "defaultMode", out.defaultMode);
}

absl::Status decodeJson(const JsonField& f, ServiceAccountTokenProjection& out) {
  return decodeObject(f, "audience", out.audience, "expirationSeconds", out.expirationSeconds,
                      "path", out.path);
}

absl::Status decodeJson(const JsonField& f, VolumeProjection& out) {
  RETURN_IF_ERROR(f.expectObject());
  RETURN_IF_ERROR(decodeObjectSource(f["configMap"], "name", out.configMap));
  RETURN_IF_ERROR(decodeObjectSource(f["secret"], "name", out.secret));
  return decodeObject(f, "downwardAPI", out.downwardAPI, "serviceAccountToken",
                      out.serviceAccountToken);
}

absl::Status decodeJson(const JsonField& f, ProjectedVolumeSource& out) {
  return decodeObject(f, "sources", out.sources, "defaultMode", out.defaultMode);
}

absl::Status decodeJson(const JsonField& f, PersistentVolumeClaimVolumeSource& out) {
  return decodeObject(f, "claimName", out.claimName, "readOnly", out.readOnly);
}

absl::Status decodeJson(const JsonField& f, Volume& out) {
  RETURN_IF_ERROR(decodeObject(f, "name", out.name, "hostPath", out.hostPath, "emptyDir",
                               out.emptyDir, "downwardAPI", out.downwardAPI, "projected",
                               out.projected, "persistentVolumeClaim", out.persistentVolumeClaim));
  RETURN_IF_ERROR(decodeObjectSource(f["configMap"], "name", out.configMap));
  RETURN_IF_ERROR(decodeObjectSource(f["secret"], "secretName", out.secret));
  out.otherSources.clear();
  for (std::string_view name : kOtherVolumeSources) {
    JsonField source = f[name];
    if (!source.isSet()) continue;
    RETURN_IF_ERROR(source.expectObject());
    out.otherSources.emplace_back(name);
  }
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, Sysctl& out) {
  return decodeObject(f, "name", out.name, "value", out.value);
}

absl::Status decodeJson(const JsonField& f, PodSecurityContext& out) {
  return decodeObject(f, "runAsUser", out.runAsUser, "runAsGroup", out.runAsGroup, "runAsNonRoot",
                      out.runAsNonRoot, "supplementalGroups", out.supplementalGroups, "fsGroup",
                      out.fsGroup, "fsGroupChangePolicy", out.fsGroupChangePolicy, "sysctls",
                      out.sysctls, "seccompProfile", out.seccompProfile, "seLinuxOptions",
                      out.seLinuxOptions, "appArmorProfile", out.appArmorProfile,
                      "supplementalGroupsPolicy", out.supplementalGroupsPolicy);
}

absl::Status decodeJson(const JsonField& f, PodDNSConfigOption& out) {
  return decodeObject(f, "name", out.name, "value", out.value);
}

absl::Status decodeJson(const JsonField& f, PodDNSConfig& out) {
  return decodeObject(f, "nameservers", out.nameservers, "searches", out.searches, "options",
                      out.options);
}

absl::Status decodeJson(const JsonField& f, HostAlias& out) {
  return decodeObject(f, "ip", out.ip, "hostnames", out.hostnames);
}

absl::Status decodeJson(const JsonField& f, PodReadinessGate& out) {
  return decodeObject(f, "conditionType", out.conditionType);
}

absl::Status decodeJson(const JsonField& f, Toleration& out) {
  return decodeObject(f, "key", out.key, "operator", out.operator_, "value", out.value, "effect",
                      out.effect, "tolerationSeconds", out.tolerationSeconds);
}

absl::Status decodeJson(const JsonField& f, PodSpec& out) {
  RETURN_IF_ERROR(decodeObject(
      f, "volumes", out.volumes, "initContainers", out.initContainers, "containers", out.containers,
      "ephemeralContainers", out.ephemeralContainers, "overhead", out.overhead, "restartPolicy",
      out.restartPolicy, "terminationGracePeriodSeconds", out.terminationGracePeriodSeconds,
      "activeDeadlineSeconds", out.activeDeadlineSeconds, "dnsPolicy", out.dnsPolicy,
      "nodeSelector", out.nodeSelector, "serviceAccountName", out.serviceAccountName,
      "automountServiceAccountToken", out.automountServiceAccountToken, "nodeName", out.nodeName,
      "hostNetwork", out.hostNetwork, "hostPID", out.hostPID, "hostIPC", out.hostIPC,
      "shareProcessNamespace", out.shareProcessNamespace, "securityContext", out.securityContext,
      "hostname", out.hostname, "subdomain", out.subdomain, "hostAliases", out.hostAliases,
      "priorityClassName", out.priorityClassName, "priority", out.priority, "dnsConfig",
      out.dnsConfig, "readinessGates", out.readinessGates, "tolerations", out.tolerations,
      "runtimeClassName", out.runtimeClassName, "enableServiceLinks", out.enableServiceLinks,
      "setHostnameAsFQDN", out.setHostnameAsFQDN));
  // imagePullSecrets: [{"name": "..."}]; API validation let empty names through once,
  // and the kubelet ignores them.
  JsonField pullSecrets = f["imagePullSecrets"];
  RETURN_IF_ERROR(pullSecrets.expectArray());
  out.imagePullSecrets.clear();
  if (pullSecrets.isSet()) {
    for (size_t i = 0; i < pullSecrets.value()->size(); ++i) {
      std::string name;
      RETURN_IF_ERROR(decodeObject(pullSecrets.at(i), "name", name));
      if (!name.empty()) out.imagePullSecrets.push_back(std::move(name));
    }
  }
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, Pod& out) {
  RETURN_IF_ERROR(f.expectObject());
  std::string kind, apiVersion;
  RETURN_IF_ERROR(decodeObject(f, "kind", kind, "apiVersion", apiVersion));
  if (!kind.empty() && kind != "Pod") {
    return f["kind"].error(absl::StrCat("Unsupported value: \"", kind, "\": expected \"Pod\""));
  }
  if (!apiVersion.empty() && apiVersion != "v1") {
    return f["apiVersion"].error(
        absl::StrCat("Unsupported value: \"", apiVersion, "\": expected \"v1\""));
  }
  RETURN_IF_ERROR(decodeObject(f, "metadata", out.metadata, "spec", out.spec));
  // Of the status, what the agent needs to know about a pod it did not start: a
  // terminal phase means never run it again, startTime anchors activeDeadlineSeconds.
  return decodeObject(f["status"], "phase", out.statusPhase, "startTime", out.statusStartTime);
}

absl::StatusOr<Pod> decodePod(const nlohmann::json& j) {
  core::JsonField root(j);
  if (!root.isSet() || !j.is_object()) return root.typeError("a Pod object");
  Pod pod;
  RETURN_IF_ERROR(decodeJson(root, pod));
  return pod;
}

}  // namespace agent::api

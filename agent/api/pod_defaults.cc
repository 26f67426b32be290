// The API server's defaulting for pods (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go),
// limited to what the agent reads. Static pods never pass through an API server, so
// the agent applies these itself; pods from the API arrive already defaulted and
// applying them again changes nothing.
#include "agent/api/pod_decode.h"
#include "cri/image_ref.h"

namespace agent::api {
namespace {

constexpr int32_t kDefaultVolumeMode = 0644;

void defaultHandler(Handler& h) {
  if (h.httpGet) {
    if (h.httpGet->path.empty()) h.httpGet->path = "/";
    if (h.httpGet->scheme.empty()) h.httpGet->scheme = "HTTP";
  }
}

void defaultProbe(std::optional<Probe>& p) {
  if (!p) return;
  defaultHandler(p->handler);
  // Zero counts as unset, as in SetDefaults_Probe.
  if (p->timeoutSeconds == 0) p->timeoutSeconds = 1;
  if (p->periodSeconds == 0) p->periodSeconds = 10;
  if (p->successThreshold == 0) p->successThreshold = 1;
  if (p->failureThreshold == 0) p->failureThreshold = 3;
}

void defaultFieldRef(std::optional<ObjectFieldSelector>& ref) {
  if (ref && ref->apiVersion.empty()) ref->apiVersion = "v1";
}

void defaultContainer(Container& c, bool hostNetwork) {
  if (c.imagePullPolicy.empty()) c.imagePullPolicy = defaultImagePullPolicy(c.image);
  if (c.terminationMessagePath.empty()) c.terminationMessagePath = "/dev/termination-log";
  if (c.terminationMessagePolicy.empty()) c.terminationMessagePolicy = "File";
  for (ContainerPort& p : c.ports) {
    if (p.protocol.empty()) p.protocol = "TCP";
    if (hostNetwork && p.hostPort == 0) p.hostPort = p.containerPort;
  }
  for (EnvVar& e : c.env) {
    if (e.valueFrom) defaultFieldRef(e.valueFrom->fieldRef);
  }
  // Limits without requests request the limit (this is what makes a pod Guaranteed).
  for (const auto& [resource, limit] : c.resources.limits) {
    c.resources.requests.try_emplace(resource, limit);
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (c.lifecycle) {
    if (c.lifecycle->postStart) defaultHandler(*c.lifecycle->postStart);
    if (c.lifecycle->preStop) defaultHandler(*c.lifecycle->preStop);
  }
}

void defaultDownwardAPI(DownwardAPIVolumeSource& d, bool setMode) {
  if (setMode && !d.defaultMode) d.defaultMode = kDefaultVolumeMode;
  for (DownwardAPIVolumeFile& f : d.items) defaultFieldRef(f.fieldRef);
}

void defaultVolume(Volume& v) {
  bool anySource = v.hostPath || v.emptyDir || v.configMap || v.secret || v.downwardAPI ||
                   v.projected || v.persistentVolumeClaim || !v.otherSources.empty();
  if (!anySource) v.emptyDir.emplace();  // SetDefaults_Volume.
  if (v.configMap && !v.configMap->defaultMode) v.configMap->defaultMode = kDefaultVolumeMode;
  if (v.secret && !v.secret->defaultMode) v.secret->defaultMode = kDefaultVolumeMode;
  if (v.hostPath && !v.hostPath->type) v.hostPath->type = "";
  if (v.downwardAPI) defaultDownwardAPI(*v.downwardAPI, true);
  if (v.projected) {
    if (!v.projected->defaultMode) v.projected->defaultMode = kDefaultVolumeMode;
    for (VolumeProjection& s : v.projected->sources) {
      if (s.downwardAPI) defaultDownwardAPI(*s.downwardAPI, false);
      if (s.serviceAccountToken && !s.serviceAccountToken->expirationSeconds) {
        s.serviceAccountToken->expirationSeconds = 3600;
      }
    }
  }
}

}  // namespace

std::string defaultImagePullPolicy(std::string_view image) {
  return cri::hasLatestOrNoTag(image) ? "Always" : "IfNotPresent";
}

void applyPodDefaults(Pod& pod) {
  if (pod.metadata.namespace_.empty()) pod.metadata.namespace_ = "default";
  PodSpec& spec = pod.spec;
  if (spec.restartPolicy.empty()) spec.restartPolicy = "Always";
  if (spec.dnsPolicy.empty()) spec.dnsPolicy = "ClusterFirst";
  if (!spec.enableServiceLinks) spec.enableServiceLinks = true;
  if (!spec.securityContext) spec.securityContext.emplace();
  for (Container& c : spec.initContainers) defaultContainer(c, spec.hostNetwork);
  for (Container& c : spec.containers) defaultContainer(c, spec.hostNetwork);
  // SetDefaults_EphemeralContainer: the same container defaults (they have no ports).
  for (Container& c : spec.ephemeralContainers) defaultContainer(c, spec.hostNetwork);
  for (Volume& v : spec.volumes) defaultVolume(v);
}

}  // namespace agent::api

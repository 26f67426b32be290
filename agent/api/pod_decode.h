// Pods from JSON (API objects, manifests after the YAML edge), the API server's
// defaults the agent relies on, and the validations that matter on a node. Errors name
// the field path: `spec.containers[0].image: Required value`.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "core/json_decode.h"

namespace agent::api {

// Decodes a v1 Pod; types are checked strictly, unknown fields ignored. Neither
// defaults nor validation are applied. `kind` and `apiVersion` may be absent (list
// items carry none) but must be "Pod" and "v1" when present.
absl::StatusOr<Pod> decodePod(const nlohmann::json& j);

// The API server's defaulting (SetDefaults_* in k8s.io/kubernetes/pkg/apis/core/v1)
// for the fields the agent reads: restartPolicy Always, dnsPolicy ClusterFirst,
// imagePullPolicy from the image tag, terminationMessagePath/Policy, port protocol TCP,
// probe timings, volume modes, namespace "default", ...
void applyPodDefaults(Pod& pod);

// ValidatePod's checks that matter to a node agent, on a defaulted pod. All problems
// are reported, joined by "; ".
absl::Status validatePod(const Pod& pod);

// The image pull policy the API server picks when none is given: Always for a
// `:latest` or untagged (and undigested) image, IfNotPresent otherwise.
std::string defaultImagePullPolicy(std::string_view image);

// Decoders for the parts of a pod, for objects that embed them.
absl::Status decodeJson(const core::JsonField& f, IntOrString& out);
absl::Status decodeJson(const core::JsonField& f, OwnerReference& out);
absl::Status decodeJson(const core::JsonField& f, ObjectMeta& out);
absl::Status decodeJson(const core::JsonField& f, ContainerPort& out);
absl::Status decodeJson(const core::JsonField& f, ObjectFieldSelector& out);
absl::Status decodeJson(const core::JsonField& f, ResourceFieldSelector& out);
absl::Status decodeJson(const core::JsonField& f, KeySelector& out);
absl::Status decodeJson(const core::JsonField& f, EnvVarSource& out);
absl::Status decodeJson(const core::JsonField& f, EnvVar& out);
absl::Status decodeJson(const core::JsonField& f, EnvFromRef& out);
absl::Status decodeJson(const core::JsonField& f, EnvFromSource& out);
absl::Status decodeJson(const core::JsonField& f, ResourceRequirements& out);
absl::Status decodeJson(const core::JsonField& f, ContainerResizePolicy& out);
absl::Status decodeJson(const core::JsonField& f, VolumeMount& out);
absl::Status decodeJson(const core::JsonField& f, ExecAction& out);
absl::Status decodeJson(const core::JsonField& f, HTTPHeader& out);
absl::Status decodeJson(const core::JsonField& f, HTTPGetAction& out);
absl::Status decodeJson(const core::JsonField& f, TCPSocketAction& out);
absl::Status decodeJson(const core::JsonField& f, GRPCAction& out);
absl::Status decodeJson(const core::JsonField& f, SleepAction& out);
absl::Status decodeJson(const core::JsonField& f, Handler& out);
absl::Status decodeJson(const core::JsonField& f, Probe& out);
absl::Status decodeJson(const core::JsonField& f, Lifecycle& out);
absl::Status decodeJson(const core::JsonField& f, Capabilities& out);
absl::Status decodeJson(const core::JsonField& f, SeccompProfile& out);
absl::Status decodeJson(const core::JsonField& f, SecurityContext& out);
absl::Status decodeJson(const core::JsonField& f, Container& out);
absl::Status decodeJson(const core::JsonField& f, KeyToPath& out);
absl::Status decodeJson(const core::JsonField& f, HostPathVolumeSource& out);
absl::Status decodeJson(const core::JsonField& f, EmptyDirVolumeSource& out);
absl::Status decodeJson(const core::JsonField& f, DownwardAPIVolumeFile& out);
absl::Status decodeJson(const core::JsonField& f, DownwardAPIVolumeSource& out);
absl::Status decodeJson(const core::JsonField& f, ServiceAccountTokenProjection& out);
absl::Status decodeJson(const core::JsonField& f, VolumeProjection& out);
absl::Status decodeJson(const core::JsonField& f, ProjectedVolumeSource& out);
absl::Status decodeJson(const core::JsonField& f, PersistentVolumeClaimVolumeSource& out);
absl::Status decodeJson(const core::JsonField& f, Volume& out);
absl::Status decodeJson(const core::JsonField& f, Sysctl& out);
absl::Status decodeJson(const core::JsonField& f, PodSecurityContext& out);
absl::Status decodeJson(const core::JsonField& f, PodDNSConfigOption& out);
absl::Status decodeJson(const core::JsonField& f, PodDNSConfig& out);
absl::Status decodeJson(const core::JsonField& f, HostAlias& out);
absl::Status decodeJson(const core::JsonField& f, PodReadinessGate& out);
absl::Status decodeJson(const core::JsonField& f, PodSpec& out);
absl::Status decodeJson(const core::JsonField& f, Pod& out);

}  // namespace agent::api

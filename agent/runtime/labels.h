// The labels and annotations the kubelet puts on CRI sandboxes and containers.
// Tools (crictl, log shippers) read them, and the agent rebuilds its view of
// running pods from them after a restart, so names and formats are the kubelet's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace agent::runtime {

inline constexpr char kPodNameLabel[] = "io.kubernetes.pod.name";
inline constexpr char kPodNamespaceLabel[] = "io.kubernetes.pod.namespace";
inline constexpr char kPodUidLabel[] = "io.kubernetes.pod.uid";
inline constexpr char kContainerNameLabel[] = "io.kubernetes.container.name";
inline constexpr char kContainerHashAnnotation[] = "io.kubernetes.container.hash";
inline constexpr char kContainerRestartCountAnnotation[] = "io.kubernetes.container.restartCount";
inline constexpr char kTerminationMessagePathAnnotation[] =
    "io.kubernetes.container.terminationMessagePath";
inline constexpr char kTerminationMessagePolicyAnnotation[] =
    "io.kubernetes.container.terminationMessagePolicy";
inline constexpr char kPodDeletionGracePeriodAnnotation[] = "io.kubernetes.pod.deletionGracePeriod";
inline constexpr char kPodTerminationGracePeriodAnnotation[] =
    "io.kubernetes.pod.terminationGracePeriod";
inline constexpr char kContainerPortsAnnotation[] = "io.kubernetes.container.ports";
// The container's preStop handler as JSON, so that a pod found only in the
// runtime (no spec any more) still runs its hook when it is stopped.
inline constexpr char kContainerPreStopHandlerAnnotation[] =
    "io.kubernetes.container.preStopHandler";
// Set by the kubelet on sandboxes' containers too: the "POD" container name.
inline constexpr char kPodInfraContainerName[] = "POD";

using StringMap = std::map<std::string, std::string>;

struct PodIdentity {
  std::string name;
  std::string namespace_;
  std::string uid;
};

// Sandbox labels: the pod's own labels plus the identity labels (which win).
StringMap sandboxLabels(const PodIdentity& pod, const StringMap& podLabels);
// Container labels: identity plus the container name.
StringMap containerLabels(const PodIdentity& pod, const std::string& containerName);

struct ContainerAnnotationInput {
  std::string hash;
  int32_t restartCount = 0;
  std::string terminationMessagePath;
  std::string terminationMessagePolicy;
  int64_t terminationGracePeriodSeconds = 30;
  std::optional<int64_t> deletionGracePeriodSeconds;
  std::string portsJson;           // empty: no ports annotation
  std::string preStopHandlerJson;  // empty: no preStop handler annotation
};
StringMap containerAnnotations(const ContainerAnnotationInput& in);

// Reads identity back from runtime labels; false when they are not ours.
bool podIdentityFromLabels(const StringMap& labels, PodIdentity* out);

}  // namespace agent::runtime

#include "agent/runtime/labels.h"

namespace agent::runtime {

StringMap sandboxLabels(const PodIdentity& pod, const StringMap& podLabels) {
  StringMap labels = podLabels;
  labels[kPodNameLabel] = pod.name;
  labels[kPodNamespaceLabel] = pod.namespace_;
  labels[kPodUidLabel] = pod.uid;
  return labels;
}

StringMap containerLabels(const PodIdentity& pod, const std::string& containerName) {
  return {{kPodNameLabel, pod.name},
          {kPodNamespaceLabel, pod.namespace_},
          {kPodUidLabel, pod.uid},
          {kContainerNameLabel, containerName}};
}

StringMap containerAnnotations(const ContainerAnnotationInput& in) {
  StringMap a;
  a[kContainerHashAnnotation] = in.hash;
  a[kContainerRestartCountAnnotation] = std::to_string(in.restartCount);
  a[kTerminationMessagePathAnnotation] = in.terminationMessagePath;
  a[kTerminationMessagePolicyAnnotation] = in.terminationMessagePolicy;
  a[kPodTerminationGracePeriodAnnotation] = std::to_string(in.terminationGracePeriodSeconds);
  if (in.deletionGracePeriodSeconds) {
    a[kPodDeletionGracePeriodAnnotation] = std::to_string(*in.deletionGracePeriodSeconds);
  }
  if (!in.portsJson.empty()) a[kContainerPortsAnnotation] = in.portsJson;
  if (!in.preStopHandlerJson.empty()) a[kContainerPreStopHandlerAnnotation] = in.preStopHandlerJson;
  return a;
}

bool podIdentityFromLabels(const StringMap& labels, PodIdentity* out) {
  auto uid = labels.find(kPodUidLabel);
  if (uid == labels.end() || uid->second.empty()) return false;
  out->uid = uid->second;
  auto name = labels.find(kPodNameLabel);
  out->name = name == labels.end() ? "" : name->second;
  auto ns = labels.find(kPodNamespaceLabel);
  out->namespace_ = ns == labels.end() ? "" : ns->second;
  return true;
}

}  // namespace agent::runtime

#include "agent/events/object_ref.h"

namespace agent::events {

ObjectRef podRef(const api::Pod& pod) {
  ObjectRef ref;
  ref.kind = "Pod";
  ref.apiVersion = "v1";
  ref.namespace_ = pod.metadata.namespace_;
  ref.name = pod.metadata.name;
  ref.uid = pod.metadata.uid;
  ref.resourceVersion = pod.metadata.resourceVersion;
  return ref;
}

ObjectRef containerRef(const api::Pod& pod, std::string_view containerName) {
  ObjectRef ref = podRef(pod);
  for (const api::Container& c : pod.spec.containers) {
    if (c.name == containerName) {
      ref.fieldPath = "spec.containers{" + std::string(containerName) + "}";
      return ref;
    }
  }
  for (const api::Container& c : pod.spec.initContainers) {
    if (c.name == containerName) {
      ref.fieldPath = "spec.initContainers{" + std::string(containerName) + "}";
      return ref;
    }
  }
  for (const api::Container& c : pod.spec.ephemeralContainers) {
    if (c.name == containerName) {
      ref.fieldPath = "spec.ephemeralContainers{" + std::string(containerName) + "}";
      return ref;
    }
  }
  return ref;
}

ObjectRef nodeRef(std::string_view nodeName) {
  ObjectRef ref;
  ref.kind = "Node";
  ref.name = std::string(nodeName);
  ref.uid = std::string(nodeName);
  return ref;
}

}  // namespace agent::events

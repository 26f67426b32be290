// core/v1 ObjectReference: what an Event is about (its involvedObject), and the
// references the kubelet makes for its pods, their containers and its node.
#pragma once

#include <string>
#include <string_view>

#include "agent/api/pod.h"

namespace agent::events {

struct ObjectRef {
  std::string kind{};
  std::string namespace_{};  // JSON "namespace"; empty for cluster-scoped objects.
  std::string name{};
  std::string uid{};
  std::string apiVersion{};
  std::string resourceVersion{};
  // Part of the object, e.g. "spec.containers{web}".
  std::string fieldPath{};

  bool operator==(const ObjectRef&) const = default;
};

// {kind Pod, apiVersion v1, namespace, name, uid, resourceVersion}, as
// client-go's reference.GetReference makes for a pod.
ObjectRef podRef(const api::Pod& pod);

// podRef plus the fieldPath of the named container: "spec.containers{<name>}", or
// "spec.initContainers{<name>}" for an init container (the kubelet's
// GenerateContainerRef). A name the pod does not have gets no fieldPath.
ObjectRef containerRef(const api::Pod& pod, std::string_view containerName);

// The kubelet's reference to its own Node: kind Node, the node name as name AND
// as uid (the kubelet does not wait for the Node's real UID), no namespace, so
// the events land in "default".
ObjectRef nodeRef(std::string_view nodeName);

}  // namespace agent::events

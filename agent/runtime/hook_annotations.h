// The lifecycle facts a container carries in its CRI annotations, so that a pod
// found only in the runtime (its spec gone, e.g. deleted while the agent was
// down) is still stopped as its spec said: the preStop handler as the kubelet's
// JSON, and the ports a named httpGet port resolves against.
#pragma once

#include <string>

#include "agent/api/pod.h"
#include "agent/runtime/runtime_state.h"

namespace agent::runtime {

// The handler as Go's json.Marshal writes a v1.LifecycleHandler (field order,
// omitempty) for the io.kubernetes.container.preStopHandler annotation.
std::string handlerJson(const api::Handler& handler);

// The container spec the kubelet restores from the annotations
// (restoreSpecsFromContainerLabels): name, ports and preStop; an annotation that
// does not decode is left out.
api::Container restoredContainerSpec(const ContainerRuntimeStatus& status);

}  // namespace agent::runtime

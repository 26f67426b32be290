// The probes of one pod as the prober needs them: each container's probe specs
// (ports resolved against the pod IP) with its newest instance in the runtime.
// Pure.
#pragma once

#include <string>

#include "agent/api/pod.h"
#include "agent/runtime/runtime_state.h"
#include "probes/probe_manager.h"

namespace agent::health {

// True when any container of the pod (app containers and sidecars) has a probe.
bool hasProbes(const api::Pod& pod);
// True when that app container or sidecar has a probe (the prober knows it).
bool containerHasProbes(const api::Pod& pod, const std::string& name);

// `hostIP` is the pod's IP under host networking.
probes::PodProbes podProbes(const api::Pod& pod, const runtime::PodRuntimeStatus& status,
                            const std::string& hostIP);

}  // namespace agent::health

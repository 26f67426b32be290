// From the pod spec's probe and hook handlers to what the probes folder runs:
// named ports looked up in the container's ports, the host defaulted to the pod
// IP, the API server's probe defaults applied. Pure.
#pragma once

#include <string>

#include "agent/api/pod.h"
#include "probes/probe_types.h"

namespace agent::health {

// A handler with nothing it can run (no action, an unknown port name, a port out
// of range) becomes an Action whose `error` says so, in the kubelet's words.
probes::Action handlerAction(const api::Handler& handler, const api::Container& container,
                             const std::string& podIP);

probes::ProbeSpec probeSpec(const api::Probe& probe, const api::Container& container,
                            const std::string& podIP);

}  // namespace agent::health

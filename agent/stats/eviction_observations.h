// The bridge from a Summary to what the eviction manager observes
// (agent/eviction/observations.h), as the kubelet's makeSignalObservations reads its
// summary: memory.available from node memory (capacity = available + working set),
// nodefs/imagefs from the node fs and the runtime's image fs, pid.available from
// rlimit; per pod its working set, ephemeral storage, volumes and containers.
// allocatableMemory.available needs the pods cgroup and is left to the caller.
#pragma once

#include "agent/eviction/observations.h"
#include "agent/stats/summary.h"

namespace agent::stats {

// `dedicatedImageFs`: the image fs is on another device than the root dir (the
// kubelet's HasDedicatedImageFs); see StatsProvider::dedicatedImageFs().
eviction::Observations toObservations(const Summary& s, bool dedicatedImageFs);

}  // namespace agent::stats

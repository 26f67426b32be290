// The CPU and memory requests and limits the agent last handed the runtime for each
// container, at CreateContainer and after each successful UpdateContainerResources
// (the kubelet's "actuated resources", allocation manager). In-place resize compares
// a running container's spec with them: what the runtime reports back
// (ContainerStatus.resources) may differ from what was asked (kernel minimums, an NRI
// plugin) and older runtimes do not report it at all.
//
// A container's annotations cannot record an update, so the record lives in memory
// and in a small checkpoint file under the root dir, rewritten atomically after each
// change: a restarted agent still knows what its running containers were given.
// Thread-safe: the runtime manager's worker-pool threads share it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "agent/api/pod.h"

namespace agent::runtime {

// The checkpoint's name under the root dir.
inline constexpr char kActuatedResourcesCheckpoint[] = "actuated_resources_checkpoint";

// Only the "cpu" and "memory" entries of `r`: what resize changes and the record keeps.
api::ResourceRequirements cpuAndMemory(const api::ResourceRequirements& r);

class ActuatedResources {
 public:
  // `path` "" keeps the record in memory only.
  explicit ActuatedResources(std::string path);

  // Reads the checkpoint; a missing file is an empty record. A damaged one is an
  // error naming the file (the record starts empty: resizes of containers it named
  // fall back to what the runtime reports).
  absl::Status load();

  std::optional<api::ResourceRequirements> get(const std::string& containerId) const;
  // Records (cpu and memory of) `r` for the container and writes the checkpoint; a
  // failed write is returned, the record in memory is kept.
  absl::Status set(const std::string& containerId, const api::ResourceRequirements& r);
  // Forgets containers for which `live` is false, except those recorded at or after
  // `listedAt` (created while the runtime was being listed).
  absl::Status retain(const std::function<bool(const std::string& id)>& live,
                      std::chrono::steady_clock::time_point listedAt);

  const std::string& path() const { return path_; }

 private:
  struct Entry {
    api::ResourceRequirements resources;
    std::chrono::steady_clock::time_point recordedAt{};  // not persisted: loaded = old
  };
  absl::Status writeLocked() const;

  const std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace agent::runtime

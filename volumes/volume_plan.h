// What the volume manager sets up for one volume of a pod, already resolved from the
// pod spec and the API objects it names (agent/volumes/ builds these): the layer
// below the agent, so it speaks in paths, sizes and payloads, not in pod specs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "volumes/payload.h"

namespace volumes {

// The kubelet's plugin directory names under pods/<uid>/volumes/.
inline constexpr char kEmptyDirPlugin[] = "kubernetes.io~empty-dir";
inline constexpr char kConfigMapPlugin[] = "kubernetes.io~configmap";
inline constexpr char kSecretPlugin[] = "kubernetes.io~secret";
inline constexpr char kDownwardAPIPlugin[] = "kubernetes.io~downward-api";
inline constexpr char kProjectedPlugin[] = "kubernetes.io~projected";
inline constexpr char kLocalVolumePlugin[] = "kubernetes.io~local-volume";

enum class VolumeKind {
  kEmptyDir,  // a directory, or a tmpfs when `memory`
  kHostPath,  // the host's path itself, checked against hostPathType; nothing mounted
  kPayload,   // configMap / secret / downwardAPI / projected: files by the atomic writer
  kBind,      // a local PersistentVolume: `source` bind-mounted at the volume's path
};

// fsGroupChangePolicy.
enum class FsGroupPolicy { kAlways, kOnRootMismatch };

struct VolumePlan {
  std::string name;  // the pod's volume name
  VolumeKind kind = VolumeKind::kEmptyDir;
  // Directory under pods/<uid>/volumes/ (one of the k*Plugin names); unused for
  // kHostPath. For kBind the directory entry is `dirName` (the PV's name), else `name`.
  std::string plugin;
  std::string dirName;

  // kEmptyDir and kPayload: a tmpfs (emptyDir medium Memory, secret, projected).
  bool memory = false;
  std::optional<uint64_t> sizeBytes{};  // tmpfs size= (emptyDir sizeLimit or memory limit)

  // kHostPath: the path and the spec's type ("" = no check); kBind: the PV's path.
  std::string source;
  std::string hostPathType;

  // kPayload: the files, and a hash of them so an unchanged payload is not rewritten.
  Payload payload{};

  // Ownership (pod securityContext.fsGroup); not for kHostPath.
  std::optional<int64_t> fsGroup{};
  FsGroupPolicy fsGroupPolicy = FsGroupPolicy::kAlways;
  // Always mounted read-only into containers (configMap, secret, downwardAPI,
  // projected; a PVC with readOnly).
  bool readOnly = false;

  // Set when the volume cannot be set up as specified (a missing ConfigMap, a bad
  // key): the FailedMount message, e.g. `configmap "x" not found`.
  std::string error;
  // Set while an input is not known yet (a watch not synced, a token not issued):
  // the volume waits without an event.
  bool waiting = false;
};

}  // namespace volumes

// The typed PersistentVolumeClaim and PersistentVolume (k8s.io/api/core/v1) as the node
// agent sees them: enough to follow a pod's claim to its bound volume and mount a
// `local` or `hostPath` PersistentVolume. Any other PV source is only named (for the
// "not supported" message), never decoded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "core/json_decode.h"

namespace agent::api {

// PersistentVolumeClaim status.phase values.
inline constexpr char kClaimPending[] = "Pending";
inline constexpr char kClaimBound[] = "Bound";
inline constexpr char kClaimLost[] = "Lost";

// PersistentVolume(Claim) spec.volumeMode values (nil means Filesystem).
inline constexpr char kVolumeModeFilesystem[] = "Filesystem";
inline constexpr char kVolumeModeBlock[] = "Block";

struct PersistentVolumeClaim {
  ObjectMeta metadata{};
  std::vector<std::string> accessModes{};   // spec.accessModes
  std::string volumeName{};                 // spec.volumeName: the bound PV
  std::optional<std::string> volumeMode{};  // spec.volumeMode
  std::string phase{};                      // status.phase
};

// spec.claimRef: the claim a PV is bound (or pre-bound) to.
struct ClaimReference {
  std::string namespace_{};  // JSON "namespace".
  std::string name{};
  std::string uid{};
};

struct LocalVolumeSource {
  std::string path{};
  std::optional<std::string> fsType{};
};

struct PersistentVolume {
  ObjectMeta metadata{};
  std::vector<std::string> accessModes{};          // spec.accessModes
  std::optional<std::string> volumeMode{};         // spec.volumeMode
  std::optional<ClaimReference> claimRef{};        // spec.claimRef
  std::optional<LocalVolumeSource> local{};        // spec.local
  std::optional<HostPathVolumeSource> hostPath{};  // spec.hostPath (pod.h's type)
  // The JSON names of the volume sources set in spec other than local and hostPath
  // ("nfs", "csi", ...), in the order the object lists them.
  std::vector<std::string> otherSources{};
  std::string phase{};  // status.phase: Available, Bound, Released, Failed
};

// Decode a v1 object; `kind`/`apiVersion` may be absent but must match when present.
// Errors name the field: `spec.local.path: expected string, got number 3`.
absl::StatusOr<PersistentVolumeClaim> decodePersistentVolumeClaim(const nlohmann::json& j);
absl::StatusOr<PersistentVolume> decodePersistentVolume(const nlohmann::json& j);

absl::Status decodeJson(const core::JsonField& f, PersistentVolumeClaim& out);
absl::Status decodeJson(const core::JsonField& f, ClaimReference& out);
absl::Status decodeJson(const core::JsonField& f, LocalVolumeSource& out);
absl::Status decodeJson(const core::JsonField& f, PersistentVolume& out);

}  // namespace agent::api

#include "agent/api/storage_objects.h"

#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "agent/api/object_decode.h"
#include "agent/api/pod_decode.h"
#include "core/status.h"

namespace agent::api {
namespace {

using core::decodeObject;
using core::JsonField;

// PersistentVolumeSource members (k8s.io/api/core/v1) other than local and hostPath:
// cubelet mounts none of them, but names them when refusing a PV.
constexpr std::array<std::string_view, 20> kOtherPersistentVolumeSources = {
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "nfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
};

}  // namespace

absl::Status decodeJson(const JsonField& f, PersistentVolumeClaim& out) {
  RETURN_IF_ERROR(checkKind(f, "PersistentVolumeClaim"));
  RETURN_IF_ERROR(decodeObject(f, "metadata", out.metadata));
  RETURN_IF_ERROR(decodeObject(f["spec"], "accessModes", out.accessModes, "volumeName",
                               out.volumeName, "volumeMode", out.volumeMode));
  return decodeObject(f["status"], "phase", out.phase);
}

absl::Status decodeJson(const JsonField& f, ClaimReference& out) {
  return decodeObject(f, "namespace", out.namespace_, "name", out.name, "uid", out.uid);
}

absl::Status decodeJson(const JsonField& f, LocalVolumeSource& out) {
  return decodeObject(f, "path", out.path, "fsType", out.fsType);
}

absl::Status decodeJson(const JsonField& f, PersistentVolume& out) {
  RETURN_IF_ERROR(checkKind(f, "PersistentVolume"));
  RETURN_IF_ERROR(decodeObject(f, "metadata", out.metadata));
  JsonField spec = f["spec"];
  RETURN_IF_ERROR(decodeObject(spec, "accessModes", out.accessModes, "volumeMode", out.volumeMode,
                               "claimRef", out.claimRef, "local", out.local, "hostPath",
                               out.hostPath));
  out.otherSources.clear();
  for (std::string_view name : kOtherPersistentVolumeSources) {
    JsonField source = spec[name];
    if (!source.isSet()) continue;
    RETURN_IF_ERROR(source.expectObject());
    out.otherSources.emplace_back(name);
  }
  return decodeObject(f["status"], "phase", out.phase);
}

absl::StatusOr<PersistentVolumeClaim> decodePersistentVolumeClaim(const nlohmann::json& j) {
  return decodeRoot<PersistentVolumeClaim>(j, "PersistentVolumeClaim");
}

absl::StatusOr<PersistentVolume> decodePersistentVolume(const nlohmann::json& j) {
  return decodeRoot<PersistentVolume>(j, "PersistentVolume");
}

}  // namespace agent::api

// The files of configMap, secret and downwardAPI volumes (and of the same sources inside
// a projected volume), built as the kubelet's volume plugins build them (configmap /
// secret MakePayload, downwardapi CollectData): items with key/path/mode, defaultMode,
// optional objects and keys. Paths are validated and cleaned as the atomic writer does.
// Item modes are checked here; defaultMode is the caller's to check (it is the volume's,
// shared by the sources of a projected volume).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/config_objects.h"
#include "agent/api/pod.h"
#include "agent/api/quantity.h"
#include "volumes/payload.h"

namespace agent::volumes {

// The API server's default for defaultMode (and what an unset one means here).
inline constexpr int32_t kDefaultVolumeMode = 0644;

// The atomic writer's validatePath: not empty, relative, no ".." element, not starting
// with "..", at most 4096 bytes with elements of at most 255. Kept here (rather than
// volumes::validatePayloadPath) so plans fail before anything is mounted, with the same
// `invalid path: ...` wording.
absl::Status checkPayloadPath(const std::string& path);

// Go's path.Clean for a relative path that passed checkPayloadPath ("a//b/./c" -> "a/b/c").
std::string cleanPayloadPath(const std::string& path);

// A file mode in 0..0777, as API validation says: `<field>: Invalid value: 4096: must be
// a number between 0 and 0777 (octal), both inclusive`.
absl::Status checkMode(const std::string& field, int32_t mode);

// MakePayload of the configmap plugin. `cm` null: the (optional) ConfigMap does not exist,
// which gives an empty payload. Without items every key of data and binaryData; an item
// whose key is in neither is skipped when optional, else `configmap references
// non-existent config key: <key>`. `field` names the source in mode errors
// ("configMap", "projected.sources[0].configMap").
absl::StatusOr<::volumes::Payload> configMapPayload(const std::vector<api::KeyToPath>& items,
                                                    const api::ConfigMap* cm, int32_t defaultMode,
                                                    bool optional, const std::string& field);

// MakePayload of the secret plugin: as configMapPayload, over Secret data; a missing key
// is `references non-existent secret key: <key>`.
absl::StatusOr<::volumes::Payload> secretPayload(const std::vector<api::KeyToPath>& items,
                                                 const api::Secret* secret, int32_t defaultMode,
                                                 bool optional, const std::string& field);

// CollectData of the downwardAPI plugin: fieldRef items (metadata.name, .namespace, .uid,
// .labels, .annotations and their ['key'] forms; anything else is `unsupported fieldPath:
// <path>`) and resourceFieldRef items (of the named container; node allocatable for unset
// limits). All item errors are reported together (aggregateErrors).
absl::StatusOr<::volumes::Payload> downwardAPIPayload(
    const std::vector<api::DownwardAPIVolumeFile>& items, const api::Pod& pod,
    const std::map<std::string, api::Quantity>& allocatable, int32_t defaultMode,
    const std::string& field);

// The message of Go's utilerrors.NewAggregate: the one error, or `[e1, e2]` with
// duplicates dropped. Empty for no errors.
std::string aggregateErrors(const std::vector<std::string>& errors);

}  // namespace agent::volumes

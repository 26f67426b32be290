// The kubelet's file source, pure part: static pod manifests read from a directory
// (or one file) and turned into pods with the identity the kubelet gives them. No
// event loop here; the watcher calls scanManifestDir when the directory changes.
//
// Rules (kubelet pkg/kubelet/config/file.go, common.go): names starting with "." are
// ignored, directories are not recursed into, each file is YAML or JSON with exactly
// one v1 Pod. The pod is named "<name>-<lowercase node name>", lands in namespace
// "default" unless it names one, is bound to the node, and gets a UID derived from
// its content, the node name and the file path unless metadata.uid is set. A bad file
// never stops the others.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"

namespace agent::sources {

inline constexpr std::string_view kConfigHashAnnotation = "kubernetes.io/config.hash";
inline constexpr std::string_view kConfigSourceAnnotation = "kubernetes.io/config.source";
inline constexpr std::string_view kConfigSeenAnnotation = "kubernetes.io/config.seen";
inline constexpr std::string_view kConfigMirrorAnnotation = "kubernetes.io/config.mirror";
inline constexpr std::string_view kFileSource = "file";

struct ManifestError {
  std::string file;
  // The whole one-line error, already naming the file:
  // "/etc/kubernetes/manifests/web.yaml: spec.containers[0].image: Required value".
  std::string message;
};

struct StaticPod {
  std::shared_ptr<const api::Pod> pod;
  std::string file;
  // The manifest as compact JSON: the body of the pod's mirror pod in the API.
  std::shared_ptr<const std::string> manifestJson;
};

struct ManifestScan {
  std::vector<StaticPod> pods;  // In file name order.
  std::vector<ManifestError> errors;
};

// Loads every manifest in `path` (a directory, or a single manifest file, as the
// kubelet's staticPodPath allows). A missing path gives no pods and one error. Two
// files defining the same namespace/name: the first by file name wins, the later one
// is an error naming both.
ManifestScan scanManifestDir(const std::string& path, const std::string& nodeName);

// Reads and converts one manifest file. Errors name the file. `manifestJson`, when
// given, receives the manifest as compact JSON.
absl::StatusOr<api::Pod> loadManifestFile(const std::string& path, const std::string& nodeName,
                                          std::string* manifestJson = nullptr);

// Converts manifest text, as read from `path`, to a defaulted and validated static pod.
absl::StatusOr<api::Pod> staticPodFromManifest(std::string_view text, const std::string& path,
                                               const std::string& nodeName,
                                               std::string* manifestJson = nullptr);

// The UID the agent gives a static pod without metadata.uid. The kubelet hashes its
// decoded Go object, which cannot be reproduced byte for byte; we hash the canonical
// (sorted keys, no whitespace) JSON of the parsed manifest, then "host:<nodeName>"
// and "file:<path>", with 128-bit FNV-1a as current kubelets do (older ones used MD5),
// as 32 hex digits. Formatting, comments and key order do not change it; any value,
// the node name or the path does.
std::string staticPodUid(std::string_view canonicalManifest, std::string_view nodeName,
                         std::string_view path);

// Sets kubernetes.io/config.seen to `now` in RFC 3339 with nanoseconds (UTC), as the
// kubelet's pod config does when it first sees a pod. Not part of the identity.
void setConfigSeen(api::Pod& pod, std::chrono::system_clock::time_point now);

}  // namespace agent::sources

// Container image references as the kubelet and docker read them: the familiar
// short forms ("busybox", "foo/bar:1") expanded to fully qualified names
// ("docker.io/library/busybox:latest"), validated by the distribution grammar.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cri {

struct ImageRef {
  std::string domain;  // "docker.io", "localhost", "registry:5000"
  std::string path;    // "library/busybox"
  // "latest" when the reference names neither a tag nor a digest; empty when it
  // has only a digest.
  std::string tag;
  std::string digest;  // "sha256:<64 hex>", or empty

  // "domain/path[:tag][@digest]".
  std::string normalized() const;
  bool operator==(const ImageRef&) const = default;
};

// Parses and normalizes `image`. Invalid references (empty, uppercase in the
// repository, bad tag or digest, a bare 64-hex id, name over 255 characters)
// are InvalidArgument errors that quote the reference and say what is wrong.
absl::StatusOr<ImageRef> parseImageRef(std::string_view image);

// The kubelet's imagePullPolicy default: Always when this is true (the tag is
// "latest", explicitly or because neither tag nor digest is given), else
// IfNotPresent. An unparsable reference gives false, as in the kubelet.
bool hasLatestOrNoTag(std::string_view image);

}  // namespace cri

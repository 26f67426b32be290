// The files a configMap, secret, downwardAPI or projected volume shows: relative
// path -> content and mode, as the kubelet's volume plugins build them for its
// atomic writer (FileProjection).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace volumes {

struct FileProjection {
  std::string data;
  int32_t mode = 0644;
  // The owner for a projected service account token with runAsUser (the kubelet's
  // FsUser); unset: root.
  std::optional<int64_t> fsUser{};

  bool operator==(const FileProjection&) const = default;
};

// Relative paths ("key", "dir/key"), already validated (validatePayloadPath).
using Payload = std::map<std::string, FileProjection>;

}  // namespace volumes

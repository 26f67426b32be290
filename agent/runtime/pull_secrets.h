// Registry credentials for image pulls from the pod's imagePullSecrets, as the
// kubelet's credentialprovider keyring picks them: kubernetes.io/dockerconfigjson
// (".dockerconfigjson": {"auths": {...}}) and legacy kubernetes.io/dockercfg
// (".dockercfg": {...}) entries, keyed by registry host and optional path; an image
// gets every entry whose key matches it (host globs like *.example.com, port, path
// prefix), most specific key first (keys reverse-sorted), else the Docker Hub entry
// for Docker Hub images. Each AuthConfig is tried in turn; none means pull anonymously.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent/api/config_objects.h"
#include "agent/api/pod.h"
#include "agent/runtime/env_sources.h"
#include "agent/runtime/env_vars.h"
#include "cri/proto/api.pb.h"

namespace agent::runtime {

// Event reason when referenced pull secrets are missing or unreadable.
inline constexpr char kFailedToRetrieveImagePullSecret[] = "FailedToRetrieveImagePullSecret";

// The Secret names the pod pulls with (spec.imagePullSecrets, empty names dropped),
// i.e. what must be in EnvSources::secrets.
std::vector<std::string> pullSecretNames(const api::Pod& pod);

class DockerKeyring {
 public:
  // Adds the entries of a .dockerconfigjson ({"auths": {...}}) or, with
  // `legacyDockercfg`, a .dockercfg (the "auths" map itself). An entry's "auth"
  // (base64 "user:password") sets username and password. On error nothing is added.
  absl::Status add(std::string_view json, bool legacyDockercfg);
  // Adds a pull Secret of either type; other types are ignored (OK).
  absl::Status addSecret(const api::Secret& secret);

  // The credentials to try for `image` (any reference form; it is normalized to
  // domain/path as the kubelet does), in order.
  std::vector<::runtime::v1::AuthConfig> lookup(std::string_view image) const;

  bool empty() const { return index_.empty(); }

 private:
  void rebuildIndex();
  std::vector<std::string> index_;  // keys, reverse-sorted, unique
  std::vector<std::pair<std::string, ::runtime::v1::AuthConfig>>
      creds_;  // key -> cred, in order added
};

struct PullCredentials {
  std::vector<::runtime::v1::AuthConfig> auths;  // in order; empty: pull without credentials
  std::vector<EnvWarning> warnings;              // missing or unreadable pull secrets
};

// The keyring of the pod's pull secrets (from `sources`, which may be null) looked up
// for `image`. A missing, not yet known or malformed secret is skipped with a warning
// naming it; the others still count.
PullCredentials pullCredentials(const api::Pod& pod, const EnvSources* sources,
                                std::string_view image);

// Exposed for tests: whether keyring key `glob` (host[:port][/path], host parts may be
// globs) matches the normalized image `target` (domain/path).
bool registryKeyMatches(std::string_view glob, std::string_view target);

}  // namespace agent::runtime

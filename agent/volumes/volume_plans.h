// The agent-side translation of a pod's volumes into what the volume manager sets up
// (volumes::VolumePlan): each volume source resolved against the API objects it names
// (ConfigMaps, Secrets, service-account tokens, PersistentVolumeClaims), with the
// kubelet volume plugins' defaults, payloads and FailedMount messages. Pure: the inputs
// are a snapshot, so a re-sync with new inputs gives new plans (updated payloads).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/api/pod.h"
#include "agent/runtime/env_sources.h"
#include "volumes/volume_plan.h"

namespace agent::volumes {

// A serviceAccountToken projection's request: the key tokens are looked up by.
struct TokenRequestSpec {
  std::string serviceAccount;  // spec.serviceAccountName ("default" when empty)
  std::string audience;        // "" = the API server's default audiences
  int64_t expirationSeconds = 3600;
  bool operator<(const TokenRequestSpec&) const;  // for std::map keys
};
struct TokenLookup {
  bool ready = false;
  std::string token;
  std::string error;  // set: the request failed
};
// A PVC as resolved through its bound PV.
struct ClaimLookup {
  enum class State { kPending, kReady, kFailed } state = State::kPending;
  std::string pvName;
  std::string path;          // PV spec.local.path or spec.hostPath.path
  bool local = false;        // local (bind-mounted) vs hostPath (used in place)
  std::string hostPathType;  // PV spec.hostPath.type
  bool pvReadOnly = false;
  std::string error;  // kFailed: the FailedMount message
};
struct VolumeInputs {
  runtime::EnvSourcesPtr sources;                  // may be null: no API (static pods)
  std::map<TokenRequestSpec, TokenLookup> tokens;  // absent = not requested yet (waiting)
  std::map<std::string, ClaimLookup> claims;       // by claim name; absent = waiting
};
// What the pod's volumes need from the API: ConfigMaps, Secrets, tokens and claims.
struct VolumeReferences {
  std::set<std::string> configMaps, secrets, claims;
  std::set<TokenRequestSpec> tokens;
};
VolumeReferences volumeReferences(const api::Pod& pod);

// One plan per pod volume, in spec order. Unsupported volume sources (Volume.otherSources,
// e.g. "nfs") give a plan with `error` saying so. A plan's `error` is the part of the
// kubelet's FailedMount message after `MountVolume.SetUp failed for volume "<name>" : `.
std::vector<::volumes::VolumePlan> volumePlans(const api::Pod& pod, const VolumeInputs& in);

}  // namespace agent::volumes

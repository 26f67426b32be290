// Pod and container securityContext -> CRI security contexts, as the kubelet builds
// them: the effective context (securitycontext.DetermineEffectiveSecurityContext),
// its conversion (kuberuntime determineEffectiveSecurityContext: user and groups,
// capabilities, privileged, read-only root, no_new_privs, masked and read-only /proc
// paths, SELinux, AppArmor, seccomp), the sandbox's (generatePodSandboxLinuxConfig)
// and the runAsNonRoot check (verifyRunAsNonRoot).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "cri/proto/api.pb.h"

namespace agent::runtime {

// What the runtime needs besides the pod to build a container's security context.
struct ContainerSecurityInput {
  // The image's user from CRI ImageStatus (the kubelet's getImageUser): its numeric
  // uid, else its user name; neither = root.
  std::optional<int64_t> imageUid;
  std::string imageUsername;
  // "<root-dir>/seccomp": where Localhost seccomp profiles are ("" = relative paths).
  std::string seccompProfileRoot;
  // --seccomp-default: no seccompProfile means RuntimeDefault instead of Unconfined.
  bool seccompDefault = false;
  // Check a Localhost seccomp profile's file before the container is created.
  bool checkLocalhostProfiles = true;
};

// The kubelet's DetermineEffectiveSecurityContext: the pod's SELinux options and
// run-as fields, overridden by the container's fields that are set.
api::SecurityContext effectiveSecurityContext(const api::Pod& pod, const api::Container& c);

// The kubelet's verifyRunAsNonRoot against the effective runAsUser, else the image's
// user; the error is the kubelet's message.
absl::Status verifyRunAsNonRoot(const api::Pod& pod, const api::Container& c,
                                const std::optional<int64_t>& imageUid,
                                const std::string& imageUsername);

// The default masked and read-only /proc and /sys paths (ConvertToRuntimeMaskedPaths,
// ConvertToRuntimeReadonlyPaths); none with procMount Unmasked.
std::vector<std::string> runtimeMaskedPaths(const std::optional<std::string>& procMount);
std::vector<std::string> runtimeReadonlyPaths(const std::optional<std::string>& procMount);

// The kubelet's getSeccompProfile: the container's seccompProfile, else the pod's,
// else RuntimeDefault (seccompDefault) or Unconfined. Localhost refers to
// `<root>/<localhostProfile>`. `field` names the container for errors.
absl::StatusOr<::runtime::v1::SecurityProfile> seccompProfileFor(const api::Pod& pod,
                                                                 const api::Container& c,
                                                                 const std::string& root,
                                                                 bool seccompDefault);

// Fills `sc` (namespace options included) for container `c`. Errors (all
// CreateContainerConfigError): runAsNonRoot violated, an unknown
// supplementalGroupsPolicy or AppArmor type, a Localhost profile without a name, or
// (with checkLocalhostProfiles) a seccomp profile file missing or broken.
absl::Status setContainerSecurityContext(const api::Pod& pod, const api::Container& c,
                                         const ContainerSecurityInput& in,
                                         ::runtime::v1::LinuxContainerSecurityContext* sc);

// Any init, app or ephemeral container privileged (HasPrivilegedContainer).
bool hasPrivilegedContainer(const api::Pod& pod);

// The sandbox's: privileged, seccomp RuntimeDefault (always: the pod's profile is for
// its containers, kubernetes#84623), run-as user and group, fsGroup then
// supplementalGroups, their policy and SELinux options. Namespace options are set
// by the caller.
absl::Status setSandboxSecurityContext(const api::Pod& pod,
                                       ::runtime::v1::LinuxSandboxSecurityContext* sc);

}  // namespace agent::runtime

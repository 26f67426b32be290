#include "agent/runtime/security_context.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/sandbox_config.h"
#include "agent/runtime/seccomp_profile.h"
#include "core/go_quote.h"
#include "core/status.h"

namespace agent::runtime {
namespace {

namespace v1 = ::runtime::v1;

constexpr char kAppArmorAnnotationPrefix[] = "container.apparmor.security.beta.kubernetes.io/";

// The kubelet's defaultMaskedPaths and defaultReadonlyPaths (pkg/securitycontext).
const std::vector<std::string>& defaultMaskedPaths() {
  static const auto* paths = new std::vector<std::string>{"/proc/asound",
                                                          "/proc/acpi",
                                                          "/proc/kcore",
                                                          "/proc/keys",
                                                          "/proc/latency_stats",
                                                          "/proc/timer_list",
                                                          "/proc/timer_stats",
                                                          "/proc/sched_debug",
                                                          "/proc/scsi",
                                                          "/sys/firmware",
                                                          "/sys/devices/virtual/powercap"};
  return *paths;
}

const std::vector<std::string>& defaultReadonlyPaths() {
  static const auto* paths = new std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq",
                                                          "/proc/sys", "/proc/sysrq-trigger"};
  return *paths;
}

std::string podQuoted(const api::Pod& pod) { return core::goQuote(formatPod(pod)); }

void setSELinux(const api::SELinuxOptions& o, v1::SELinuxOption* out) {
  out->set_user(o.user);
  out->set_role(o.role);
  out->set_type(o.type);
  out->set_level(o.level);
}

absl::StatusOr<v1::SupplementalGroupsPolicy> groupsPolicy(const std::string& policy) {
  if (policy == "Merge") return v1::Merge;
  if (policy == "Strict") return v1::Strict;
  return absl::InvalidArgumentError("unsupported supplementalGroupsPolicy: " + policy);
}

v1::SecurityProfile profileOfType(v1::SecurityProfile::ProfileType t) {
  v1::SecurityProfile p;
  p.set_profile_type(t);
  return p;
}

// Go's filepath.Join(root, rel) for a relative, descending `rel`.
std::string joinPath(const std::string& root, const std::string& rel) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(rel, '/')) {
    if (!p.empty() && p != ".") parts.emplace_back(p);
  }
  std::string out = root;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  for (const auto& p : parts) {
    if (!out.empty() && out.back() != '/') out += '/';
    out += p;
  }
  return out;
}

// The API server's ValidateLocalDescendingPath for localhostProfile, which static
// pods never went through.
absl::Status checkDescendingPath(const std::string& path, const std::string& field) {
  if (!path.empty() && path.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", core::goQuote(path), ": must be a relative path"));
  }
  for (absl::string_view p : absl::StrSplit(path, '/')) {
    if (p == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " ", core::goQuote(path), ": must not contain '..'"));
    }
  }
  return absl::OkStatus();
}

// The kubelet's fieldSeccompProfile.
absl::StatusOr<v1::SecurityProfile> fieldSeccompProfile(const api::SeccompProfile& p,
                                                        const std::string& root,
                                                        const std::string& field) {
  if (p.type == "RuntimeDefault") return profileOfType(v1::SecurityProfile::RuntimeDefault);
  if (p.type == "Localhost") {
    if (!p.localhostProfile || p.localhostProfile->empty()) {
      return absl::InvalidArgumentError(
          "localhostProfile must be set if seccompProfile type is Localhost.");
    }
    RETURN_IF_ERROR(
        checkDescendingPath(*p.localhostProfile, absl::StrCat(field, ".localhostProfile")));
    v1::SecurityProfile out = profileOfType(v1::SecurityProfile::Localhost);
    out.set_localhost_ref(joinPath(root, *p.localhostProfile));
    return out;
  }
  return profileOfType(v1::SecurityProfile::Unconfined);
}

// The kubelet's apparmor.GetProfile: the container's, else the deprecated
// annotation (static pods may not have had it synced to the field), else the pod's.
std::optional<api::AppArmorProfile> appArmorProfileFor(const api::Pod& pod,
                                                       const api::Container& c) {
  if (c.securityContext && c.securityContext->appArmorProfile) {
    return c.securityContext->appArmorProfile;
  }
  auto it = pod.metadata.annotations.find(kAppArmorAnnotationPrefix + c.name);
  if (it != pod.metadata.annotations.end()) {
    const std::string& v = it->second;
    if (v == "runtime/default") return api::AppArmorProfile{"RuntimeDefault", std::nullopt};
    if (v == "unconfined") return api::AppArmorProfile{"Unconfined", std::nullopt};
    if (v.rfind("localhost/", 0) == 0) {
      return api::AppArmorProfile{"Localhost", v.substr(std::string_view("localhost/").size())};
    }
    // Anything else is invalid and ignored, as the kubelet does.
  }
  if (pod.spec.securityContext && pod.spec.securityContext->appArmorProfile) {
    return pod.spec.securityContext->appArmorProfile;
  }
  return std::nullopt;
}

// The deprecated apparmor_profile name the kubelet still sends beside the profile,
// for runtimes that predate the field.
void setDeprecatedAppArmorName(v1::LinuxContainerSecurityContext* sc, std::string name) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  sc->set_apparmor_profile(std::move(name));
#pragma GCC diagnostic pop
}

// The kubelet's getAppArmorProfile: the CRI profile and the deprecated profile name.
absl::Status setAppArmor(const api::Pod& pod, const api::Container& c,
                         v1::LinuxContainerSecurityContext* sc) {
  auto profile = appArmorProfileFor(pod, c);
  if (!profile) return absl::OkStatus();
  if (profile->type == "RuntimeDefault") {
    *sc->mutable_apparmor() = profileOfType(v1::SecurityProfile::RuntimeDefault);
    setDeprecatedAppArmorName(sc, "runtime/default");
  } else if (profile->type == "Unconfined") {
    *sc->mutable_apparmor() = profileOfType(v1::SecurityProfile::Unconfined);
    setDeprecatedAppArmorName(sc, "unconfined");
  } else if (profile->type == "Localhost") {
    if (!profile->localhostProfile) {
      return absl::InvalidArgumentError("missing localhost apparmor profile name");
    }
    auto* p = sc->mutable_apparmor();
    p->set_profile_type(v1::SecurityProfile::Localhost);
    p->set_localhost_ref(*profile->localhostProfile);
    setDeprecatedAppArmorName(sc, "localhost/" + *profile->localhostProfile);
  } else {
    return absl::InvalidArgumentError("unknown apparmor profile type: " +
                                      core::goQuote(profile->type));
  }
  return absl::OkStatus();
}

template <typename F>
void forEachContainer(const api::Pod& pod, F f) {
  for (const auto& c : pod.spec.initContainers) f(c);
  for (const auto& c : pod.spec.containers) f(c);
  for (const auto& c : pod.spec.ephemeralContainers) f(c);
}

}  // namespace

api::SecurityContext effectiveSecurityContext(const api::Pod& pod, const api::Container& c) {
  api::SecurityContext eff;
  if (const auto& psc = pod.spec.securityContext) {
    eff.seLinuxOptions = psc->seLinuxOptions;
    eff.runAsUser = psc->runAsUser;
    eff.runAsGroup = psc->runAsGroup;
    eff.runAsNonRoot = psc->runAsNonRoot;
  }
  if (!c.securityContext) return eff;
  const api::SecurityContext& csc = *c.securityContext;
  if (csc.seLinuxOptions) eff.seLinuxOptions = csc.seLinuxOptions;
  if (csc.capabilities) eff.capabilities = csc.capabilities;
  if (csc.privileged) eff.privileged = csc.privileged;
  if (csc.runAsUser) eff.runAsUser = csc.runAsUser;
  if (csc.runAsGroup) eff.runAsGroup = csc.runAsGroup;
  if (csc.runAsNonRoot) eff.runAsNonRoot = csc.runAsNonRoot;
  if (csc.readOnlyRootFilesystem) eff.readOnlyRootFilesystem = csc.readOnlyRootFilesystem;
  if (csc.allowPrivilegeEscalation) eff.allowPrivilegeEscalation = csc.allowPrivilegeEscalation;
  if (csc.procMount) eff.procMount = csc.procMount;
  return eff;
}

absl::Status verifyRunAsNonRoot(const api::Pod& pod, const api::Container& c,
                                const std::optional<int64_t>& imageUid,
                                const std::string& imageUsername) {
  api::SecurityContext eff = effectiveSecurityContext(pod, c);
  if (!eff.runAsNonRoot.value_or(false)) return absl::OkStatus();
  const std::string where = absl::StrCat("(pod: ", podQuoted(pod), ", container: ", c.name, ")");
  if (eff.runAsUser) {
    if (*eff.runAsUser == 0) {
      return absl::InvalidArgumentError("container's runAsUser breaks non-root policy " + where);
    }
    return absl::OkStatus();
  }
  if (!imageUid && !imageUsername.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("container has runAsNonRoot and image has non-numeric user (", imageUsername,
                     "), cannot verify user is non-root ", where));
  }
  if (imageUid) {
    if (*imageUid == 0) {
      return absl::InvalidArgumentError("container has runAsNonRoot and image will run as root " +
                                        where);
    }
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    if (*imageUid < 0 || *imageUid > kMax) {
      return absl::InvalidArgumentError(absl::StrCat(
          "container has runAsNonRoot and image has an invalid user id (", *imageUid,
          "). (Must be 1-(", kMax, ")): must be between 0 and ", kMax, ", inclusive ", where));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> runtimeMaskedPaths(const std::optional<std::string>& procMount) {
  if (procMount == "Unmasked") return {};
  return defaultMaskedPaths();
}

std::vector<std::string> runtimeReadonlyPaths(const std::optional<std::string>& procMount) {
  if (procMount == "Unmasked") return {};
  return defaultReadonlyPaths();
}

absl::StatusOr<v1::SecurityProfile> seccompProfileFor(const api::Pod& pod, const api::Container& c,
                                                      const std::string& root,
                                                      bool seccompDefault) {
  if (c.securityContext && c.securityContext->seccompProfile) {
    return fieldSeccompProfile(*c.securityContext->seccompProfile, root,
                               "securityContext.seccompProfile");
  }
  if (pod.spec.securityContext && pod.spec.securityContext->seccompProfile) {
    return fieldSeccompProfile(*pod.spec.securityContext->seccompProfile, root,
                               "spec.securityContext.seccompProfile");
  }
  return profileOfType(seccompDefault ? v1::SecurityProfile::RuntimeDefault
                                      : v1::SecurityProfile::Unconfined);
}

absl::Status setContainerSecurityContext(const api::Pod& pod, const api::Container& c,
                                         const ContainerSecurityInput& in,
                                         v1::LinuxContainerSecurityContext* sc) {
  RETURN_IF_ERROR(verifyRunAsNonRoot(pod, c, in.imageUid, in.imageUsername));
  api::SecurityContext eff = effectiveSecurityContext(pod, c);

  // convertToRuntimeSecurityContext: names of capabilities as given ("NET_ADMIN", "ALL").
  if (eff.capabilities) {
    auto* caps = sc->mutable_capabilities();
    for (const auto& a : eff.capabilities->add) caps->add_add_capabilities(a);
    for (const auto& d : eff.capabilities->drop) caps->add_drop_capabilities(d);
  }
  if (eff.seLinuxOptions) setSELinux(*eff.seLinuxOptions, sc->mutable_selinux_options());
  if (eff.runAsUser) sc->mutable_run_as_user()->set_value(*eff.runAsUser);
  if (eff.runAsGroup) sc->mutable_run_as_group()->set_value(*eff.runAsGroup);
  sc->set_privileged(eff.privileged.value_or(false));
  sc->set_readonly_rootfs(eff.readOnlyRootFilesystem.value_or(false));

  auto seccomp = seccompProfileFor(pod, c, in.seccompProfileRoot, in.seccompDefault);
  if (!seccomp.ok()) return seccomp.status();
  if (in.checkLocalhostProfiles && seccomp->profile_type() == v1::SecurityProfile::Localhost) {
    if (absl::Status s = checkSeccompProfileFile(seccomp->localhost_ref()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("container ", core::goQuote(c.name),
                                                     ": Localhost seccomp profile ", s.message()));
    }
  }
  *sc->mutable_seccomp() = std::move(*seccomp);
  RETURN_IF_ERROR(setAppArmor(pod, c, sc));

  // No runAsUser: the image's user, by uid when numeric (as the kubelet does).
  if (!eff.runAsUser) {
    if (in.imageUid) sc->mutable_run_as_user()->set_value(*in.imageUid);
    sc->set_run_as_username(in.imageUsername);
  }

  // The pod's fsGroup, then its supplementalGroups, so that the container can use its
  // volumes' group.
  if (const auto& psc = pod.spec.securityContext) {
    if (psc->fsGroup) sc->add_supplemental_groups(*psc->fsGroup);
    for (int64_t g : psc->supplementalGroups) sc->add_supplemental_groups(g);
    if (psc->supplementalGroupsPolicy) {
      auto policy = groupsPolicy(*psc->supplementalGroupsPolicy);
      if (!policy.ok()) return policy.status();
      sc->set_supplemental_groups_policy(*policy);
    }
  }
  // AddNoNewPrivileges: only an explicit allowPrivilegeEscalation: false.
  sc->set_no_new_privs(eff.allowPrivilegeEscalation.has_value() && !*eff.allowPrivilegeEscalation);
  for (auto& p : runtimeMaskedPaths(eff.procMount)) sc->add_masked_paths(std::move(p));
  for (auto& p : runtimeReadonlyPaths(eff.procMount)) sc->add_readonly_paths(std::move(p));
  return absl::OkStatus();
}

bool hasPrivilegedContainer(const api::Pod& pod) {
  bool privileged = false;
  forEachContainer(pod, [&](const api::Container& c) {
    if (c.securityContext && c.securityContext->privileged.value_or(false)) privileged = true;
  });
  return privileged;
}

absl::Status setSandboxSecurityContext(const api::Pod& pod, v1::LinuxSandboxSecurityContext* sc) {
  sc->set_privileged(hasPrivilegedContainer(pod));
  *sc->mutable_seccomp() = profileOfType(v1::SecurityProfile::RuntimeDefault);
  const auto& psc = pod.spec.securityContext;
  if (!psc) return absl::OkStatus();
  if (psc->runAsUser) sc->mutable_run_as_user()->set_value(*psc->runAsUser);
  if (psc->runAsGroup) sc->mutable_run_as_group()->set_value(*psc->runAsGroup);
  if (psc->fsGroup) sc->add_supplemental_groups(*psc->fsGroup);
  for (int64_t g : psc->supplementalGroups) sc->add_supplemental_groups(g);
  if (psc->supplementalGroupsPolicy) {
    auto policy = groupsPolicy(*psc->supplementalGroupsPolicy);
    if (!policy.ok()) return policy.status();
    sc->set_supplemental_groups_policy(*policy);
  }
  if (psc->seLinuxOptions) setSELinux(*psc->seLinuxOptions, sc->mutable_selinux_options());
  return absl::OkStatus();
}

}  // namespace agent::runtime

// The kubelet's sysctl admit handler (pkg/kubelet/sysctl): a pod's
// securityContext.sysctls must be on the node's allowlist, the safe sysctls plus
// --allowed-unsafe-sysctls (names, or prefixes ending in '*'), and each must be
// namespaced by the kernel (ipc or net). A pod sharing the host's network or IPC
// namespace may not set that namespace's sysctls. A refused pod fails admission with
// reason SysctlForbidden.
// Names may use '/' as the separator ("net/ipv4/ip_local_port_range"); they are
// compared, and handed to the runtime, in the dotted form (sysctl.d(5)).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/pods/admission.h"

namespace agent::pods {

inline constexpr char kSysctlForbiddenReason[] = "SysctlForbidden";

// The kernel namespace a sysctl lives in (component-helpers NamespacedBy).
enum class SysctlNamespace { kUnknown, kIpc, kNet };
SysctlNamespace sysctlNamespacedBy(std::string_view name);

// ConvertSysctlVariableToDotsSeparator: when the first separator is '/', '/' and '.'
// swap ("net/ipv4/conf/eno2.100/rp_filter" -> "net.ipv4.conf.eno2/100.rp_filter").
std::string sysctlToDots(std::string_view name);

// policy validation IsValidSysctlPattern: at most 253 characters, dot- or
// slash-separated segments of [a-z0-9_-], optionally ending in '*'.
bool isValidSysctlPattern(std::string_view pattern);

// SafeSysctlAllowlist for a kernel "major.minor[.patch...]" (uname release; "" when
// unknown): the sysctls that were always safe, plus net.ipv4.ip_local_reserved_ports
// (3.16), net.ipv4.tcp_rmem and tcp_wmem (4.15) when the kernel is new enough.
std::vector<std::string> safeSysctls(std::string_view kernelRelease);

class SysctlAllowlist {
 public:
  // NewAllowlist over `patterns`: an invalid pattern, or one not known to be
  // namespaced, is an error naming it.
  static absl::StatusOr<SysctlAllowlist> create(const std::vector<std::string>& patterns);

  // The safe sysctls for the running kernel plus `allowedUnsafe`.
  static absl::StatusOr<SysctlAllowlist> forNode(const std::vector<std::string>& allowedUnsafe);

  // The admit handler: nullopt when every sysctl of the pod is allowed.
  std::optional<Rejection> admit(const api::Pod& pod) const;

 private:
  // "" when allowed, else why not (validateSysctl's error text).
  std::string validate(const std::string& sysctl, bool hostNet, bool hostIPC) const;

  std::map<std::string, SysctlNamespace> sysctls_;
  std::map<std::string, SysctlNamespace> prefixes_;
};

}  // namespace agent::pods

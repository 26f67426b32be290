#include "agent/pods/sysctls.h"

#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <regex>

namespace agent::pods {
namespace {

// apivalidation.SysctlMaxLength.
constexpr size_t kSysctlMaxLength = 253;

// Safe in every release since they were added; kept regardless of the kernel.
constexpr std::array<const char*, 9> kLegacySafeSysctls = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
};

struct NewerSysctl {
  const char* name;
  int major, minor;  // the kernel that namespaced it
};
constexpr std::array<NewerSysctl, 3> kNewerSafeSysctls = {{
    {"net.ipv4.ip_local_reserved_ports", 3, 16},
    {"net.ipv4.tcp_rmem", 4, 15},
    {"net.ipv4.tcp_wmem", 4, 15},
}};

const char* namespaceName(SysctlNamespace ns) {
  return ns == SysctlNamespace::kIpc ? "ipc" : "net";
}

std::string quote(const std::string& s) { return "\"" + s + "\""; }

// version.ParseGeneric's leading "major.minor": nullopt when the release has none.
std::optional<std::pair<int, int>> majorMinor(std::string_view release) {
  int major = 0, minor = 0;
  const char* end = release.data() + release.size();
  auto r1 = std::from_chars(release.data(), end, major);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '.') return std::nullopt;
  auto r2 = std::from_chars(r1.ptr + 1, end, minor);
  if (r2.ec != std::errc()) return std::nullopt;
  return std::make_pair(major, minor);
}

}  // namespace

SysctlNamespace sysctlNamespacedBy(std::string_view name) {
  if (name == "kernel.sem") return SysctlNamespace::kIpc;
  for (std::string_view p : {"kernel.shm", "kernel.msg", "fs.mqueue."}) {
    if (name.starts_with(p)) return SysctlNamespace::kIpc;
  }
  if (name.starts_with("net.")) return SysctlNamespace::kNet;
  return SysctlNamespace::kUnknown;
}

std::string sysctlToDots(std::string_view name) {
  std::string out(name);
  size_t first = out.find_first_of("./");
  if (first == std::string::npos || out[first] == '.') return out;
  for (char& c : out) {
    if (c == '.') {
      c = '/';
    } else if (c == '/') {
      c = '.';
    }
  }
  return out;
}

bool isValidSysctlPattern(std::string_view pattern) {
  if (pattern.size() > kSysctlMaxLength) return false;
  static const std::regex re(
      R"(^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]$)");
  return std::regex_match(pattern.begin(), pattern.end(), re);
}

std::vector<std::string> safeSysctls(std::string_view kernelRelease) {
  std::vector<std::string> out(kLegacySafeSysctls.begin(), kLegacySafeSysctls.end());
  auto version = majorMinor(kernelRelease);
  if (!version) return out;
  for (const auto& s : kNewerSafeSysctls) {
    if (*version >= std::make_pair(s.major, s.minor)) out.emplace_back(s.name);
  }
  return out;
}

absl::StatusOr<SysctlAllowlist> SysctlAllowlist::create(const std::vector<std::string>& patterns) {
  SysctlAllowlist w;
  for (const auto& raw : patterns) {
    if (!isValidSysctlPattern(raw)) {
      return absl::InvalidArgumentError(
          "sysctl " + quote(raw) +
          " must have at most 253 characters and match regex "
          R"(([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*([a-z0-9][-_a-z0-9]*)?[a-z0-9*])");
    }
    std::string s = sysctlToDots(raw);
    if (s.ends_with('*')) {
      std::string prefix = s.substr(0, s.size() - 1);
      SysctlNamespace ns = sysctlNamespacedBy(prefix);
      if (ns == SysctlNamespace::kUnknown) {
        return absl::InvalidArgumentError("the sysctls " + quote(s) +
                                          " are not known to be namespaced");
      }
      w.prefixes_[prefix] = ns;
    } else {
      SysctlNamespace ns = sysctlNamespacedBy(s);
      if (ns == SysctlNamespace::kUnknown) {
        return absl::InvalidArgumentError("the sysctl " + quote(s) +
                                          " are not known to be namespaced");
      }
      w.sysctls_[s] = ns;
    }
  }
  return w;
}

absl::StatusOr<SysctlAllowlist> SysctlAllowlist::forNode(
    const std::vector<std::string>& allowedUnsafe) {
  struct utsname u {};
  std::string release = ::uname(&u) == 0 ? u.release : "";
  std::vector<std::string> all = safeSysctls(release);
  all.insert(all.end(), allowedUnsafe.begin(), allowedUnsafe.end());
  return create(all);
}

std::string SysctlAllowlist::validate(const std::string& raw, bool hostNet, bool hostIPC) const {
  std::string sysctl = sysctlToDots(raw);
  auto check = [&](SysctlNamespace ns) -> std::string {
    if ((ns == SysctlNamespace::kIpc && hostIPC) || (ns == SysctlNamespace::kNet && hostNet)) {
      return quote(sysctl) + " not allowed with host " + namespaceName(ns) + " enabled";
    }
    return "";
  };
  if (auto it = sysctls_.find(sysctl); it != sysctls_.end()) return check(it->second);
  for (const auto& [prefix, ns] : prefixes_) {
    if (sysctl.starts_with(prefix)) return check(ns);
  }
  return quote(sysctl) + " not allowlisted";
}

std::optional<Rejection> SysctlAllowlist::admit(const api::Pod& pod) const {
  if (!pod.spec.securityContext) return std::nullopt;
  for (const auto& s : pod.spec.securityContext->sysctls) {
    std::string err = validate(s.name, pod.spec.hostNetwork, pod.spec.hostIPC);
    if (!err.empty()) return Rejection{kSysctlForbiddenReason, "forbidden sysctl: " + err};
  }
  return std::nullopt;
}

}  // namespace agent::pods

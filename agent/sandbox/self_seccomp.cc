#include "agent/sandbox/self_seccomp.h"

#include <seccomp.h>

#include <cerrno>
#include <memory>
#include <string>

#include "core/log.h"
#include "core/status.h"

namespace agent::sandbox {
namespace {

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

// libseccomp returns -errno.
absl::Status seccompStatus(int rc, const std::string& what) {
  return core::errnoStatus(-rc, "seccomp: " + what);
}

}  // namespace

absl::Status installSelfSeccomp() {
  Filter ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return absl::InternalError("seccomp: seccomp_init failed");
  // Every thread, not just the caller; no_new_privs (the default, said explicitly).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc < 0) {
    return seccompStatus(rc, "set TSYNC");
  }
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 1); rc < 0) {
    return seccompStatus(rc, "set no_new_privs");
  }
  // The kernel's own errno, not libseccomp's -ECANCELED, when the load fails.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_API_SYSRAWRC, 1);
  // Best effort: kernels before 4.14 have no SECCOMP_FILTER_FLAG_LOG.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_LOG, 1);

  for (const char* name : selfSeccompAllowed()) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not a call of this architecture
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc < 0) {
      return seccompStatus(rc, std::string("allow ") + name);
    }
  }
  if (int rc = seccomp_load(ctx.get()); rc < 0) {
    // ESRCH: a thread could not be synchronized (it runs another filter).
    return seccompStatus(rc, "load filter");
  }
  return absl::OkStatus();
}

SelfSeccompOutcome confineSelf(bool enabled) {
  if (!enabled) {
    LOG_INFO << "Self seccomp filter disabled (--self-seccomp=false)";
    return SelfSeccompOutcome::kDisabled;
  }
  if (absl::Status s = installSelfSeccomp(); !s.ok()) {
    LOG_WARNING << s.message() << "; cubelet runs without its own seccomp filter";
    return SelfSeccompOutcome::kFailed;
  }
  LOG_INFO << "Self seccomp filter installed on every thread: " << selfSeccompAllowed().size()
           << " system calls allowed, the rest fail with EPERM";
  return SelfSeccompOutcome::kInstalled;
}

}  // namespace agent::sandbox

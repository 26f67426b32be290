// cubelet confines itself: once start-up is done, a seccomp filter (libseccomp)
// lets the agent's threads make only the system calls the agent uses; any other
// call fails with EPERM. `--self-seccomp=false` turns it off. ("sandbox" here is
// the agent's own confinement, not a CRI pod sandbox.)
//
// Design:
// - Allow list, default EPERM. The list (self_seccomp_syscalls.cc) holds what the
//   agent's code and its libraries (glibc, gRPC, curl, OpenSSL, libmicrohttpd,
//   sd-event/sd-bus) call, by group, with the variants glibc uses on other versions
//   (clone3, rseq, statx, faccessat2, openat2, epoll_pwait2, close_range, ...); every
//   integration suite passes with the filter on. glibc falls back from a new call to an old one
//   only on ENOSYS, so the new variants are allowed rather than refused.
// - EPERM, not KILL: a call missing from the list fails one operation with a clear
//   "Operation not permitted" in the agent's log instead of killing the node agent.
//   The filter carries SECCOMP_FILTER_FLAG_LOG, so a kernel with audit also logs each
//   refused call (type=1326, with the syscall number) while "errno" is in
//   /proc/sys/kernel/seccomp/actions_logged (the default).
// - Every thread: the agent is multi-threaded by then (the worker pool, gRPC's
//   threads, libmicrohttpd, curl's resolver), so the filter is loaded with TSYNC;
//   threads created later inherit it.
// - no_new_privs is set (libseccomp's default, and what lets a process without
//   CAP_SYS_ADMIN load a filter). Both the filter and no_new_privs are inherited by
//   any program the agent executes. The agent executes none: CNI plugins, runc,
//   mount helpers and iptables are run by containerd (its own process, not our
//   child), volumes are mounted with mount(2), and cgroups, stats and the node's CNI
//   config are plain file I/O. So nothing is constrained beyond the agent itself.
//   execve/execveat stay allowed so core::runCommand keeps working; a program it
//   runs would inherit the filter (a list of ordinary calls, enough for the usual
//   tools) and could not gain privileges through setuid bits or file capabilities
//   (no_new_privs) — acceptable for a root agent, whose children are root already.
// - Calls a node agent never needs (kexec_load, init_module, reboot, bpf, ptrace,
//   keyctl, settimeofday, ...) are listed in selfSeccompNeverAllowed(); a unit test
//   checks the allow list holds none of them.
// - A kernel without seccomp (or a filter libseccomp cannot load) is logged as a
//   warning and the agent runs unconfined.
#pragma once

#include <span>

#include "absl/status/status.h"

namespace agent::sandbox {

// The system calls the filter allows, by name. Names this architecture does not
// have (e.g. "open" on arm64) are skipped when the filter is built.
std::span<const char* const> selfSeccompAllowed();

// Calls the agent never makes and must never be allowed (documentation and a test).
std::span<const char* const> selfSeccompNeverAllowed();

// Loads the filter on every thread of the calling process, irrevocably. An error
// (naming what failed) leaves the process unconfined.
absl::Status installSelfSeccomp();

enum class SelfSeccompOutcome { kDisabled, kInstalled, kFailed };

// What the agent calls once start-up is done: installs the filter when `enabled`,
// logs the outcome (a failure as a warning) and never stops the agent.
SelfSeccompOutcome confineSelf(bool enabled);

}  // namespace agent::sandbox

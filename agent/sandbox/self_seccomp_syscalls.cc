// The self seccomp filter's lists (see self_seccomp.h). The allow list is the calls
// of the agent's code and of the libraries it links (glibc, gRPC, curl, OpenSSL,
// libmicrohttpd, sd-event/sd-bus), by group, including the newer variants glibc may
// use; the integration suites pass with it. Keep each group sorted; names unknown to
// this architecture are skipped.
#include <array>

#include "agent/sandbox/self_seccomp.h"

namespace agent::sandbox {
namespace {

// clang-format off
constexpr auto kAllowed = std::to_array<const char*>({
    // Memory.
    "brk", "madvise", "membarrier", "mincore", "mmap", "mprotect", "mremap", "msync", "munmap",
    // Threads, processes, signals.
    "arch_prctl", "capget", "clone", "clone3", "execve", "execveat", "exit", "exit_group",
    "futex", "futex_waitv", "get_robust_list", "getcpu", "getegid", "geteuid", "getgid",
    "getgroups", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getresgid",
    "getresuid", "getrlimit", "getrusage", "getsid", "gettid", "getuid", "kill",
    "map_shadow_stack", "pidfd_open", "pidfd_send_signal", "prctl", "prlimit64",
    "restart_syscall", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigreturn", "rt_sigtimedwait", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_yield",
    "set_robust_list", "set_tid_address", "setpgid", "sigaltstack", "tgkill", "tkill", "umask",
    "vfork", "wait4", "waitid",
    // Time.
    "clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep", "time",
    "times",
    // System information.
    "getrandom", "sysinfo", "uname",
    // Files and directories.
    "access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir",
    "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fstat", "fstatfs", "fsync", "ftruncate", "getcwd", "getdents",
    "getdents64", "getxattr", "lchown", "lgetxattr", "link", "linkat", "listxattr",
    "llistxattr", "lseek", "lstat", "memfd_create", "mkdir", "mkdirat", "name_to_handle_at",
    "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64",
    "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "rename",
    "renameat", "renameat2", "rmdir", "sendfile", "splice", "stat", "statfs", "statx",
    "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "truncate", "unlink",
    "unlinkat", "utimensat", "write", "writev",
    // Volumes: emptyDir tmpfs, projected volumes, unmounting at teardown.
    "mount", "umount2",
    // Event loop, worker wake-ups, static pod and config watches.
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "eventfd", "eventfd2", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "ioctl", "pipe", "pipe2", "poll", "ppoll", "pselect6", "select",
    "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_settime",
    // Sockets: CRI (unix), API server and probes (TCP), the HTTP servers, netlink
    // (getifaddrs), the resolver (UDP), D-Bus.
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
    "listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto", "setsockopt",
    "shutdown", "socket", "socketpair",
});
// clang-format on

// clang-format off
constexpr auto kNeverAllowed = std::to_array<const char*>({
    "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime", "clock_settime",
    "create_module", "delete_module", "finit_module", "init_module", "iopl", "ioperm",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "open_by_handle_at",
    "perf_event_open", "personality", "pivot_root", "process_vm_readv", "process_vm_writev",
    "ptrace", "quotactl", "reboot", "request_key", "setdomainname", "sethostname",
    "settimeofday", "swapoff", "swapon", "syslog", "userfaultfd", "uselib", "vhangup",
});
// clang-format on

}  // namespace

std::span<const char* const> selfSeccompAllowed() { return kAllowed; }

std::span<const char* const> selfSeccompNeverAllowed() { return kNeverAllowed; }

}  // namespace agent::sandbox

#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/status.h"

extern char** environ;

namespace core {

namespace {

struct Pipe {
  int r = -1;
  int w = -1;
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  void closeWrite() {
    if (w >= 0) ::close(w);
    w = -1;
  }
  void closeRead() {
    if (r >= 0) ::close(r);
    r = -1;
  }
};

absl::Status makePipe(Pipe& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return errnoStatus(errno, "pipe2");
  p.r = fds[0];
  p.w = fds[1];
  if (::fcntl(p.r, F_SETFL, O_NONBLOCK) < 0) return errnoStatus(errno, "fcntl(O_NONBLOCK)");
  return absl::OkStatus();
}

// Reads what is available; closes the pipe at EOF.
void readAvailable(Pipe& p, std::string& into) {
  char buf[16384];
  while (p.r >= 0) {
    ssize_t n = ::read(p.r, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      p.closeRead();
    } else if (errno == EAGAIN) {
      return;
    }
  }
}

class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

void fillResult(int status, SubprocessResult& result) {
  if (WIFEXITED(status)) {
    result.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.termSignal = WTERMSIG(status);
  }
}

}  // namespace

absl::StatusOr<SubprocessResult> runCommand(const std::vector<std::string>& argv,
                                            Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("runCommand: empty argv");
  const std::string what = absl::StrCat("run ", argv[0]);
  Pipe out, err;
  RETURN_IF_ERROR(annotate(makePipe(out), what));
  RETURN_IF_ERROR(annotate(makePipe(err), what));

  SpawnSetup setup;
  ::posix_spawn_file_actions_addopen(&setup.actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&setup.actions_, out.w, STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions_, err.w, STDERR_FILENO);
  // The agent blocks SIGTERM and friends and ignores SIGPIPE; a child must not
  // inherit either, or it could not be stopped the usual way.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&setup.attr_, &none);
  ::posix_spawnattr_setsigdefault(&setup.attr_, &all);
  ::posix_spawnattr_setpgroup(&setup.attr_, 0);
  ::posix_spawnattr_setflags(
      &setup.attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid;
  int rc =
      argv[0].find('/') == std::string::npos
          ? ::posix_spawnp(&pid, cargv[0], &setup.actions_, &setup.attr_, cargv.data(), environ)
          : ::posix_spawn(&pid, cargv[0], &setup.actions_, &setup.attr_, cargv.data(), environ);
  if (rc != 0) return errnoStatus(rc, what);
  out.closeWrite();
  err.closeWrite();

  // Without a pidfd (old kernels) the exit is noticed by polling waitpid.
  // Raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" and does not link from C++.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  SubprocessResult result;
  const MonoTime deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    auto remaining = std::chrono::ceil<Duration>(deadline - std::chrono::steady_clock::now());
    if (remaining <= Duration::zero()) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      result.timedOut = true;
      break;
    }
    struct pollfd fds[3];
    nfds_t n = 0;
    if (out.r >= 0) fds[n++] = {out.r, POLLIN, 0};
    if (err.r >= 0) fds[n++] = {err.r, POLLIN, 0};
    if (pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    int waitMs =
        static_cast<int>(std::min<int64_t>(remaining.count(), pidfd >= 0 ? INT32_MAX : 20));
    if (::poll(fds, n, waitMs) < 0 && errno != EINTR) {
      int e = errno;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      if (pidfd >= 0) ::close(pidfd);
      return errnoStatus(e, absl::StrCat(what, ": poll"));
    }
    readAvailable(out, result.out);
    readAvailable(err, result.err);
  }
  if (pidfd >= 0) ::close(pidfd);
  // Whatever the command wrote before it exited is buffered in the pipes.
  readAvailable(out, result.out);
  readAvailable(err, result.err);
  fillResult(status, result);
  return result;
}

}  // namespace core

#include "tests/support/private_dbus.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/atomic_file.h"
#include "core/status.h"

extern char** environ;

namespace cubelet::testing {

namespace {

constexpr char kDbusDaemon[] = "/usr/bin/dbus-daemon";
constexpr auto kStartTimeout = std::chrono::seconds(10);

std::string busConfig(const std::string& dir) {
  return absl::StrCat(
      R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=)",
      dir, R"(/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)");
}

// Reads one line from `fd` (non-blocking) within the start timeout.
absl::StatusOr<std::string> readLine(int fd) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (got.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return absl::DeadlineExceededError("dbus-daemon printed no address in 10 s");
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return core::errnoStatus(errno, "poll dbus-daemon stdout");
    if (n <= 0) continue;
    char buf[512];
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r == 0) return absl::UnavailableError("dbus-daemon exited before printing its address");
    if (r < 0 && errno != EINTR && errno != EAGAIN) {
      return core::errnoStatus(errno, "read dbus-daemon stdout");
    }
    if (r > 0) got.append(buf, static_cast<size_t>(r));
  }
  return got.substr(0, got.find('\n'));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrivateDbus>> PrivateDbus::start() {
  std::unique_ptr<PrivateDbus> d(new PrivateDbus);
  std::string tmpl = "/tmp/cubelet-dbus-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return core::errnoStatus(errno, "mkdtemp " + tmpl);
  d->dir_ = tmpl;
  std::string config = d->dir_ + "/bus.conf";
  RETURN_IF_ERROR(core::writeFileAtomic(config, busConfig(d->dir_)));

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return core::errnoStatus(errno, "pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  // Its complaints (e.g. "Failed to set fd limit") go to a log beside the socket.
  std::string log = d->dir_ + "/dbus-daemon.log";
  ::posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // A clean signal mask and default dispositions: the test process may block
  // SIGTERM/SIGCHLD for its event loop, and the daemon must still die on SIGTERM.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> args = {kDbusDaemon, "--config-file=" + config, "--nofork",
                                   "--nopidfile", "--print-address"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawn(&d->pid_, kDbusDaemon, &actions, &attr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    d->pid_ = -1;
    ::close(fds[0]);
    return core::errnoStatus(rc, absl::StrCat("spawn ", kDbusDaemon));
  }
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  auto line = readLine(fds[0]);
  ::close(fds[0]);
  if (!line.ok()) {
    auto logText = core::readFile(log);
    return core::annotate(line.status(),
                          absl::StrCat(kDbusDaemon, " in ", d->dir_,
                                       " (log: ", logText.ok() ? *logText : std::string(), ")"));
  }
  d->address_ = std::string(absl::StripAsciiWhitespace(*line));
  if (d->address_.empty()) return absl::InternalError("dbus-daemon printed an empty address");
  return d;
}

PrivateDbus::~PrivateDbus() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!dir_.empty()) (void)core::removeAll(dir_);
}

}  // namespace cubelet::testing

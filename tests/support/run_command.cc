// Runs external programs with posix_spawn (never fork: test processes have
// threads) and collects their output through a pipe.
#include "tests/support/run_command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_join.h"
#include "core/status.h"

extern char** environ;

namespace cubelet::testing {
namespace {

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// posix_spawn file actions and their cleanup.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

absl::StatusOr<CommandResult> runCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("runCommand: empty command line");
  const std::string commandLine = absl::StrJoin(argv, " ");

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return core::errnoStatus(errno, "pipe2 for " + commandLine);
  Fd readEnd(fds[0]);
  Fd writeEnd(fds[1]);

  // dup2 onto 1 and 2 clears O_CLOEXEC there; every other descriptor of ours
  // that is close-on-exec stays out of the child (and of any daemon it leaves).
  FileActions actions;
  posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), writeEnd.get(), 1);
  posix_spawn_file_actions_adddup2(actions.get(), writeEnd.get(), 2);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  int err = posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), environ);
  if (err != 0) return core::errnoStatus(err, "spawn " + commandLine);
  writeEnd.reset();

  CommandResult result;
  char buf[4096];
  for (;;) {
    ssize_t n = read(readEnd.get(), buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return core::errnoStatus(errno, "waitpid for " + commandLine);
  }
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

absl::StatusOr<std::string> runCommandOk(const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(CommandResult r, runCommand(argv));
  if (r.exitCode != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), " exited with ", r.exitCode, ":\n", r.output));
  }
  return std::move(r.output);
}

}  // namespace cubelet::testing

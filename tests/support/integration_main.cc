// The main() of every integration test binary. It runs the tests inside fresh
// PID, network and mount namespaces with a private containerd, so that the
// bridges, iptables rules, routes, network namespaces and mounts that
// containerd and the CNI plugins make never touch the host, and so that nothing
// (processes, mounts) outlives the binary even when a test crashes.
//
// Three processes, because a PID namespace only applies to children:
//   outer   stays on the host; waits for `init`, then removes the run directory
//           if the tests could not (a crash) — it is in the host's mount
//           namespace, where containerd's mounts never were.
//   init    PID 1 of the new PID namespace: sets up the network and mount
//           namespaces, reaps the orphans (containerd and its shims daemonize),
//           and on exit makes the kernel kill whatever is left in the namespace.
//   tests   gtest with the process-wide private containerd.
// All of this happens before any thread exists, so fork is safe here.
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/private_containerd.h"

namespace {

// Host-wide paths containerd, the CNI plugins or cubelet write to by default;
// each gets a tmpfs of its own inside the test's mount namespace.
constexpr const char* kPrivateDirs[] = {
    "/run/netns",    "/run/containerd",     "/var/lib/cni",
    "/var/log/pods", "/var/log/containers", "/var/lib/kubelet",
};

// The namespace's init, for the outer process's signal handler.
volatile sig_atomic_t initPid = 0;

void killInit(int) {
  if (initPid > 0) kill(static_cast<pid_t>(initPid), SIGKILL);
}

// Reports a failed system call (errno) and returns false.
bool fail(const char* what, const std::string& arg = "") {
  std::fprintf(stderr, "integration_main: %s%s%s: %s\n", what, arg.empty() ? "" : " ", arg.c_str(),
               std::strerror(errno));
  return false;
}

// The same, for main()-like functions that return an exit code.
int failCode(const char* what, const std::string& arg = "") {
  fail(what, arg);
  return 1;
}

int exitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool mkdirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      std::string prefix = path.substr(0, i);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return fail("mkdir", prefix);
    }
  }
  return true;
}

bool bringLoopbackUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  }
  if (!ok) fail("bring lo up");
  close(fd);
  return ok;
}

// Runs in `init`, which is already PID 1 of the new PID namespace.
bool enterPrivateNamespaces() {
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) return fail("unshare(CLONE_NEWNET|CLONE_NEWNS)");
  // Mounts made from here on must not propagate back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return fail("make / recursively private");
  }
  // A /proc of the new PID namespace, so that the pids containerd and runc
  // write and read mean the same thing as the ones /proc shows.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return fail("mount proc");
  }
  for (const char* dir : kPrivateDirs) {
    if (!mkdirs(dir)) return false;
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
      return fail("mount tmpfs on", dir);
    }
  }
  return bringLoopbackUp();
}

int runTests(int argc, char** argv, const std::string& runDir) {
  ::testing::InitGoogleTest(&argc, argv);
  if (GTEST_FLAG_GET(list_tests)) {
    rmdir(runDir.c_str());  // no containerd needed to list the tests
    return RUN_ALL_TESTS();
  }

  cubelet::testing::PrivateContainerd& containerd = cubelet::testing::containerd();
  absl::Status started = cubelet::testing::PrivateContainerd::start(runDir, &containerd);
  if (!started.ok()) {
    std::fprintf(stderr, "integration_main: cannot start the private containerd: %s\n",
                 std::string(started.message()).c_str());
    (void)containerd.stop();
    return 1;
  }
  int result = RUN_ALL_TESTS();
  absl::Status stopped = containerd.stop();
  if (!stopped.ok()) {
    std::fprintf(stderr, "integration_main: stopping the private containerd: %s\n",
                 std::string(stopped.message()).c_str());
    result = 1;
  }
  return result;
}

// The namespace's init: starts the tests, reaps every orphan, and exits with the
// tests' status. Its exit kills whatever is still running in the namespace.
int runInit(int argc, char** argv, const std::string& runDir) {
  if (!enterPrivateNamespaces()) return 1;
  std::fflush(nullptr);
  pid_t tests = fork();
  if (tests < 0) return failCode("fork");
  if (tests == 0) std::exit(runTests(argc, argv, runDir));
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid == tests) {
      if (WIFSIGNALED(status)) {
        std::fprintf(stderr, "integration_main: the test process was killed by signal %d (%s)\n",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
      }
      return exitCodeOf(status);
    }
    if (pid < 0 && errno != EINTR) return failCode("waitpid");
  }
}

// Prints the end of containerd's log before the run directory goes away.
void printLogTail(const std::string& path) {
  constexpr long kTailBytes = 4096;
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return;
  if (std::fseek(f, 0, SEEK_END) == 0 && std::ftell(f) > kTailBytes) {
    std::fseek(f, -kTailBytes, SEEK_END);
  } else {
    std::rewind(f);
  }
  std::fprintf(stderr, "--- end of %s:\n", path.c_str());
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) std::fwrite(buf, 1, n, stderr);
  std::fclose(f);
}

int removeEntry(const char* path, const struct stat*, int, struct FTW*) {
  if (remove(path) != 0) fail("remove", path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  char runDirTemplate[] = "/tmp/cubelet-it-XXXXXX";
  if (mkdtemp(runDirTemplate) == nullptr) return failCode("mkdtemp", runDirTemplate);
  const std::string runDir = runDirTemplate;

  if (unshare(CLONE_NEWPID) != 0) return failCode("unshare(CLONE_NEWPID)");
  std::fflush(nullptr);
  pid_t init = fork();
  if (init < 0) return failCode("fork");
  if (init == 0) {
    // If the outer process dies (a test runner's timeout kills it), take the
    // whole namespace down with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int code = runInit(argc, argv, runDir);
    std::fflush(nullptr);
    _exit(code);
  }

  // Interrupting the outer process ends the namespace at once; the cleanup
  // below still runs.
  initPid = init;
  struct sigaction sa = {};
  sa.sa_handler = killInit;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);

  int status = 0;
  while (waitpid(init, &status, 0) < 0) {
    if (errno != EINTR) return failCode("waitpid");
  }
  int code = exitCodeOf(status);

  struct stat st;
  if (stat(runDir.c_str(), &st) == 0) {
    std::fprintf(stderr, "integration_main: the tests did not stop containerd cleanly\n");
    printLogTail(runDir + "/containerd.log");
    std::fprintf(stderr, "integration_main: removing %s\n", runDir.c_str());
    nftw(runDir.c_str(), removeEntry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (code == 0) code = 1;
  }
  return code;
}

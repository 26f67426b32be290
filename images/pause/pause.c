// The pause program: PID 1 of every pod sandbox. It holds the pod's namespaces
// open by simply existing, reaps any zombie reparented to it (PID 1 inherits
// the orphans of a shared PID namespace), and exits 0 on SIGINT or SIGTERM so
// that stopping a sandbox is quick and reads as a clean exit.
//
// Built static (gcc -static -Os) so the image needs nothing but this file.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("cubelet pause 3.9\n");
    return 0;
  }
  if (getpid() != 1) {
    // Harmless, but outside a sandbox it would not reap anyone's zombies.
    fprintf(stderr, "pause: warning: not running as PID 1\n");
  }

  // Signals are taken synchronously with sigwait: no handler code runs at an
  // arbitrary point, and SIGCHLD can never be lost between two waits.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }

  for (;;) {
    int sig = 0;
    int err = sigwait(&set, &sig);
    if (err != 0) {
      if (err == EINTR) continue;
      fprintf(stderr, "pause: sigwait: %s\n", strerror(err));
      return 1;
    }
    if (sig == SIGINT || sig == SIGTERM) return 0;
    // SIGCHLD: one signal may stand for many exits, so reap until none is left.
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}

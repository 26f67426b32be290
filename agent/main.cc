// cubelet: a Kubernetes node agent. Parses the kubelet's flags and config file,
// builds the Agent on an sd-event loop, and runs until SIGTERM/SIGINT. Exiting
// leaves the pods running, as the kubelet does.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "agent/config/agent_config.h"
#include "agent/sandbox/self_seccomp.h"
#include "core/log.h"
#include "core/sd_event_loop.h"
#include "core/signals.h"

namespace {

constexpr char kVersion[] = "cubelet v0.1.0 (kubelet-compatible node agent)";

int run(int argc, char** argv) {
  // Before any thread exists, so that every thread inherits the mask and the
  // signals arrive only through the loop's signal sources.
  core::blockTerminationSignals();

  auto loaded = agent::config::loadConfig(argc, argv);
  if (!loaded.ok()) {
    std::cerr << "cubelet: " << loaded.status().message() << "\n"
              << "Run 'cubelet --help' for the flags cubelet accepts.\n";
    return 1;
  }
  if (loaded->helpRequested) {
    std::cout << agent::config::usage();
    return 0;
  }
  if (loaded->versionRequested) {
    std::cout << kVersion << "\n";
    return 0;
  }
  const agent::config::AgentConfig& cfg = loaded->config;
  core::setVerbosity(cfg.verbosity);
  for (const auto& w : loaded->warnings) LOG_WARNING << w;
  LOG_INFO << kVersion << " starting; node " << cfg.nodeName << ", runtime "
           << cfg.containerRuntimeEndpoint;

  auto loop = core::SdEventLoop::create();
  if (!loop.ok()) {
    LOG_ERROR << "event loop: " << loop.status().message();
    return 1;
  }
  auto agent = agent::Agent::create(cfg, **loop);
  if (!agent.ok()) {
    LOG_ERROR << agent.status().message();
    return 1;
  }
  if (absl::Status s = (*agent)->start(); !s.ok()) {
    LOG_ERROR << s.message();
    return 1;
  }
  auto stop = [&loop](const char* name) {
    return [&loop, name] {
      LOG_INFO << "Received " << name << "; shutting down (pods keep running)";
      (*loop)->exit();
    };
  };
  auto term = (*loop)->createSignal(SIGTERM, stop("SIGTERM"));
  auto intr = (*loop)->createSignal(SIGINT, stop("SIGINT"));
  // Last step of start-up, with every thread, server and watch in place: from here
  // on the agent may make only the system calls it uses.
  agent::sandbox::confineSelf(cfg.selfSeccomp);
  sd_notify(0, "READY=1");
  absl::Status s = (*loop)->run();
  sd_notify(0, "STOPPING=1");
  if (!s.ok()) {
    LOG_ERROR << "event loop: " << s.message();
    return 1;
  }
  // Calls in flight get a few seconds to finish; longer ones (a stop with a 30 s
  // grace period) are abandoned rather than awaited, and the runtime finishes
  // them on its own. Queued work is dropped: the next agent redoes it.
  (*agent)->shutdown(std::chrono::seconds(5));
  std::fflush(nullptr);
  ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }

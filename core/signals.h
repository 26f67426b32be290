// Process-wide signal set-up for the daemon. Called by main before any thread
// starts, so every thread inherits the mask and the signals reach the event loop's
// signalfd-based sources (EventLoop::createSignal) instead of a random thread.
#pragma once

namespace core {

// Blocks SIGTERM, SIGINT, SIGHUP, SIGCHLD and SIGPIPE in the calling thread and
// ignores SIGPIPE process-wide (a write to a closed socket or pipe then fails with
// EPIPE rather than killing the agent). Children spawned by runCommand() get a
// clean mask and default dispositions back.
void blockTerminationSignals();

}  // namespace core

// Serves one GET /containerLogs request once the caller has resolved the pod, the
// container and its log file: a 200 text/plain stream of the file's records as the
// kubelet prints them (pkg/kubelet/kuberuntime/logs ReadLogs), with tailLines,
// since, timestamps and limitBytes applied, and with follow=true the records
// appended later, across log rotation, until the container stops or the client
// goes away.
//
// Everything runs on the loop thread. The file is read in slices (one read of
// kReadChunk bytes per loop turn) so a large log never stalls the loop; a slow
// client pauses the reading (HttpExchange::buffered() above kMaxBuffered) until
// the exchange drains. Following uses one inotify fd per request (the file and its
// directory are watched), registered as a FileEvent: no thread, no polling. When no
// event came for stateCheckPeriod (5 s, the kubelet's), `isRunning` is asked; once
// it answers false the rest of the file is sent and the stream ends.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "agent/logs/log_options.h"
#include "agent/server/http_exchange.h"
#include "core/event_loop.h"

namespace agent::logs {

// Asks whether the container is still running; the answer is passed to the given
// callback, on the loop thread, possibly later (after a CRI call on a worker).
using IsRunningFn = std::function<void(std::function<void(bool running)>)>;

struct LogStreamConfig {
  size_t readChunk = 64 * 1024;
  // Reading pauses while more than this is queued on the exchange.
  size_t maxBuffered = 1024 * 1024;
  core::Duration stateCheckPeriod = std::chrono::seconds(5);
};

// Answers `ex`. `path` is the container's log file
// (/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log, or the previous instance's
// file for previous=true). A file that cannot be found or opened is answered 400
// with the kubelet's message ("failed to try resolving symlinks in path ..."),
// before any stream starts. `isRunning` is only used with follow=true. The call
// keeps what it needs alive itself; nothing to hold on to.
void serveContainerLogs(core::EventLoop& loop, server::ExchangePtr ex, const LogOptions& opts,
                        std::string path, IsRunningFn isRunning,
                        const LogStreamConfig& config = LogStreamConfig());

}  // namespace agent::logs

// Watches one directory with inotify on the event loop and says "something changed"
// (never what): the caller rescans the directory itself. Used for the static pod
// manifest directory. inotify can drop events (queue overflow) and misses changes
// made while no watch exists, so callers must also rescan periodically as a safety
// net, as the kubelet does every fileCheckFrequency (default 20 s).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

namespace core {

class DirWatcher {
 public:
  // Fails with NotFound when `dir` does not exist yet (the caller retries later).
  // `onChange` runs on the loop thread at most once per loop wakeup, however many
  // inotify events that wakeup read. It may destroy the watcher.
  static absl::StatusOr<std::unique_ptr<DirWatcher>> create(EventLoop& loop, const std::string& dir,
                                                            std::function<void()> onChange);
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // False once the directory itself was deleted or moved away: the watch is gone
  // and the caller should create a new watcher when the directory is back.
  bool alive() const { return alive_; }
  const std::string& dir() const { return dir_; }

 private:
  DirWatcher(std::string dir, int fd, std::function<void()> onChange);
  void onReadable();

  std::string dir_;
  int fd_;
  bool alive_ = true;
  std::shared_ptr<std::function<void()>> onChange_;
  FileEventPtr event_;
};

}  // namespace core

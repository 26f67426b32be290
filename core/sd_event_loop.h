// The production EventLoop, built on libsystemd's sd-event: fd readiness and
// signals are sd-event sources, cross-thread posts arrive through an eventfd, and
// timers are kept in our own deadline-ordered queue driven by one CLOCK_MONOTONIC
// sd-event time source (so timers that fall due together fire in deadline order,
// as they do under SimEventLoop; sd-event itself would dispatch them in any order).
//
// Threading: everything except post() and exit() must be called on the loop thread.
// The loop must outlive every handle it created.
#pragma once

#include <systemd/sd-event.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

namespace core {

class SdTimer;

class SdEventLoop : public EventLoop {
 public:
  static absl::StatusOr<std::unique_ptr<SdEventLoop>> create();
  ~SdEventLoop() override;
  SdEventLoop(const SdEventLoop&) = delete;
  SdEventLoop& operator=(const SdEventLoop&) = delete;

  TimerPtr createTimer(Callback cb) override;
  // sd-event (epoll) refuses a second source for the same fd: such a call logs an
  // error and returns a handle that never fires.
  FileEventPtr createFileEvent(int fd, uint32_t events, std::function<void(uint32_t)> cb) override;
  // The signal must already be blocked in every thread (blockTerminationSignals()
  // in main, before any thread starts); otherwise the kernel delivers it the default
  // way instead of to the loop, and sd-event refuses the source (logged, inert handle).
  SignalEventPtr createSignal(int signo, Callback cb) override;
  void post(Callback cb) override;
  // Runs until exit(). May be called again after it returns; an exit() made while
  // not running makes the next run() return at once.
  absl::Status run() override;
  // Makes run() return once the current callback finishes. From another thread it
  // is posted to the loop.
  void exit() override;
  bool isLoopThread() const override;
  MonoTime monotonicNow() const override;
  WallTime wallNow() const override;

  // For attaching sd-bus, the watchdog and other sd-event users.
  sd_event* raw() const { return event_; }

 private:
  friend class SdTimer;
  // Timers ordered by deadline, then by arming order.
  using TimerKey = std::pair<MonoTime, uint64_t>;
  using TimerQueue = std::map<TimerKey, SdTimer*>;

  SdEventLoop() = default;
  absl::Status init();
  void scheduleTimerSource();
  void fireDueTimers();
  void drainPosted();
  static int onTimerSource(sd_event_source* s, uint64_t usec, void* userdata);
  static int onWakeup(sd_event_source* s, int fd, uint32_t revents, void* userdata);

  sd_event* event_ = nullptr;
  sd_event_source* timerSource_ = nullptr;
  sd_event_source* wakeupSource_ = nullptr;
  int wakeupFd_ = -1;
  std::atomic<std::thread::id> loopThread_;
  bool exitRequested_ = false;

  TimerQueue timers_;
  uint64_t nextTimerSeq_ = 0;

  std::mutex postMu_;
  std::deque<Callback> posted_;  // guarded by postMu_
};

}  // namespace core

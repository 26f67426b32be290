// An EventLoop with simulated time for tests. Nothing happens on its own: the test
// moves time with advance() (which fires due timers in deadline order) and runs
// posted callbacks with runPending(), or calls run() to serve posts from other
// threads until exit(). File events never fire; signals fire only through
// deliverSignal().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "core/event_loop.h"

namespace core {

class SimTimer;
class SimSignalEvent;

class SimEventLoop : public EventLoop {
 public:
  // Wall time starts here (2024-01-01T00:00:00Z) and moves with simulated time.
  static constexpr int64_t kWallEpochSeconds = 1704067200;

  SimEventLoop();
  ~SimEventLoop() override;
  SimEventLoop(const SimEventLoop&) = delete;
  SimEventLoop& operator=(const SimEventLoop&) = delete;

  TimerPtr createTimer(Callback cb) override;
  FileEventPtr createFileEvent(int fd, uint32_t events, std::function<void(uint32_t)> cb) override;
  SignalEventPtr createSignal(int signo, Callback cb) override;
  void post(Callback cb) override;
  // Serves posts (not timers: time stands still) until exit(); an exit() made while
  // not running makes the next run() return at once.
  absl::Status run() override;
  void exit() override;
  bool isLoopThread() const override;
  MonoTime monotonicNow() const override;
  WallTime wallNow() const override;

  // Moves simulated time forward by `d`, firing every timer that falls due on the way
  // in deadline order (ties in arming order), with the clock set to each timer's
  // deadline while it runs. Timers armed by those callbacks fire too if they fall
  // due within `d`. Posted callbacks are not run.
  void advance(Duration d);
  // Runs posted callbacks, including ones they post, until none are left. Returns
  // how many ran.
  size_t runPending();
  // Runs the callbacks registered for `signo`, as if the signal had arrived.
  void deliverSignal(int signo);
  // The earliest armed timer's deadline, if any.
  std::optional<MonoTime> nextTimerDeadline() const;
  size_t armedTimerCount() const { return timers_.size(); }

 private:
  friend class SimTimer;
  friend class SimSignalEvent;
  using TimerKey = std::pair<MonoTime, uint64_t>;
  using TimerQueue = std::map<TimerKey, SimTimer*>;

  std::atomic<int64_t> nowNanos_;
  std::atomic<std::thread::id> loopThread_;
  TimerQueue timers_;
  uint64_t nextTimerSeq_ = 0;
  std::multimap<int, SimSignalEvent*> signals_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Callback> posted_;  // guarded by mu_
  bool exitRequested_ = false;   // guarded by mu_
};

}  // namespace core

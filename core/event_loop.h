// The event loop interface: the one thread that owns agent state. Timers, fd
// readiness, signals and cross-thread posts all arrive here as callbacks. Every
// handle is RAII: destroying it cancels it. The production implementation is
// SdEventLoop (sd-event); tests use SimEventLoop with simulated time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"

namespace core {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

// Time as the agent sees it; injected so tests can simulate it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime monotonicNow() const = 0;
  virtual WallTime wallNow() const = 0;
};

// The real clocks.
class SystemClock : public Clock {
 public:
  MonoTime monotonicNow() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
};

class Timer {
 public:
  virtual ~Timer() = default;
  // (Re)arms the timer to fire once after `after`. Re-arming replaces the old deadline.
  virtual void enableTimer(Duration after) = 0;
  virtual void disableTimer() = 0;
  virtual bool enabled() const = 0;
};
using TimerPtr = std::unique_ptr<Timer>;

enum FileReady : uint32_t { kReadable = 1u << 0, kWritable = 1u << 1, kClosed = 1u << 2 };

class FileEvent {
 public:
  virtual ~FileEvent() = default;
  // Which of kReadable/kWritable to wait for (level-triggered).
  virtual void setEnabled(uint32_t events) = 0;
};
using FileEventPtr = std::unique_ptr<FileEvent>;

class SignalEvent {
 public:
  virtual ~SignalEvent() = default;
};
using SignalEventPtr = std::unique_ptr<SignalEvent>;

class EventLoop : public Clock {
 public:
  using Callback = std::function<void()>;

  virtual TimerPtr createTimer(Callback cb) = 0;
  // `cb` receives the FileReady bits that fired. The fd stays owned by the caller.
  virtual FileEventPtr createFileEvent(int fd, uint32_t events,
                                       std::function<void(uint32_t)> cb) = 0;
  // The signal must already be blocked in every thread (main blocks them first).
  virtual SignalEventPtr createSignal(int signo, Callback cb) = 0;
  // Runs `cb` on the loop thread soon. Safe to call from any thread.
  virtual void post(Callback cb) = 0;
  // Runs until exit() is called; returns the first fatal loop error.
  virtual absl::Status run() = 0;
  virtual void exit() = 0;
  virtual bool isLoopThread() const = 0;
};
using EventLoopPtr = std::unique_ptr<EventLoop>;

}  // namespace core

#include "tests/fakes/sim_event_loop.h"

#include <memory>
#include <vector>

namespace core {

namespace {

// Simulated monotonic time starts well past zero so that subtracting the usual
// durations from "now" never goes below the clock's epoch.
constexpr int64_t kStartNanos = int64_t{1'000'000} * 1'000'000'000;

class InertFileEvent : public FileEvent {
 public:
  void setEnabled(uint32_t) override {}
};

}  // namespace

// Callbacks are shared_ptr so a handle destroyed by its own callback stays callable.
class SimTimer : public Timer {
 public:
  SimTimer(SimEventLoop& loop, EventLoop::Callback cb)
      : loop_(loop), cb_(std::make_shared<EventLoop::Callback>(std::move(cb))) {}
  ~SimTimer() override { unlink(); }

  void enableTimer(Duration after) override {
    unlink();
    if (after < Duration::zero()) after = Duration::zero();
    SimEventLoop::TimerKey key{loop_.monotonicNow() + after, loop_.nextTimerSeq_++};
    pos_ = loop_.timers_.emplace(key, this).first;
  }
  void disableTimer() override { unlink(); }
  bool enabled() const override { return pos_.has_value(); }

 private:
  friend class SimEventLoop;
  void unlink() {
    if (!pos_) return;
    loop_.timers_.erase(*pos_);
    pos_.reset();
  }

  SimEventLoop& loop_;
  std::shared_ptr<EventLoop::Callback> cb_;
  std::optional<SimEventLoop::TimerQueue::iterator> pos_;
};

class SimSignalEvent : public SignalEvent {
 public:
  SimSignalEvent(SimEventLoop& loop, int signo, EventLoop::Callback cb)
      : loop_(loop), cb_(std::make_shared<EventLoop::Callback>(std::move(cb))) {
    pos_ = loop_.signals_.emplace(signo, this);
  }
  ~SimSignalEvent() override { loop_.signals_.erase(pos_); }

 private:
  friend class SimEventLoop;
  SimEventLoop& loop_;
  std::shared_ptr<EventLoop::Callback> cb_;
  std::multimap<int, SimSignalEvent*>::iterator pos_;
};

SimEventLoop::SimEventLoop() : nowNanos_(kStartNanos), loopThread_(std::this_thread::get_id()) {}

SimEventLoop::~SimEventLoop() = default;

TimerPtr SimEventLoop::createTimer(Callback cb) {
  return std::make_unique<SimTimer>(*this, std::move(cb));
}

FileEventPtr SimEventLoop::createFileEvent(int, uint32_t, std::function<void(uint32_t)>) {
  return std::make_unique<InertFileEvent>();
}

SignalEventPtr SimEventLoop::createSignal(int signo, Callback cb) {
  return std::make_unique<SimSignalEvent>(*this, signo, std::move(cb));
}

void SimEventLoop::post(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(cb));
  }
  cv_.notify_all();
}

absl::Status SimEventLoop::run() {
  loopThread_.store(std::this_thread::get_id());
  for (;;) {
    Callback cb;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return exitRequested_ || !posted_.empty(); });
      if (exitRequested_) {
        exitRequested_ = false;
        return absl::OkStatus();
      }
      cb = std::move(posted_.front());
      posted_.pop_front();
    }
    cb();
  }
}

void SimEventLoop::exit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exitRequested_ = true;
  }
  cv_.notify_all();
}

bool SimEventLoop::isLoopThread() const { return loopThread_.load() == std::this_thread::get_id(); }

MonoTime SimEventLoop::monotonicNow() const {
  return MonoTime(std::chrono::nanoseconds(nowNanos_.load()));
}

WallTime SimEventLoop::wallNow() const {
  auto offset = std::chrono::nanoseconds(nowNanos_.load() - kStartNanos);
  return WallTime(std::chrono::seconds(kWallEpochSeconds)) +
         std::chrono::duration_cast<WallTime::duration>(offset);
}

void SimEventLoop::advance(Duration d) {
  if (d < Duration::zero()) d = Duration::zero();
  const MonoTime target = monotonicNow() + d;
  auto setNow = [this](MonoTime t) {
    nowNanos_.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > target) break;
    if (it->first.first > monotonicNow()) setNow(it->first.first);
    SimTimer* timer = it->second;
    timer->unlink();
    std::shared_ptr<Callback> cb = timer->cb_;
    (*cb)();
  }
  setNow(target);
}

size_t SimEventLoop::runPending() {
  size_t ran = 0;
  for (;;) {
    Callback cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (posted_.empty()) return ran;
      cb = std::move(posted_.front());
      posted_.pop_front();
    }
    cb();
    ++ran;
  }
}

void SimEventLoop::deliverSignal(int signo) {
  std::vector<std::shared_ptr<Callback>> cbs;
  auto [first, last] = signals_.equal_range(signo);
  for (auto it = first; it != last; ++it) cbs.push_back(it->second->cb_);
  for (auto& cb : cbs) (*cb)();
}

std::optional<MonoTime> SimEventLoop::nextTimerDeadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

}  // namespace core

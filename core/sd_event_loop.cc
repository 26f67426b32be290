#include "core/sd_event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "core/log.h"
#include "core/status.h"

namespace core {

namespace {

// Timers are for seconds-scale agent work; 1 ms of slack lets sd-event merge our
// wakeup with its own sources' without making tests or probes sloppy.
constexpr uint64_t kTimerAccuracyUsec = 1000;

// Rounded up so sd-event never wakes us before the deadline (which would find
// nothing due and spin until the clock catches up).
uint64_t toUsecCeil(MonoTime t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (ns <= 0) return 0;
  return (static_cast<uint64_t>(ns) + 999) / 1000;
}

uint32_t toEpoll(uint32_t events) {
  uint32_t out = 0;
  if (events & kReadable) out |= EPOLLIN;
  if (events & kWritable) out |= EPOLLOUT;
  return out;
}

uint32_t fromEpoll(uint32_t revents) {
  uint32_t out = 0;
  if (revents & EPOLLIN) out |= kReadable;
  if (revents & EPOLLOUT) out |= kWritable;
  if (revents & (EPOLLHUP | EPOLLERR)) out |= kClosed;
  return out;
}

// Callbacks are held through shared_ptr and copied before they run, so a handle
// destroyed from inside its own callback does not free the function mid-call.
using FileCallback = std::function<void(uint32_t)>;

class SdFileEvent : public FileEvent {
 public:
  explicit SdFileEvent(FileCallback cb) : cb_(std::make_shared<FileCallback>(std::move(cb))) {}
  ~SdFileEvent() override { sd_event_source_disable_unref(source_); }

  void setEnabled(uint32_t events) override {
    if (events == 0) {
      sd_event_source_set_enabled(source_, SD_EVENT_OFF);
      return;
    }
    int r = sd_event_source_set_io_events(source_, toEpoll(events));
    if (r >= 0) r = sd_event_source_set_enabled(source_, SD_EVENT_ON);
    if (r < 0) LOG_ERROR << errnoStatus(-r, "sd-event: enable io source").message();
  }

  static int dispatch(sd_event_source*, int, uint32_t revents, void* userdata) {
    std::shared_ptr<FileCallback> cb = static_cast<SdFileEvent*>(userdata)->cb_;
    (*cb)(fromEpoll(revents));
    return 0;
  }

  sd_event_source* source_ = nullptr;

 private:
  std::shared_ptr<FileCallback> cb_;
};

class SdSignalEvent : public SignalEvent {
 public:
  explicit SdSignalEvent(EventLoop::Callback cb)
      : cb_(std::make_shared<EventLoop::Callback>(std::move(cb))) {}
  ~SdSignalEvent() override { sd_event_source_disable_unref(source_); }

  static int dispatch(sd_event_source*, const struct signalfd_siginfo*, void* userdata) {
    std::shared_ptr<EventLoop::Callback> cb = static_cast<SdSignalEvent*>(userdata)->cb_;
    (*cb)();
    return 0;
  }

  sd_event_source* source_ = nullptr;

 private:
  std::shared_ptr<EventLoop::Callback> cb_;
};

// Returned when sd-event refuses a source; the error has been logged.
class InertFileEvent : public FileEvent {
 public:
  void setEnabled(uint32_t) override {}
};
class InertSignalEvent : public SignalEvent {};

}  // namespace

class SdTimer : public Timer {
 public:
  SdTimer(SdEventLoop& loop, EventLoop::Callback cb)
      : loop_(loop), cb_(std::make_shared<EventLoop::Callback>(std::move(cb))) {}
  ~SdTimer() override { disableTimer(); }

  void enableTimer(Duration after) override {
    unlink();
    if (after < Duration::zero()) after = Duration::zero();
    SdEventLoop::TimerKey key{loop_.monotonicNow() + after, loop_.nextTimerSeq_++};
    pos_ = loop_.timers_.emplace(key, this).first;
    if (*pos_ == loop_.timers_.begin()) loop_.scheduleTimerSource();
  }

  void disableTimer() override {
    if (!pos_) return;
    bool wasFirst = *pos_ == loop_.timers_.begin();
    unlink();
    if (wasFirst) loop_.scheduleTimerSource();
  }

  bool enabled() const override { return pos_.has_value(); }

 private:
  friend class SdEventLoop;

  void unlink() {
    if (!pos_) return;
    loop_.timers_.erase(*pos_);
    pos_.reset();
  }

  SdEventLoop& loop_;
  std::shared_ptr<EventLoop::Callback> cb_;
  std::optional<SdEventLoop::TimerQueue::iterator> pos_;
};

absl::StatusOr<std::unique_ptr<SdEventLoop>> SdEventLoop::create() {
  std::unique_ptr<SdEventLoop> loop(new SdEventLoop());
  RETURN_IF_ERROR(loop->init());
  return loop;
}

absl::Status SdEventLoop::init() {
  loopThread_.store(std::this_thread::get_id());
  // A private loop rather than sd_event_default(): tests create several.
  int r = sd_event_new(&event_);
  if (r < 0) return errnoStatus(-r, "sd_event_new");
  wakeupFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeupFd_ < 0) return errnoStatus(errno, "eventfd");
  r = sd_event_add_io(event_, &wakeupSource_, wakeupFd_, EPOLLIN, &SdEventLoop::onWakeup, this);
  if (r < 0) return errnoStatus(-r, "sd_event_add_io(eventfd)");
  r = sd_event_add_time(event_, &timerSource_, CLOCK_MONOTONIC, 0, kTimerAccuracyUsec,
                        &SdEventLoop::onTimerSource, this);
  if (r < 0) return errnoStatus(-r, "sd_event_add_time");
  r = sd_event_source_set_enabled(timerSource_, SD_EVENT_OFF);
  if (r < 0) return errnoStatus(-r, "sd_event_source_set_enabled(timer)");
  return absl::OkStatus();
}

SdEventLoop::~SdEventLoop() {
  sd_event_source_disable_unref(timerSource_);
  sd_event_source_disable_unref(wakeupSource_);
  if (wakeupFd_ >= 0) ::close(wakeupFd_);
  sd_event_unref(event_);
}

TimerPtr SdEventLoop::createTimer(Callback cb) {
  return std::make_unique<SdTimer>(*this, std::move(cb));
}

FileEventPtr SdEventLoop::createFileEvent(int fd, uint32_t events,
                                          std::function<void(uint32_t)> cb) {
  auto ev = std::make_unique<SdFileEvent>(std::move(cb));
  int r =
      sd_event_add_io(event_, &ev->source_, fd, toEpoll(events), &SdFileEvent::dispatch, ev.get());
  if (r < 0) {
    LOG_ERROR << errnoStatus(-r, absl::StrCat("sd-event: watch fd ", fd)).message();
    return std::make_unique<InertFileEvent>();
  }
  if (events == 0) sd_event_source_set_enabled(ev->source_, SD_EVENT_OFF);
  return ev;
}

SignalEventPtr SdEventLoop::createSignal(int signo, Callback cb) {
  auto ev = std::make_unique<SdSignalEvent>(std::move(cb));
  int r = sd_event_add_signal(event_, &ev->source_, signo, &SdSignalEvent::dispatch, ev.get());
  if (r < 0) {
    LOG_ERROR << errnoStatus(-r, absl::StrCat("sd-event: watch signal ", signo,
                                              " (is it blocked in every thread?)"))
                     .message();
    return std::make_unique<InertSignalEvent>();
  }
  return ev;
}

void SdEventLoop::post(Callback cb) {
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> lock(postMu_);
    wasEmpty = posted_.empty();
    posted_.push_back(std::move(cb));
  }
  // A non-empty queue already has a wakeup pending: drainPosted() reads the eventfd
  // before it takes the queue, so anything queued after that read sees an empty
  // queue and writes again.
  if (wasEmpty) {
    uint64_t one = 1;
    ssize_t n = ::write(wakeupFd_, &one, sizeof one);
    (void)n;  // EAGAIN means the counter is already non-zero: still woken.
  }
}

absl::Status SdEventLoop::run() {
  loopThread_.store(std::this_thread::get_id());
  while (!exitRequested_) {
    int r = sd_event_run(event_, UINT64_MAX);
    if (r < 0) {
      exitRequested_ = false;
      return errnoStatus(-r, "sd_event_run");
    }
  }
  exitRequested_ = false;
  return absl::OkStatus();
}

void SdEventLoop::exit() {
  if (isLoopThread()) {
    exitRequested_ = true;
  } else {
    post([this] { exitRequested_ = true; });
  }
}

bool SdEventLoop::isLoopThread() const { return loopThread_.load() == std::this_thread::get_id(); }

MonoTime SdEventLoop::monotonicNow() const { return std::chrono::steady_clock::now(); }

WallTime SdEventLoop::wallNow() const { return std::chrono::system_clock::now(); }

void SdEventLoop::scheduleTimerSource() {
  int r;
  if (timers_.empty()) {
    r = sd_event_source_set_enabled(timerSource_, SD_EVENT_OFF);
  } else {
    r = sd_event_source_set_time(timerSource_, toUsecCeil(timers_.begin()->first.first));
    if (r >= 0) r = sd_event_source_set_enabled(timerSource_, SD_EVENT_ONESHOT);
  }
  if (r < 0) LOG_ERROR << errnoStatus(-r, "sd-event: arm timer source").message();
}

void SdEventLoop::fireDueTimers() {
  const MonoTime now = monotonicNow();
  // Timers armed by the callbacks below wait for the next wakeup even when already
  // due, so a timer that re-arms itself with 0 cannot starve fd events.
  const uint64_t seqLimit = nextTimerSeq_;
  while (!timers_.empty() && !exitRequested_) {
    auto it = timers_.begin();
    if (it->first.first > now || it->first.second >= seqLimit) break;
    SdTimer* timer = it->second;
    timer->unlink();
    std::shared_ptr<Callback> cb = timer->cb_;
    (*cb)();
  }
  scheduleTimerSource();
}

void SdEventLoop::drainPosted() {
  std::deque<Callback> batch;
  {
    std::lock_guard<std::mutex> lock(postMu_);
    batch.swap(posted_);
  }
  while (!batch.empty()) {
    Callback cb = std::move(batch.front());
    batch.pop_front();
    cb();
    if (exitRequested_ && !batch.empty()) {
      // Keep the rest, in order, for the next run().
      {
        std::lock_guard<std::mutex> lock(postMu_);
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) posted_.push_front(std::move(*it));
      }
      uint64_t one = 1;
      ssize_t n = ::write(wakeupFd_, &one, sizeof one);
      (void)n;
      return;
    }
  }
}

int SdEventLoop::onTimerSource(sd_event_source*, uint64_t, void* userdata) {
  static_cast<SdEventLoop*>(userdata)->fireDueTimers();
  return 0;
}

int SdEventLoop::onWakeup(sd_event_source*, int fd, uint32_t, void* userdata) {
  uint64_t count;
  ssize_t n = ::read(fd, &count, sizeof count);
  (void)n;  // EAGAIN: a previous drain already took the work.
  static_cast<SdEventLoop*>(userdata)->drainPosted();
  return 0;
}

}  // namespace core

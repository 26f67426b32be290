#include "agent/kubeapi/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace agent::kubeapi {

class RateLimiter::TicketImpl : public RateLimiter::Ticket {
 public:
  TicketImpl(RateLimiter& owner, std::list<Waiter>::iterator pos) : owner_(owner), pos_(pos) {}
  ~TicketImpl() override {
    if (queued_) owner_.queue_.erase(pos_);
  }

 private:
  friend class RateLimiter;
  RateLimiter& owner_;
  std::list<Waiter>::iterator pos_;
  bool queued_ = true;
};

namespace {
class DoneTicket : public RateLimiter::Ticket {};
}  // namespace

RateLimiter::RateLimiter(core::EventLoop& loop, double qps, int burst)
    : loop_(loop),
      qps_(qps),
      burst_(std::max(burst, 1)),
      tokens_(burst_),
      last_(loop.monotonicNow()),
      timer_(loop.createTimer([this] { dispatch(); })) {}

RateLimiter::~RateLimiter() {
  // Tickets that outlive the limiter must not touch it.
  for (Waiter& w : queue_) {
    if (w.ticket) w.ticket->queued_ = false;
  }
}

void RateLimiter::refill() {
  core::MonoTime now = loop_.monotonicNow();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
}

double RateLimiter::tokens() {
  refill();
  return tokens_;
}

RateLimiter::TicketPtr RateLimiter::acquire(std::function<void()> go) {
  if (qps_ <= 0) {
    go();
    return std::make_unique<DoneTicket>();
  }
  refill();
  if (queue_.empty() && tokens_ >= 1) {
    tokens_ -= 1;
    go();
    return std::make_unique<DoneTicket>();
  }
  queue_.push_back(Waiter{std::move(go), nullptr});
  auto ticket = std::make_unique<TicketImpl>(*this, std::prev(queue_.end()));
  queue_.back().ticket = ticket.get();
  if (!dispatching_ && !timer_->enabled()) dispatch();
  return ticket;
}

void RateLimiter::dispatch() {
  refill();
  dispatching_ = true;
  while (!queue_.empty() && tokens_ >= 1) {
    tokens_ -= 1;
    Waiter w = std::move(queue_.front());
    queue_.pop_front();
    if (w.ticket) w.ticket->queued_ = false;
    w.go();  // may acquire again or destroy other tickets
  }
  dispatching_ = false;
  if (queue_.empty()) {
    timer_->disableTimer();
    return;
  }
  double wait = (1 - tokens_) / qps_;
  auto after = std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(wait) +
                                                          std::chrono::microseconds(999));
  timer_->enableTimer(std::max(after, core::Duration(1)));
}

}  // namespace agent::kubeapi

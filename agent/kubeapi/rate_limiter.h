// client-go's client-side rate limit (flowcontrol.NewTokenBucketRateLimiter): a token
// bucket that refills at `qps` tokens a second up to `burst`, starting full. Every
// request to the API server takes one token; when none is left the request waits,
// in FIFO order, on a loop timer rather than failing. The kubelet's defaults are
// kubeAPIQPS 50 and kubeAPIBurst 100.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>

#include "core/event_loop.h"

namespace agent::kubeapi {

inline constexpr double kDefaultKubeApiQps = 50;
inline constexpr int kDefaultKubeApiBurst = 100;

class RateLimiter {
 public:
  // A place in the queue. Destroying it before its turn leaves the queue (the
  // callback never runs); destroying it afterwards does nothing.
  class Ticket {
   public:
    virtual ~Ticket() = default;
  };
  using TicketPtr = std::unique_ptr<Ticket>;

  // qps <= 0 disables limiting. burst < 1 is taken as 1.
  RateLimiter(core::EventLoop& loop, double qps, int burst);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Runs `go` once a token is available: at once (inside this call) when the queue
  // is empty and a token is there, otherwise later from a loop timer.
  TicketPtr acquire(std::function<void()> go);

  size_t waiting() const { return queue_.size(); }
  // Tokens in the bucket now (fractional), for tests.
  double tokens();

 private:
  class TicketImpl;
  struct Waiter {
    std::function<void()> go;
    TicketImpl* ticket = nullptr;
  };
  void refill();
  void dispatch();

  core::EventLoop& loop_;
  double qps_;
  double burst_;
  double tokens_;
  core::MonoTime last_;
  std::list<Waiter> queue_;
  core::TimerPtr timer_;
  bool dispatching_ = false;
};

}  // namespace agent::kubeapi

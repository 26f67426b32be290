#include "probes/tcp_check.h"

#include <unistd.h>

#include <utility>

#include "probes/dial_check.h"

namespace probes {

namespace {

class TcpCheck : public PendingCheck {
 public:
  TcpCheck(core::EventLoop& loop, const TcpSpec& spec, core::Duration timeout, CheckDone done)
      : done_(std::move(done)), address_(joinHostPort(spec.host, spec.port)) {
    deadline_ = loop.createTimer([this] {
      // Go's net.DialTimeout: the dial's deadline passing is an "i/o timeout".
      finish({Outcome::kFailure, "dial tcp " + address_ + ": i/o timeout", 0});
    });
    deadline_->enableTimer(timeout);
    dialer_ = Dialer::start(loop, spec.host, spec.port, [this](DialResult r) {
      if (r.fd < 0) {
        finish({Outcome::kFailure, std::move(r.error), 0});
        return;
      }
      close(r.fd);
      finish({Outcome::kSuccess, "", 0});
    });
  }

 private:
  // `done` may destroy this: everything is released before it is called.
  void finish(CheckResult result) {
    deadline_.reset();
    dialer_.reset();
    CheckDone done = std::move(done_);
    done(std::move(result));
  }

  CheckDone done_;
  std::string address_;
  core::TimerPtr deadline_;
  std::unique_ptr<Dialer> dialer_;
};

}  // namespace

PendingCheckPtr tcpConnect(core::EventLoop& loop, const TcpSpec& spec, core::Duration timeout,
                           CheckDone done) {
  return std::make_unique<TcpCheck>(loop, spec, timeout, std::move(done));
}

}  // namespace probes

#include "agent/server/http_exchange_impl.h"

#include <microhttpd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/log.h"

namespace agent::server::internal {

ExchangeImpl::ExchangeImpl(HttpServer* server, MHD_Connection* conn, HttpRequest req)
    : req_(std::move(req)), loop_(server->loop_), server_(server), conn_(conn) {}

ExchangeImpl::~ExchangeImpl() {
  // The request state holds a reference while the connection exists, so a live
  // exchange is never destroyed parked; be defensive anyway.
  if (server_ != nullptr) server_->suspended_.erase(this);
}

void ExchangeImpl::respond(HttpResponse response) {
  if (closed_ || server_ == nullptr || action_ != Action::kNone) {
    if (!closed_ && action_ != Action::kNone) {
      LOG_WARNING << "http server: " << req_.method << " " << req_.path << " answered twice";
    }
    return;
  }
  action_ = Action::kRespond;
  response_ = std::move(response);
  wake();
}

void ExchangeImpl::startStream(int status, const std::string& contentType,
                               const std::map<std::string, std::string>& headers) {
  if (closed_ || server_ == nullptr || action_ != Action::kNone) return;
  action_ = Action::kStream;
  response_.status = status;
  response_.contentType = contentType;
  response_.headers = headers;
  wake();
}

void ExchangeImpl::write(std::string_view data) {
  if (closed_ || server_ == nullptr || action_ != Action::kStream || ended_ || data.empty()) {
    return;
  }
  buf_.append(data);
  if (queued_) wake();
}

void ExchangeImpl::end() {
  if (closed_ || server_ == nullptr || action_ != Action::kStream || ended_) return;
  ended_ = true;
  if (queued_) wake();
}

void ExchangeImpl::upgrade(const std::map<std::string, std::string>& headers,
                           std::function<void(std::unique_ptr<UpgradedConnection>)> onUpgraded) {
  if (closed_ || server_ == nullptr || action_ != Action::kNone) return;
  action_ = Action::kUpgrade;
  upgradeHeaders_ = headers;
  onUpgraded_ = std::move(onUpgraded);
  wake();
}

void ExchangeImpl::onClosed(std::function<void()> cb) {
  onClosed_ = std::move(cb);
  // Registered after the fact: still told, once.
  if (closed_ && onClosed_) fireClosed();
}

void ExchangeImpl::fireClosed() {
  std::function<void()> cb = std::move(onClosed_);
  onClosed_ = nullptr;
  // Posted: never from inside libmicrohttpd or the server's destructor.
  if (cb) loop_.post([self = shared_from_this(), cb = std::move(cb)] { cb(); });
}

void ExchangeImpl::suspend() {
  if (suspended_ || conn_ == nullptr || server_ == nullptr) return;
  MHD_suspend_connection(conn_);
  suspended_ = true;
  server_->suspended_.insert(this);
  // libmicrohttpd does not look at a parked connection: watch for the client
  // leaving ourselves. Level-triggered readable means EOF, an error, or bytes.
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(conn_, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == nullptr) return;
  watchFd_ = info->connect_fd;
  if (!rewatch_) {
    rewatch_ = loop_.createTimer([this] {
      if (watch_) watch_->setEnabled(core::kReadable);
    });
  }
  watch_ = loop_.createFileEvent(watchFd_, core::kReadable, [this](uint32_t) {
    pollfd p{watchFd_, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      VLOG(2) << "http server: client of " << req_.method << " " << req_.path << " went away";
      clientGone_ = true;
      wake();
      return;
    }
    // Bytes, not EOF: stop watching for a while instead of spinning on them.
    watch_->setEnabled(0);
    rewatch_->enableTimer(std::chrono::seconds(1));
  });
}

void ExchangeImpl::wake() {
  if (!suspended_ || conn_ == nullptr || server_ == nullptr) return;
  suspended_ = false;
  server_->suspended_.erase(this);
  watch_.reset();
  if (rewatch_) rewatch_->disableTimer();
  MHD_resume_connection(conn_);
  server_->kick();
}

void ExchangeImpl::detach(bool completedOk) {
  if (server_ != nullptr) server_->suspended_.erase(this);
  suspended_ = false;
  watch_.reset();
  rewatch_.reset();
  conn_ = nullptr;
  server_ = nullptr;
  if (completedOk && (action_ == Action::kRespond || action_ == Action::kStream)) {
    finished_ = true;
  }
  drained_ = nullptr;
  onUpgraded_ = nullptr;
  if (!finished_ && !closed_) {
    closed_ = true;
    fireClosed();
  }
  onClosed_ = nullptr;
}

ssize_t ExchangeImpl::readStream(char* out, size_t max) {
  if (server_ == nullptr || server_->stopping_ || clientGone_) {
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  size_t avail = buffered();
  if (avail > 0) {
    size_t n = std::min(avail, max);
    memcpy(out, buf_.data() + sent_, n);
    sent_ += n;
    if (sent_ == buf_.size()) {
      buf_.clear();
      sent_ = 0;
      if (drained_) {
        // Posted: the producer must not re-enter libmicrohttpd's callback.
        std::function<void()> cb = std::move(drained_);
        drained_ = nullptr;
        loop_.post([self = shared_from_this(), cb = std::move(cb)] {
          if (!self->closed_) cb();
        });
      }
    } else if (sent_ >= 64 * 1024 && sent_ * 2 >= buf_.size()) {
      buf_.erase(0, sent_);
      sent_ = 0;
    }
    return static_cast<ssize_t>(n);
  }
  if (ended_) {
    finished_ = true;
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  suspend();
  return 0;
}

void ExchangeImpl::upgraded(std::unique_ptr<UpgradedConnection> conn) {
  finished_ = true;
  std::function<void(std::unique_ptr<UpgradedConnection>)> cb = std::move(onUpgraded_);
  onUpgraded_ = nullptr;
  if (!cb || server_ == nullptr) return;  // nobody wants it: destroying it closes it
  // Posted, so the handler runs outside libmicrohttpd's callback.
  auto holder = std::make_shared<std::unique_ptr<UpgradedConnection>>(std::move(conn));
  loop_.post([cb = std::move(cb), holder] { cb(std::move(*holder)); });
}

UpgradedConnectionImpl::UpgradedConnectionImpl(HttpServer* server, MHD_UpgradeResponseHandle* urh,
                                               int fd, std::string initial, int clientFd)
    : server_(server), urh_(urh), fd_(fd), initial_(std::move(initial)), clientFd_(clientFd) {
  server_->upgraded_.insert(this);
  if (clientFd_ >= 0) watchClient();
}

void UpgradedConnectionImpl::watchClient() {
  core::EventLoop& loop = server_->loop_;
  clientTimer_ = loop.createTimer([this] {
    if (server_ == nullptr) return;
    if (!clientGone_) {
      clientWatch_->setEnabled(core::kReadable);
      return;
    }
    int unread = 0;
    if (ioctl(clientFd_, FIONREAD, &unread) == 0 && unread > 0) {
      // libmicrohttpd has not taken everything in yet (a slow application).
      clientTimer_->enableTimer(std::chrono::milliseconds(100));
      return;
    }
    VLOG(2) << "http server: client of an upgraded TLS connection went away";
    shutdown(fd_, SHUT_WR);
    server_->kick();
  });
  clientWatch_ = loop.createFileEvent(clientFd_, core::kReadable, [this](uint32_t) {
    pollfd p{clientFd_, POLLIN | POLLRDHUP, 0};
    bool gone = poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    // Level-triggered: not again until the timer says so, so bytes that
    // libmicrohttpd has not read yet do not spin the loop.
    clientWatch_->setEnabled(0);
    clientGone_ = gone;
    clientTimer_->enableTimer(gone ? std::chrono::milliseconds(0) : std::chrono::milliseconds(200));
  });
}

UpgradedConnectionImpl::~UpgradedConnectionImpl() {
  clientWatch_.reset();
  clientTimer_.reset();
  if (fd_ >= 0) close(fd_);
  if (server_ != nullptr) {
    server_->upgraded_.erase(this);
    MHD_upgrade_action(urh_, MHD_UPGRADE_ACTION_CLOSE);
    server_->kick();
  }
}

void UpgradedConnectionImpl::detach() {
  if (server_ == nullptr) return;
  clientWatch_.reset();
  clientTimer_.reset();
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  MHD_upgrade_action(urh_, MHD_UPGRADE_ACTION_CLOSE);
  server_ = nullptr;
}

}  // namespace agent::server::internal

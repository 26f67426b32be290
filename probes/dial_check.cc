#include "probes/dial_check.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace probes {

std::string joinHostPort(const std::string& host, int32_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string goDuration(core::Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  int64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, frac = ms % 1000;
  std::string secs = std::to_string(s);
  if (frac != 0) {
    std::string f = std::to_string(frac);
    f.insert(0, 3 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    secs += "." + f;
  }
  secs += "s";
  if (h > 0) return sign + std::to_string(h) + "h" + std::to_string(m) + "m" + secs;
  if (m > 0) return sign + std::to_string(m) + "m" + secs;
  return sign + secs;
}

namespace {

// Go's syscall error strings are glibc's with a lower-case first letter
// ("connection refused", "no route to host").
std::string errnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

struct Address {
  sockaddr_storage sa{};
  socklen_t len = 0;
  std::string text;  // "ip:port" as Go prints it
};

bool parseLiteral(const std::string& host, int32_t port, Address& out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.sa);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.sa);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.len = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  out.text = joinHostPort(host, port);
  return true;
}

Address fromAddrinfo(const addrinfo* ai, int32_t port) {
  Address a;
  std::memcpy(&a.sa, ai->ai_addr, ai->ai_addrlen);
  a.len = ai->ai_addrlen;
  char buf[INET6_ADDRSTRLEN] = {};
  if (ai->ai_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.sa);
    v4->sin_port = htons(static_cast<uint16_t>(port));
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.sa);
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
  }
  a.text = joinHostPort(buf, port);
  return a;
}

// Shared by the resolver thread and the dialer; whichever lets go last closes
// the eventfd, so a cancelled dialer never waits for the thread.
struct Resolution {
  std::mutex mu;
  std::vector<Address> addrs;  // guarded by mu
  std::string error;           // guarded by mu
  int eventFd = -1;
  ~Resolution() {
    if (eventFd >= 0) close(eventFd);
  }
};

void resolve(const std::shared_ptr<Resolution>& r, const std::string& host, int32_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  {
    std::lock_guard<std::mutex> lock(r->mu);
    if (rc == 0) {
      for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
          r->addrs.push_back(fromAddrinfo(ai, port));
      }
    }
    if (rc == EAI_NONAME || (rc == 0 && r->addrs.empty())) {
      r->error = "dial tcp: lookup " + host + ": no such host";
    } else if (rc == EAI_SYSTEM) {
      r->error = "dial tcp: lookup " + host + ": " + errnoText(errno);
    } else if (rc != 0) {
      r->error = "dial tcp: lookup " + host + ": " + gai_strerror(rc);
    }
  }
  if (res != nullptr) freeaddrinfo(res);
  uint64_t one = 1;
  (void)!write(r->eventFd, &one, sizeof(one));
}

class DialerImpl : public Dialer {
 public:
  DialerImpl(core::EventLoop& loop, Done done) : loop_(loop), done_(std::move(done)) {
    deferred_ = loop_.createTimer([this] { deliver(std::exchange(pendingResult_, {})); });
  }
  ~DialerImpl() override {
    closeSocket();
    if (pendingResult_.fd >= 0) close(pendingResult_.fd);
  }

  void begin(const std::string& host, int32_t port) {
    if (port < 0 || port > 65535) {
      deliverLater({-1, "dial tcp: address " + std::to_string(port) + ": invalid port"});
      return;
    }
    Address a;
    if (parseLiteral(host, port, a)) {
      addrs_.push_back(std::move(a));
      tryNext();
      return;
    }
    resolution_ = std::make_shared<Resolution>();
    resolution_->eventFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (resolution_->eventFd < 0) {
      deliverLater({-1, "dial tcp: lookup " + host + ": eventfd: " + errnoText(errno)});
      return;
    }
    resolveEvent_ = loop_.createFileEvent(resolution_->eventFd, core::kReadable,
                                          [this](uint32_t) { onResolved(); });
    std::thread([r = resolution_, host, port] { resolve(r, host, port); }).detach();
  }

 private:
  void onResolved() {
    resolveEvent_.reset();
    std::string error;
    {
      std::lock_guard<std::mutex> lock(resolution_->mu);
      addrs_ = std::move(resolution_->addrs);
      error = std::move(resolution_->error);
    }
    resolution_.reset();
    if (!error.empty()) {
      deliver({-1, std::move(error)});
      return;
    }
    tryNext();
  }

  // Tries the addresses in order, as Go does; the first error is the one reported.
  void tryNext() {
    while (next_ < addrs_.size()) {
      const Address& a = addrs_[next_++];
      fd_ = socket(a.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd_ < 0) {
        noteError("dial tcp " + a.text + ": socket: " + errnoText(errno));
        continue;
      }
      if (connect(fd_, reinterpret_cast<const sockaddr*>(&a.sa), a.len) == 0) {
        deliverLater({releaseSocket(), ""});
        return;
      }
      if (errno == EINPROGRESS) {
        current_ = a.text;
        connectEvent_ =
            loop_.createFileEvent(fd_, core::kWritable, [this](uint32_t) { onConnectReady(); });
        return;
      }
      noteError("dial tcp " + a.text + ": connect: " + errnoText(errno));
      closeSocket();
    }
    deliverLater({-1, firstError_.empty() ? "dial tcp: no addresses" : firstError_});
  }

  void onConnectReady() {
    connectEvent_.reset();
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) {
      deliver({releaseSocket(), ""});
      return;
    }
    noteError("dial tcp " + current_ + ": connect: " + errnoText(err));
    closeSocket();
    tryNext();
  }

  void noteError(std::string e) {
    if (firstError_.empty()) firstError_ = std::move(e);
  }
  int releaseSocket() { return std::exchange(fd_, -1); }
  void closeSocket() {
    connectEvent_.reset();
    if (fd_ >= 0) close(std::exchange(fd_, -1));
  }

  // Results found inside start() wait for the loop, so `done` never runs there.
  void deliverLater(DialResult r) {
    pendingResult_ = std::move(r);
    deferred_->enableTimer(core::Duration::zero());
  }
  // `done` may destroy this: nothing of ours is touched after it is called.
  void deliver(DialResult r) {
    Done done = std::move(done_);
    done(std::move(r));
  }

  core::EventLoop& loop_;
  Done done_;
  core::TimerPtr deferred_;
  DialResult pendingResult_;
  std::shared_ptr<Resolution> resolution_;
  core::FileEventPtr resolveEvent_;
  std::vector<Address> addrs_;
  size_t next_ = 0;
  int fd_ = -1;
  std::string current_;
  std::string firstError_;
  core::FileEventPtr connectEvent_;
};

}  // namespace

std::unique_ptr<Dialer> Dialer::start(core::EventLoop& loop, const std::string& host, int32_t port,
                                      Done done) {
  auto d = std::make_unique<DialerImpl>(loop, std::move(done));
  d->begin(host, port);
  return d;
}

}  // namespace probes

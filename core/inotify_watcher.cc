#include "core/inotify_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "core/log.h"
#include "core/status.h"

namespace core {

namespace {
constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |
                                IN_MOVE_SELF | IN_ONLYDIR;
}  // namespace

absl::StatusOr<std::unique_ptr<DirWatcher>> DirWatcher::create(EventLoop& loop,
                                                               const std::string& dir,
                                                               std::function<void()> onChange) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, "inotify_init1");
  if (::inotify_add_watch(fd, dir.c_str(), kWatchMask) < 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT)
      return absl::NotFoundError(absl::StrCat("watch ", dir, ": directory does not exist"));
    return errnoStatus(err, absl::StrCat("watch ", dir));
  }
  std::unique_ptr<DirWatcher> w(new DirWatcher(dir, fd, std::move(onChange)));
  w->event_ = loop.createFileEvent(fd, kReadable, [raw = w.get()](uint32_t) { raw->onReadable(); });
  return w;
}

DirWatcher::DirWatcher(std::string dir, int fd, std::function<void()> onChange)
    : dir_(std::move(dir)),
      fd_(fd),
      onChange_(std::make_shared<std::function<void()>>(std::move(onChange))) {}

DirWatcher::~DirWatcher() {
  event_.reset();  // stop watching the fd before it is closed
  ::close(fd_);
}

void DirWatcher::onReadable() {
  // Drain everything queued so one wakeup yields one onChange.
  alignas(struct inotify_event) char buf[8192];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN)
        LOG_ERROR << errnoStatus(errno, absl::StrCat("read inotify for ", dir_)).message();
      break;
    }
    if (n == 0) break;
    any = true;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) alive_ = false;
      if (ev->mask & IN_Q_OVERFLOW) {
        VLOG(2) << "inotify queue overflow on " << dir_;
      }
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  if (!alive_) event_->setEnabled(0);
  if (!any) return;
  // Last statement: the callback may destroy this watcher.
  std::shared_ptr<std::function<void()>> cb = onChange_;
  (*cb)();
}

}  // namespace core

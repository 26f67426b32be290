#include "agent/logs/container_logs_handler.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/logs/cri_log_format.h"
#include "agent/logs/log_tail.h"
#include "core/log.h"

namespace agent::logs {
namespace {

// A record longer than this without a '\n' is not a CRI record (containerd splits
// lines into 16 KiB partial records): it is dropped rather than buffered forever.
constexpr size_t kMaxRecordBytes = 4 * 1024 * 1024;

// Go's error texts are lower-case ("no such file or directory").
std::string goErrno(int err) {
  std::string s = ::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

class LogStreamer : public std::enable_shared_from_this<LogStreamer> {
 public:
  LogStreamer(core::EventLoop& loop, server::ExchangePtr ex, const LogOptions& opts,
              std::string path, IsRunningFn isRunning, const LogStreamConfig& config)
      : loop_(loop),
        ex_(std::move(ex)),
        opts_(opts),
        requestedPath_(std::move(path)),
        isRunning_(std::move(isRunning)),
        cfg_(config),
        renderer_(opts.since, opts.timestamps, opts.limitBytes) {}

  ~LogStreamer() { closeAll(); }

  void start() {
    // As the kubelet: resolve symlinks first, so the watch is on the real file.
    char resolved[PATH_MAX];
    if (::realpath(requestedPath_.c_str(), resolved) == nullptr) {
      fail(absl::StrCat("failed to try resolving symlinks in path \"", requestedPath_, "\": lstat ",
                        requestedPath_, ": ", goErrno(errno)));
      return;
    }
    path_ = resolved;
    size_t slash = path_.rfind('/');
    dir_ = slash == 0 ? "/" : path_.substr(0, slash);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      fail(absl::StrCat("failed to open log file \"", path_, "\": open ", path_, ": ",
                        goErrno(errno)));
      return;
    }
    if (opts_.tailLines) {
      struct stat st;
      if (::fstat(fd_, &st) != 0) {
        fail(absl::StrCat("failed to tail ", *opts_.tailLines, " lines of log file \"", path_,
                          "\": ", goErrno(errno)));
        return;
      }
      tail_ = std::make_unique<TailScanner>(fd_, st.st_size, *opts_.tailLines, cfg_.readChunk);
    }
    self_ = shared_from_this();
    std::weak_ptr<LogStreamer> weak = self_;
    ex_->onClosed([weak] {
      if (auto s = weak.lock()) s->finish();
    });
    ex_->startStream(200, "text/plain; charset=utf-8", {});
    schedule();
  }

 private:
  void fail(const std::string& message) {
    server::HttpResponse resp;
    resp.status = 400;
    resp.body = message;
    ex_->respond(std::move(resp));
  }

  void schedule() {
    if (scheduled_ || finished_) return;
    scheduled_ = true;
    std::weak_ptr<LogStreamer> weak = weak_from_this();
    loop_.post([weak] {
      if (auto s = weak.lock()) s->readStep();
    });
  }

  void readStep() {
    scheduled_ = false;
    if (finished_ || paused_) return;
    if (ex_->closed()) {
      finish();
      return;
    }
    if (tail_) {
      auto done = tail_->step();
      if (!done.ok()) {
        LOG_WARNING << "containerLogs " << path_ << ": " << done.status().message();
        finish();
        return;
      }
      if (*done) {
        if (::lseek(fd_, tail_->start(), SEEK_SET) < 0) {
          LOG_WARNING << "containerLogs " << path_ << ": seek: " << goErrno(errno);
          finish();
          return;
        }
        tail_.reset();
      }
      schedule();
      return;
    }
    if (ex_->buffered() > cfg_.maxBuffered) {
      // Slow client: wait for it to drain before reading more.
      paused_ = true;
      std::weak_ptr<LogStreamer> weak = weak_from_this();
      ex_->onDrained([weak] {
        if (auto s = weak.lock()) {
          s->paused_ = false;
          s->schedule();
        }
      });
      return;
    }
    std::string buf(cfg_.readChunk, '\0');
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        schedule();
        return;
      }
      LOG_WARNING << "containerLogs: read " << path_ << ": " << goErrno(errno);
      finish();
      return;
    }
    if (n == 0) {
      atEof();
      return;
    }
    processData(std::string_view(buf.data(), static_cast<size_t>(n)));
    flushOut();
    if (renderer_.limitReached()) {
      finish();
      return;
    }
    schedule();
  }

  void processData(std::string_view data) {
    size_t scanFrom = carry_.size();
    carry_.append(data);
    size_t begin = 0;
    size_t nl;
    while ((nl = carry_.find('\n', scanFrom)) != std::string::npos) {
      if (!renderer_.add(std::string_view(carry_).substr(begin, nl - begin), out_)) {
        carry_.clear();
        return;
      }
      begin = scanFrom = nl + 1;
    }
    carry_.erase(0, begin);
    if (carry_.size() > kMaxRecordBytes) {
      LOG_WARNING << "containerLogs " << path_ << ": dropping " << carry_.size()
                  << " bytes without a line end";
      carry_.clear();
    }
  }

  // The bytes after the last '\n' of a file that will not grow any more.
  void flushIncompleteLine() {
    if (!carry_.empty()) renderer_.add(carry_, out_);
    carry_.clear();
  }

  void flushOut() {
    if (out_.empty() || finished_) return;
    if (!ex_->closed()) ex_->write(out_);
    out_.clear();
  }

  void atEof() {
    if (!opts_.follow || containerStopped_) {
      flushIncompleteLine();
      finish();
      return;
    }
    if (switchToNewFile()) {
      schedule();
      return;
    }
    if (inotifyFd_ < 0) {
      if (!setupWatch()) {
        finish();
        return;
      }
      // Something may have been written between the read and the watch.
      schedule();
      return;
    }
    waiting_ = true;
    armStateCheck();
  }

  // Log rotation: the file we read was renamed away and a new one sits at the
  // path. We are at the old file's end, so go on with the new file.
  bool switchToNewFile() {
    struct stat atPath, cur;
    if (::stat(path_.c_str(), &atPath) != 0 || ::fstat(fd_, &cur) != 0) return false;
    if (atPath.st_dev == cur.st_dev && atPath.st_ino == cur.st_ino) return false;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    flushIncompleteLine();
    flushOut();
    ::close(fd_);
    fd_ = fd;
    if (inotifyFd_ >= 0) {
      if (fileWd_ >= 0) ::inotify_rm_watch(inotifyFd_, fileWd_);
      fileWd_ = watchOpenFile();
    }
    VLOG(2) << "containerLogs: " << path_ << " was rotated, following the new file";
    return true;
  }

  // Watches the inode we have open (through /proc/self/fd), not whatever the path
  // names now.
  int watchOpenFile() {
    std::string self = absl::StrCat("/proc/self/fd/", fd_);
    return ::inotify_add_watch(inotifyFd_, self.c_str(),
                               IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB);
  }

  bool setupWatch() {
    inotifyFd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotifyFd_ < 0) {
      LOG_WARNING << "containerLogs: inotify_init1: " << goErrno(errno);
      return false;
    }
    fileWd_ = watchOpenFile();
    // The directory, to see the new file a rotation (or the runtime's reopen) makes.
    int dirWd = ::inotify_add_watch(inotifyFd_, dir_.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
    if (fileWd_ < 0 || dirWd < 0) {
      LOG_WARNING << "containerLogs: failed to watch file \"" << path_ << "\": " << goErrno(errno);
      return false;
    }
    std::weak_ptr<LogStreamer> weak = weak_from_this();
    inotifyEvent_ = loop_.createFileEvent(inotifyFd_, core::kReadable, [weak](uint32_t) {
      if (auto s = weak.lock()) s->onInotify();
    });
    return true;
  }

  void onInotify() {
    alignas(struct inotify_event) char buf[4096];
    while (::read(inotifyFd_, buf, sizeof buf) > 0) {
    }
    if (finished_) return;
    if (waiting_) {
      waiting_ = false;
      if (stateTimer_) stateTimer_->disableTimer();
      schedule();
    }
  }

  void armStateCheck() {
    if (checking_) return;
    if (!stateTimer_) {
      std::weak_ptr<LogStreamer> weak = weak_from_this();
      stateTimer_ = loop_.createTimer([weak] {
        if (auto s = weak.lock()) s->onStateCheck();
      });
    }
    stateTimer_->enableTimer(cfg_.stateCheckPeriod);
  }

  void onStateCheck() {
    if (finished_ || !waiting_) return;
    checking_ = true;
    std::weak_ptr<LogStreamer> weak = weak_from_this();
    isRunning_([weak](bool running) {
      auto s = weak.lock();
      if (!s || s->finished_) return;
      s->checking_ = false;
      if (!running) {
        // Send what is left, then end (the reader ends at the next EOF).
        s->containerStopped_ = true;
        if (s->waiting_) {
          s->waiting_ = false;
          s->schedule();
        }
      } else if (s->waiting_) {
        s->armStateCheck();
      }
    });
  }

  void finish() {
    if (finished_) return;
    flushOut();
    finished_ = true;
    if (!ex_->closed()) ex_->end();
    closeAll();
    // The caller holds a strong reference (weak.lock()), so this is not the last.
    self_.reset();
  }

  void closeAll() {
    inotifyEvent_.reset();
    stateTimer_.reset();
    if (inotifyFd_ >= 0) ::close(inotifyFd_);
    inotifyFd_ = -1;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    tail_.reset();
  }

  core::EventLoop& loop_;
  server::ExchangePtr ex_;
  LogOptions opts_;
  std::string requestedPath_;
  std::string path_;  // symlinks resolved
  std::string dir_;
  IsRunningFn isRunning_;
  LogStreamConfig cfg_;
  LogRenderer renderer_;
  int fd_ = -1;
  std::string carry_;  // bytes after the last '\n' read
  std::string out_;    // output not yet written to the exchange
  std::unique_ptr<TailScanner> tail_;
  int inotifyFd_ = -1;
  int fileWd_ = -1;
  core::FileEventPtr inotifyEvent_;
  core::TimerPtr stateTimer_;
  bool scheduled_ = false;
  bool paused_ = false;
  bool waiting_ = false;  // at the end of the file, waiting for inotify
  bool checking_ = false;
  bool containerStopped_ = false;
  bool finished_ = false;
  // Keeps the streamer alive while it streams; dropped by finish().
  std::shared_ptr<LogStreamer> self_;
};

}  // namespace

void serveContainerLogs(core::EventLoop& loop, server::ExchangePtr ex, const LogOptions& opts,
                        std::string path, IsRunningFn isRunning, const LogStreamConfig& config) {
  auto streamer = std::make_shared<LogStreamer>(loop, std::move(ex), opts, std::move(path),
                                                std::move(isRunning), config);
  streamer->start();
}

}  // namespace agent::logs

#include "agent/logs/container_log_rotation.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::logs {
namespace {

constexpr char kCompressSuffix[] = ".gz";
constexpr char kTmpSuffix[] = ".tmp";

// The rotated files of `log`: every "<log>.*" in its directory, sorted (oldest
// first, as the timestamp suffix sorts).
absl::StatusOr<std::vector<std::string>> listRotated(const std::string& log) {
  size_t slash = log.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : log.substr(0, slash));
  std::string prefix = absl::StrCat(slash == std::string::npos ? log : log.substr(slash + 1), ".");
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return core::errnoStatus(errno, absl::StrCat("list rotated logs in ", dir));
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (absl::StartsWith(name, prefix)) out.push_back(absl::StrCat(dir, "/", name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status removeFile(const std::string& path, const char* what) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return core::errnoStatus(errno, absl::StrCat("remove ", what, " ", path));
  }
  return absl::OkStatus();
}

// gzip `log` to `<log>.gz` through `<log>.tmp`, then removes `log`.
absl::Status compressLog(const std::string& log) {
  int in = ::open(log.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return core::errnoStatus(errno, absl::StrCat("open ", log));
  std::string tmp = absl::StrCat(log, kTmpSuffix);
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    absl::Status st = core::errnoStatus(errno, absl::StrCat("create ", tmp));
    ::close(in);
    return st;
  }
  gzFile gz = ::gzdopen(out, "wb");
  if (gz == nullptr) {
    ::close(out);
    ::close(in);
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("gzip ", tmp, ": out of memory"));
  }
  absl::Status st;
  std::string buf(64 * 1024, '\0');
  while (true) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      st = core::errnoStatus(errno, absl::StrCat("read ", log));
      break;
    }
    if (n == 0) break;
    if (::gzwrite(gz, buf.data(), static_cast<unsigned>(n)) != static_cast<int>(n)) {
      int zerr = 0;
      st = absl::InternalError(absl::StrCat("gzip write ", tmp, ": ", ::gzerror(gz, &zerr)));
      break;
    }
  }
  ::close(in);
  int closeErr = ::gzclose(gz);  // closes `out`
  if (st.ok() && closeErr != Z_OK) {
    st = absl::InternalError(absl::StrCat("gzip close ", tmp, ": zlib error ", closeErr));
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  std::string gzPath = absl::StrCat(log, kCompressSuffix);
  if (::rename(tmp.c_str(), gzPath.c_str()) != 0) {
    st = core::errnoStatus(errno, absl::StrCat("rename ", tmp, " to ", gzPath));
    ::unlink(tmp.c_str());
    return st;
  }
  return removeFile(log, "compressed log");
}

std::string rotationTimestamp(core::WallTime now) {
  time_t t = std::chrono::system_clock::to_time_t(now);
  struct tm tm;
  ::localtime_r(&t, &tm);
  char buf[32];
  ::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

absl::Status rotateContainerLogIfNeeded(cri::RuntimeService& runtime,
                                        const ContainerLogPolicy& policy,
                                        const RunningContainerLog& c, core::WallTime now) {
  const std::string& log = c.logPath;
  struct stat st;
  if (::stat(log.c_str(), &st) != 0) {
    if (errno != ENOENT) return core::errnoStatus(errno, absl::StrCat("stat ", log));
    // A failed rotation may have lost the file: have the runtime reopen it.
    absl::Status reopen = runtime.reopenContainerLog(c.containerId);
    if (!reopen.ok()) {
      return core::annotate(
          reopen, absl::StrCat("container log ", log, " does not exist, reopen container log"));
    }
    if (::stat(log.c_str(), &st) != 0) {
      return core::errnoStatus(errno, absl::StrCat("stat ", log, " after reopen"));
    }
  }
  if (st.st_size < policy.maxSizeBytes) return absl::OkStatus();

  ASSIGN_OR_RETURN(std::vector<std::string> logs, listRotated(log));
  // Debris of an interrupted rotation.
  std::vector<std::string> inUse;
  for (const std::string& l : logs) {
    bool unused =
        absl::EndsWith(l, kTmpSuffix) ||
        (!absl::EndsWith(l, kCompressSuffix) &&
         std::find(logs.begin(), logs.end(), absl::StrCat(l, kCompressSuffix)) != logs.end());
    if (unused) {
      RETURN_IF_ERROR(removeFile(l, "unused log"));
    } else {
      inUse.push_back(l);
    }
  }
  // The runtime's new file and the one rotated now come on top of these.
  size_t maxRotated = static_cast<size_t>(std::max(0, policy.maxFiles - 2));
  size_t excess = inUse.size() > maxRotated ? inUse.size() - maxRotated : 0;
  for (size_t i = 0; i < excess; ++i) RETURN_IF_ERROR(removeFile(inUse[i], "old log"));
  inUse.erase(inUse.begin(), inUse.begin() + static_cast<std::ptrdiff_t>(excess));
  for (const std::string& l : inUse) {
    if (absl::EndsWith(l, kCompressSuffix)) continue;
    RETURN_IF_ERROR(core::annotate(compressLog(l), absl::StrCat("compress log ", l)));
  }

  std::string rotated = absl::StrCat(log, ".", rotationTimestamp(now));
  if (::rename(log.c_str(), rotated.c_str()) != 0) {
    return core::errnoStatus(errno, absl::StrCat("rotate log ", log, " to ", rotated));
  }
  absl::Status reopen = runtime.reopenContainerLog(c.containerId);
  if (!reopen.ok()) {
    // Put it back so the next round can try again.
    if (::rename(rotated.c_str(), log.c_str()) != 0) {
      LOG_ERROR << "container log rotation: rename " << rotated << " back to " << log << ": "
                << ::strerror(errno) << " (container " << c.containerId << ")";
    }
    return core::annotate(reopen, absl::StrCat("reopen container log ", c.containerId));
  }
  return absl::OkStatus();
}

struct ContainerLogManager::Shared {
  ContainerLogManager* owner = nullptr;
  bool running = false;
  bool again = false;  // a rotateNow() came while a pass ran
  std::vector<std::function<void()>> waiters;
};

ContainerLogManager::ContainerLogManager(core::EventLoop& loop, core::WorkerPool& pool,
                                         cri::RuntimeService& runtime, ContainerLogPolicy policy,
                                         ListRunning listRunning, core::Duration monitorInterval)
    : loop_(loop),
      pool_(pool),
      runtime_(runtime),
      policy_(policy),
      listRunning_(std::move(listRunning)),
      interval_(monitorInterval),
      shared_(std::make_shared<Shared>()) {
  shared_->owner = this;
}

ContainerLogManager::~ContainerLogManager() { shared_->owner = nullptr; }

void ContainerLogManager::start() {
  timer_ = loop_.createTimer([this] {
    rotateNow();
    timer_->enableTimer(interval_);
  });
  timer_->enableTimer(interval_);
}

void ContainerLogManager::rotateNow(std::function<void()> done) {
  if (done) shared_->waiters.push_back(std::move(done));
  if (shared_->running) {
    shared_->again = true;
    return;
  }
  shared_->running = true;
  std::vector<RunningContainerLog> containers = listRunning_();
  std::weak_ptr<Shared> weak = shared_;
  core::EventLoop* loop = &loop_;
  cri::RuntimeService* runtime = &runtime_;
  ContainerLogPolicy policy = policy_;
  core::WallTime now = loop_.wallNow();
  pool_.submit([loop, runtime, policy, now, weak, containers = std::move(containers)] {
    for (const RunningContainerLog& c : containers) {
      absl::Status st = rotateContainerLogIfNeeded(*runtime, policy, c, now);
      if (!st.ok()) {
        LOG_WARNING << "container log rotation for container " << c.containerId
                    << " failed: " << st.message();
      }
    }
    loop->post([weak] {
      auto shared = weak.lock();
      if (!shared || shared->owner == nullptr) return;
      shared->running = false;
      std::vector<std::function<void()>> waiters;
      if (shared->again) {
        shared->again = false;
        shared->owner->rotateNow();  // the waiters wait for that pass
        return;
      }
      waiters.swap(shared->waiters);
      for (auto& w : waiters) w();
    });
  });
}

}  // namespace agent::logs

#include "agent/shutdown/logind_inhibitor.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::shutdown {

namespace {

constexpr char kSystemdService[] = "org.freedesktop.systemd1";
constexpr char kSystemdObject[] = "/org/freedesktop/systemd1";
constexpr char kSystemdInterface[] = "org.freedesktop.systemd1.Manager";
constexpr char kLogindUnit[] = "systemd-logind.service";
// No call to logind or systemd should take long; a hung peer must not stall
// the manager's start for sd-bus's default 25 s.
constexpr uint64_t kCallTimeoutUsec = 10'000'000;

absl::Status busError(const sd_bus_error* e, const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", e->name != nullptr ? e->name : "", ": ",
                                             e->message != nullptr ? e->message : ""));
}

absl::Status busErrno(int r, const std::string& what) { return core::errnoStatus(-r, what); }

}  // namespace

std::string logindOverrideContent(core::Duration inhibitDelayMax) {
  // The kubelet formats the seconds with %.0f.
  double seconds = std::chrono::duration<double>(inhibitDelayMax).count();
  return absl::StrFormat("# Kubelet logind override\n[Login]\nInhibitDelayMaxSec=%.0f\n", seconds);
}

InhibitLock& InhibitLock::operator=(InhibitLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void InhibitLock::release() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

struct LogindInhibitor::Pending {
  LogindInhibitor* self = nullptr;
  uint64_t id = 0;
  ReplyFn fn;
  sd_bus_slot* slot = nullptr;
  // Unref-ing a pending call's slot cancels it: its callback never runs.
  ~Pending() { sd_bus_slot_unref(slot); }
};

LogindInhibitor::LogindInhibitor(core::EventLoop& loop, core::DbusConnection& bus,
                                 std::string confDir)
    : loop_(loop), bus_(bus), confDir_(std::move(confDir)) {}

LogindInhibitor::~LogindInhibitor() {
  *alive_ = false;
  pending_.clear();
  sd_bus_slot_unref(matchSlot_);
}

std::string LogindInhibitor::dropInPath() const {
  return absl::StrCat(confDir_, "/", kKubeletLogindConf);
}

void LogindInhibitor::failSoon(std::function<void()> fn) {
  loop_.post([alive = alive_, fn = std::move(fn)] {
    if (*alive) fn();
  });
}

void LogindInhibitor::callAsync(sd_bus_message* m, ReplyFn fn) {
  auto p = std::make_unique<Pending>();
  p->self = this;
  p->id = nextId_++;
  p->fn = std::move(fn);
  int r = sd_bus_call_async(bus_.bus(), &p->slot, m, &LogindInhibitor::onReply, p.get(),
                            kCallTimeoutUsec);
  sd_bus_message_unref(m);
  if (r < 0) {
    failSoon([fn = std::move(p->fn), r] {
      sd_bus_error e = SD_BUS_ERROR_NULL;
      sd_bus_error_set_errno(&e, r);
      fn(nullptr, &e);
      sd_bus_error_free(&e);
    });
    return;
  }
  uint64_t id = p->id;
  pending_.emplace(id, std::move(p));
}

int LogindInhibitor::onReply(sd_bus_message* m, void* userdata, sd_bus_error* /*ret*/) {
  auto* p = static_cast<Pending*>(userdata);
  LogindInhibitor* self = p->self;
  ReplyFn fn = std::move(p->fn);
  // sd-bus holds its own reference to the slot while this runs.
  self->pending_.erase(p->id);
  // `fn` may destroy this inhibitor: nothing of it is touched afterwards.
  fn(m, sd_bus_message_is_method_error(m, nullptr) ? sd_bus_message_get_error(m) : nullptr);
  return 0;
}

void LogindInhibitor::currentInhibitDelay(
    std::function<void(absl::StatusOr<core::Duration>)> done) {
  sd_bus_message* m = nullptr;
  int r = sd_bus_message_new_method_call(bus_.bus(), &m, kLogindService, kLogindObject,
                                         "org.freedesktop.DBus.Properties", "Get");
  if (r >= 0) r = sd_bus_message_append(m, "ss", kLogindInterface, "InhibitDelayMaxUSec");
  if (r < 0) {
    sd_bus_message_unref(m);
    failSoon([done = std::move(done), r] {
      done(busErrno(r, "reading InhibitDelayMaxUSec property from logind"));
    });
    return;
  }
  callAsync(m, [done = std::move(done)](sd_bus_message* reply, const sd_bus_error* err) {
    if (err != nullptr) {
      done(busError(err, "failed reading InhibitDelayMaxUSec property from logind"));
      return;
    }
    uint64_t usec = 0;
    int r = sd_bus_message_enter_container(reply, 'v', "t");
    if (r >= 0) r = sd_bus_message_read(reply, "t", &usec);
    if (r < 0) {
      done(absl::InvalidArgumentError(
          "InhibitDelayMaxUSec from logind is not a uint64 as expected"));
      return;
    }
    done(std::chrono::duration_cast<core::Duration>(std::chrono::microseconds(usec)));
  });
}

void LogindInhibitor::inhibitShutdown(std::function<void(absl::StatusOr<InhibitLock>)> done) {
  sd_bus_message* m = nullptr;
  int r = sd_bus_message_new_method_call(bus_.bus(), &m, kLogindService, kLogindObject,
                                         kLogindInterface, "Inhibit");
  if (r >= 0) {
    r = sd_bus_message_append(m, "ssss", kInhibitWhat, kInhibitWho, kInhibitWhy, kInhibitMode);
  }
  if (r < 0) {
    sd_bus_message_unref(m);
    failSoon(
        [done = std::move(done), r] { done(busErrno(r, "failed creating systemd inhibitor")); });
    return;
  }
  callAsync(m, [done = std::move(done)](sd_bus_message* reply, const sd_bus_error* err) {
    if (err != nullptr) {
      done(busError(err, "failed creating systemd inhibitor"));
      return;
    }
    int fd = -1;
    int r = sd_bus_message_read(reply, "h", &fd);
    if (r < 0) {
      done(busErrno(r, "failed storing inhibit lock file descriptor"));
      return;
    }
    // The reply owns its fd and closes it when it is freed.
    int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (own < 0) {
      done(core::errnoStatus(errno, "failed storing inhibit lock file descriptor: dup"));
      return;
    }
    done(InhibitLock(own));
  });
}

absl::Status LogindInhibitor::overrideInhibitDelay(core::Duration inhibitDelayMax) {
  if (absl::Status s = core::mkdirAll(confDir_, 0755); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("failed creating ", confDir_, " directory: ", s.message()));
  }
  std::string path = dropInPath();
  if (absl::Status s = core::writeFileAtomic(path, logindOverrideContent(inhibitDelayMax), 0644);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("failed writing logind shutdown inhibit override "
                                               "file ",
                                               path, ": ", s.message()));
  }
  return absl::OkStatus();
}

void LogindInhibitor::reloadLogindConf(std::function<void(absl::Status)> done) {
  sd_bus_message* m = nullptr;
  int r = sd_bus_message_new_method_call(bus_.bus(), &m, kSystemdService, kSystemdObject,
                                         kSystemdInterface, "KillUnit");
  // SIGHUP makes logind re-read logind.conf and its drop-ins.
  if (r >= 0) r = sd_bus_message_append(m, "ssi", kLogindUnit, "all", int32_t{1});
  if (r < 0) {
    sd_bus_message_unref(m);
    failSoon([done = std::move(done), r] { done(busErrno(r, "unable to reload logind conf")); });
    return;
  }
  callAsync(m, [done = std::move(done)](sd_bus_message* /*reply*/, const sd_bus_error* err) {
    done(err != nullptr ? busError(err, "unable to reload logind conf") : absl::OkStatus());
  });
}

void LogindInhibitor::monitorShutdown(std::function<void(bool)> onEvent,
                                      std::function<void(absl::Status)> done) {
  sd_bus_slot_unref(matchSlot_);
  matchSlot_ = nullptr;
  onEvent_ = std::move(onEvent);
  matchDone_ = std::move(done);
  int r = sd_bus_match_signal_async(
      bus_.bus(), &matchSlot_, kLogindService, kLogindObject, kLogindInterface,
      "PrepareForShutdown", &LogindInhibitor::onSignal, &LogindInhibitor::onMatchInstalled, this);
  if (r < 0) {
    auto cb = std::move(matchDone_);
    failSoon([cb = std::move(cb), r] {
      cb(busErrno(r, "failed to monitor shutdown: add match for PrepareForShutdown"));
    });
  }
}

int LogindInhibitor::onMatchInstalled(sd_bus_message* m, void* userdata, sd_bus_error* /*ret*/) {
  auto* self = static_cast<LogindInhibitor*>(userdata);
  auto cb = std::move(self->matchDone_);
  self->matchDone_ = nullptr;
  if (!cb) return 0;
  if (sd_bus_message_is_method_error(m, nullptr)) {
    cb(busError(sd_bus_message_get_error(m),
                "failed to monitor shutdown: add match for PrepareForShutdown"));
  } else {
    cb(absl::OkStatus());
  }
  return 0;
}

int LogindInhibitor::onSignal(sd_bus_message* m, void* userdata, sd_bus_error* /*ret*/) {
  auto* self = static_cast<LogindInhibitor*>(userdata);
  int active = 0;
  int r = sd_bus_message_read(m, "b", &active);
  if (r < 0) {
    LOG_ERROR << "Failed obtaining shutdown event, PrepareForShutdown event was not bool type "
                 "as expected";
    return 0;
  }
  if (self->onEvent_) self->onEvent_(active != 0);
  return 0;
}

}  // namespace agent::shutdown

// Talking to systemd-logind for graceful node shutdown, as the kubelet's
// nodeshutdown/systemd package does: read InhibitDelayMaxUSec, take a "delay"
// inhibitor lock for "shutdown" (an fd; closing it releases the lock), listen for
// PrepareForShutdown, and raise logind's InhibitDelayMaxSec with a drop-in
// (/etc/systemd/logind.conf.d/99-kubelet.conf) plus a reload (SIGHUP to
// systemd-logind.service through systemd's KillUnit).
//
// Every D-Bus call is asynchronous on the connection's event loop; replies and
// signals arrive as callbacks on the loop thread. The ShutdownManager talks to the
// Inhibitor interface so its logic can be tested on a simulated loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dbus_connection.h"
#include "core/event_loop.h"

namespace agent::shutdown {

inline constexpr char kLogindService[] = "org.freedesktop.login1";
inline constexpr char kLogindObject[] = "/org/freedesktop/login1";
inline constexpr char kLogindInterface[] = "org.freedesktop.login1.Manager";
// The kubelet's Inhibit arguments (systemd-inhibit --list shows them).
inline constexpr char kInhibitWhat[] = "shutdown";
inline constexpr char kInhibitWho[] = "kubelet";
inline constexpr char kInhibitWhy[] = "Kubelet needs time to handle node shutdown";
inline constexpr char kInhibitMode[] = "delay";
// Where the kubelet writes its InhibitDelayMaxSec override.
inline constexpr char kLogindConfigDirectory[] = "/etc/systemd/logind.conf.d";
inline constexpr char kKubeletLogindConf[] = "99-kubelet.conf";

// The drop-in's text for `inhibitDelayMax` (whole seconds, as the kubelet rounds).
std::string logindOverrideContent(core::Duration inhibitDelayMax);

// An inhibitor lock: logind delays shutdown while this fd is open. Move-only;
// destroying or release()-ing it closes the fd.
class InhibitLock {
 public:
  InhibitLock() = default;
  explicit InhibitLock(int fd) : fd_(fd) {}
  ~InhibitLock() { release(); }
  InhibitLock(InhibitLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  InhibitLock& operator=(InhibitLock&& o) noexcept;
  InhibitLock(const InhibitLock&) = delete;
  InhibitLock& operator=(const InhibitLock&) = delete;

  bool held() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void release();

 private:
  int fd_ = -1;
};

// The kubelet's dbusInhibiter. All callbacks run on the loop thread, never inside
// the call that started them.
class Inhibitor {
 public:
  virtual ~Inhibitor() = default;
  // logind's InhibitDelayMaxUSec.
  virtual void currentInhibitDelay(std::function<void(absl::StatusOr<core::Duration>)> done) = 0;
  // Inhibit("shutdown", "kubelet", "...", "delay").
  virtual void inhibitShutdown(std::function<void(absl::StatusOr<InhibitLock>)> done) = 0;
  // Writes the drop-in that raises InhibitDelayMaxSec to `inhibitDelayMax`.
  virtual absl::Status overrideInhibitDelay(core::Duration inhibitDelayMax) = 0;
  // Makes logind re-read its configuration.
  virtual void reloadLogindConf(std::function<void(absl::Status)> done) = 0;
  // Subscribes to PrepareForShutdown; `done` says whether the match is installed.
  // `onEvent(true)`: shutdown is imminent; `onEvent(false)`: it was cancelled.
  virtual void monitorShutdown(std::function<void(bool)> onEvent,
                               std::function<void(absl::Status)> done) = 0;
};
using InhibitorPtr = std::unique_ptr<Inhibitor>;

// The Inhibitor over sd-bus.
class LogindInhibitor : public Inhibitor {
 public:
  // `loop` (the one `bus` is attached to) and `bus` must outlive this. `confDir`
  // is where the drop-in goes.
  LogindInhibitor(core::EventLoop& loop, core::DbusConnection& bus,
                  std::string confDir = kLogindConfigDirectory);
  // Cancels outstanding calls (their callbacks never run) and the signal match.
  ~LogindInhibitor() override;

  void currentInhibitDelay(std::function<void(absl::StatusOr<core::Duration>)> done) override;
  void inhibitShutdown(std::function<void(absl::StatusOr<InhibitLock>)> done) override;
  absl::Status overrideInhibitDelay(core::Duration inhibitDelayMax) override;
  void reloadLogindConf(std::function<void(absl::Status)> done) override;
  void monitorShutdown(std::function<void(bool)> onEvent,
                       std::function<void(absl::Status)> done) override;

  std::string dropInPath() const;

 private:
  struct Pending;
  using ReplyFn = std::function<void(sd_bus_message* reply, const sd_bus_error* error)>;
  // Sends `m` with a deadline; `fn` gets the reply or the error (also on timeout).
  void callAsync(sd_bus_message* m, ReplyFn fn);
  void failSoon(std::function<void()> fn);
  static int onReply(sd_bus_message* m, void* userdata, sd_bus_error* ret);
  static int onSignal(sd_bus_message* m, void* userdata, sd_bus_error* ret);
  static int onMatchInstalled(sd_bus_message* m, void* userdata, sd_bus_error* ret);

  core::EventLoop& loop_;
  core::DbusConnection& bus_;
  std::string confDir_;
  // Lets callbacks posted to the loop notice that this is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t nextId_ = 0;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  sd_bus_slot* matchSlot_ = nullptr;
  std::function<void(bool)> onEvent_;
  std::function<void(absl::Status)> matchDone_;
};

}  // namespace agent::shutdown

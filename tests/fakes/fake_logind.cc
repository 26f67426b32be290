#include "tests/fakes/fake_logind.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/status.h"

namespace cubelet::testing {

namespace {

constexpr char kLogindObject[] = "/org/freedesktop/login1";
constexpr char kLogindInterface[] = "org.freedesktop.login1.Manager";

}  // namespace

FakeLogind::FakeLogind(core::SdEventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)), delayUSec_(options_.inhibitDelayMaxUSec) {}

FakeLogind::~FakeLogind() {
  for (sd_bus_slot* s : slots_) sd_bus_slot_unref(s);
  for (int fd : keptFds_) ::close(fd);
}

absl::StatusOr<std::unique_ptr<FakeLogind>> FakeLogind::create(core::SdEventLoop& loop,
                                                               const std::string& address,
                                                               Options options) {
  std::unique_ptr<FakeLogind> f(new FakeLogind(loop, std::move(options)));
  ASSIGN_OR_RETURN(f->conn_, core::DbusConnection::openAddress(address, loop));
  sd_bus* bus = f->conn_->bus();

  static const sd_bus_vtable loginVtable[] = {
      SD_BUS_VTABLE_START(0),
      SD_BUS_PROPERTY("InhibitDelayMaxUSec", "t", &FakeLogind::getDelay, 0, 0),
      SD_BUS_METHOD("Inhibit", "ssss", "h", &FakeLogind::onInhibit, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_SIGNAL("PrepareForShutdown", "b", 0),
      SD_BUS_VTABLE_END,
  };
  static const sd_bus_vtable systemdVtable[] = {
      SD_BUS_VTABLE_START(0),
      SD_BUS_METHOD("KillUnit", "ssi", "", &FakeLogind::onKillUnit, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_VTABLE_END,
  };
  sd_bus_slot* slot = nullptr;
  int r =
      sd_bus_add_object_vtable(bus, &slot, kLogindObject, kLogindInterface, loginVtable, f.get());
  if (r < 0) return core::errnoStatus(-r, "fake logind: add login1 vtable");
  f->slots_.push_back(slot);
  r = sd_bus_add_object_vtable(bus, &slot, "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", systemdVtable, f.get());
  if (r < 0) return core::errnoStatus(-r, "fake logind: add systemd1 vtable");
  f->slots_.push_back(slot);
  for (const char* name : {"org.freedesktop.login1", "org.freedesktop.systemd1"}) {
    r = sd_bus_request_name_async(bus, &slot, name, 0, &FakeLogind::onNameAcquired, f.get());
    if (r < 0) return core::errnoStatus(-r, absl::StrCat("fake logind: request name ", name));
    f->slots_.push_back(slot);
  }
  return f;
}

int FakeLogind::onNameAcquired(sd_bus_message* m, void* userdata, sd_bus_error* /*err*/) {
  auto* self = static_cast<FakeLogind*>(userdata);
  if (sd_bus_message_is_method_error(m, nullptr)) {
    const sd_bus_error* e = sd_bus_message_get_error(m);
    self->error_ = absl::StrCat("RequestName: ", e->name, ": ", e->message ? e->message : "");
    return 0;
  }
  ++self->namesOwned_;
  return 0;
}

int FakeLogind::getDelay(sd_bus* /*bus*/, const char* /*path*/, const char* /*interface*/,
                         const char* /*property*/, sd_bus_message* reply, void* userdata,
                         sd_bus_error* /*err*/) {
  auto* self = static_cast<FakeLogind*>(userdata);
  ++self->propertyReads_;
  return sd_bus_message_append(reply, "t", self->delayUSec_);
}

int FakeLogind::onInhibit(sd_bus_message* m, void* userdata, sd_bus_error* err) {
  auto* self = static_cast<FakeLogind*>(userdata);
  const char *what = nullptr, *who = nullptr, *why = nullptr, *mode = nullptr;
  int r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode);
  if (r < 0) return r;
  const char* sender = sd_bus_message_get_sender(m);
  self->inhibitCalls_.push_back(InhibitCall{what, who, why, mode, sender ? sender : ""});
  if (self->failInhibit_) {
    return sd_bus_error_set(err, SD_BUS_ERROR_ACCESS_DENIED, "Permission denied");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return -errno;
  self->keptFds_.push_back(fds[0]);
  // sd-bus sends a duplicate; ours is closed right away so only the client's
  // copy keeps the write side open.
  r = sd_bus_reply_method_return(m, "h", fds[1]);
  ::close(fds[1]);
  return r;
}

int FakeLogind::onKillUnit(sd_bus_message* m, void* userdata, sd_bus_error* /*err*/) {
  auto* self = static_cast<FakeLogind*>(userdata);
  const char *unit = nullptr, *whom = nullptr;
  int32_t signal = 0;
  int r = sd_bus_message_read(m, "ssi", &unit, &whom, &signal);
  if (r < 0) return r;
  self->killUnitCalls_.push_back(KillUnitCall{unit, whom, signal});
  if (std::string(unit) == "systemd-logind.service" && signal == SIGHUP &&
      self->options_.applyReload) {
    self->reload();
  }
  return sd_bus_reply_method_return(m, "");
}

void FakeLogind::reload() {
  namespace fs = std::filesystem;
  if (options_.confDir.empty()) return;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(options_.confDir, ec)) {
    if (e.path().extension() == ".conf") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string line;
    bool login = false;
    while (std::getline(in, line)) {
      absl::string_view l = absl::StripAsciiWhitespace(line);
      if (l.empty() || l[0] == '#' || l[0] == ';') continue;
      if (l[0] == '[') {
        login = l == "[Login]";
        continue;
      }
      if (!login || !absl::ConsumePrefix(&l, "InhibitDelayMaxSec=")) continue;
      absl::ConsumeSuffix(&l, "s");
      uint64_t secs = 0;
      if (absl::SimpleAtoi(l, &secs)) delayUSec_ = secs * 1'000'000;
    }
  }
}

absl::Status FakeLogind::emitPrepareForShutdown(bool active) {
  int r = sd_bus_emit_signal(conn_->bus(), kLogindObject, kLogindInterface, "PrepareForShutdown",
                             "b", static_cast<int>(active));
  if (r < 0) return core::errnoStatus(-r, "fake logind: emit PrepareForShutdown");
  return absl::OkStatus();
}

bool FakeLogind::released(size_t i) const {
  if (i >= keptFds_.size()) return false;
  struct pollfd p = {keptFds_[i], POLLIN, 0};
  if (::poll(&p, 1, 0) < 0) return false;
  return (p.revents & POLLHUP) != 0;
}

size_t FakeLogind::heldCount() const {
  size_t n = 0;
  for (size_t i = 0; i < keptFds_.size(); ++i) n += released(i) ? 0 : 1;
  return n;
}

}  // namespace cubelet::testing

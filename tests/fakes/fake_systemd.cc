#include "tests/fakes/fake_systemd.h"

#include <systemd/sd-bus.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace cubelet::testing {

namespace {

constexpr char kName[] = "org.freedesktop.systemd1";
constexpr char kPath[] = "/org/freedesktop/systemd1";
constexpr char kManager[] = "org.freedesktop.systemd1.Manager";

// Reads an a(sv) into `call`; values of types the driver never sends are skipped.
int readProperties(sd_bus_message* m, FakeSystemdCall& call) {
  int r = sd_bus_message_enter_container(m, 'a', "(sv)");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
    const char* name = nullptr;
    r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    char type = 0;
    const char* contents = nullptr;
    r = sd_bus_message_peek_type(m, &type, &contents);
    if (r < 0) return r;
    std::string sig = contents ? contents : "";
    r = sd_bus_message_enter_container(m, 'v', contents);
    if (r < 0) return r;
    std::string text;
    if (sig == "t") {
      uint64_t v = 0;
      r = sd_bus_message_read(m, "t", &v);
      text = std::to_string(v);
    } else if (sig == "b") {
      int v = 0;
      r = sd_bus_message_read(m, "b", &v);
      text = v ? "true" : "false";
    } else if (sig == "s") {
      const char* v = nullptr;
      r = sd_bus_message_read(m, "s", &v);
      text = v;
    } else if (sig == "as") {
      char** strv = nullptr;
      r = sd_bus_message_read_strv(m, &strv);
      std::vector<std::string> items;
      for (char** s = strv; s && *s; ++s) {
        items.push_back(*s);
        free(*s);
      }
      free(strv);
      text = absl::StrJoin(items, ",");
    } else {
      r = sd_bus_message_skip(m, contents);
      text = "<" + sig + ">";
    }
    if (r < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;  // v
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;  // (sv)
    call.props[name] = text;
    call.types[name] = sig;
    call.propOrder.push_back(name);
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeSystemd>> FakeSystemd::start(const std::string& address,
                                                                core::SdEventLoop& loop) {
  static const sd_bus_vtable kVtable[] = {
      SD_BUS_VTABLE_START(0),
      SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o",
                    &FakeSystemd::onStartTransientUnit, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_METHOD("SetUnitProperties", "sba(sv)", "", &FakeSystemd::onSetUnitProperties,
                    SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_METHOD("StopUnit", "ss", "o", &FakeSystemd::onStopUnit, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_METHOD("ResetFailedUnit", "s", "", &FakeSystemd::onResetFailedUnit,
                    SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_METHOD("Subscribe", "", "", &FakeSystemd::onSubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
      SD_BUS_VTABLE_END,
  };
  std::unique_ptr<FakeSystemd> fake(new FakeSystemd);
  ASSIGN_OR_RETURN(fake->conn_, core::DbusConnection::openAddress(address, loop));
  sd_bus* bus = fake->conn_->bus();
  int r = sd_bus_add_object_vtable(bus, &fake->vtableSlot_, kPath, kManager, kVtable, fake.get());
  if (r < 0) return core::errnoStatus(-r, "fake systemd: add vtable");
  r = sd_bus_request_name(bus, kName, 0);
  if (r < 0) return core::errnoStatus(-r, absl::StrCat("fake systemd: request name ", kName));
  return fake;
}

FakeSystemd::~FakeSystemd() { sd_bus_slot_unref(vtableSlot_); }

std::vector<FakeSystemdCall> FakeSystemd::calls(const std::string& method) const {
  std::vector<FakeSystemdCall> out;
  for (const FakeSystemdCall& c : calls_) {
    if (c.method == method) out.push_back(c);
  }
  return out;
}

int FakeSystemd::replyWithJob(sd_bus_message* m, const std::string& unit) {
  uint32_t id = nextJob_++;
  std::string job = absl::StrCat(kPath, "/job/", id);
  int r = sd_bus_reply_method_return(m, "o", job.c_str());
  if (r < 0 || !finishJobs_) return r;
  auto it = results_.find(unit);
  std::string result = it == results_.end() ? "done" : it->second;
  // Queued after the reply, as systemd's job ends after it answered.
  return sd_bus_emit_signal(sd_bus_message_get_bus(m), kPath, kManager, "JobRemoved", "uoss", id,
                            job.c_str(), unit.c_str(), result.c_str());
}

int FakeSystemd::onStartTransientUnit(sd_bus_message* m, void* userdata, sd_bus_error* err) {
  auto* self = static_cast<FakeSystemd*>(userdata);
  FakeSystemdCall call;
  call.method = "StartTransientUnit";
  const char *unit = nullptr, *mode = nullptr;
  int r = sd_bus_message_read(m, "ss", &unit, &mode);
  if (r < 0) return r;
  call.unit = unit;
  call.mode = mode;
  if ((r = readProperties(m, call)) < 0) return r;
  if ((r = sd_bus_message_skip(m, "a(sa(sv))")) < 0) return r;
  self->calls_.push_back(call);
  if (self->units_.count(call.unit) > 0) {
    return sd_bus_error_setf(err, "org.freedesktop.systemd1.UnitExists", "Unit %s already exists.",
                             unit);
  }
  auto res = self->results_.find(call.unit);
  // A unit whose start job fails is not left loaded (as after ResetFailedUnit).
  if (res == self->results_.end() || res->second == "done") self->units_.insert(call.unit);
  return self->replyWithJob(m, call.unit);
}

int FakeSystemd::onSetUnitProperties(sd_bus_message* m, void* userdata, sd_bus_error* err) {
  auto* self = static_cast<FakeSystemd*>(userdata);
  FakeSystemdCall call;
  call.method = "SetUnitProperties";
  const char* unit = nullptr;
  int runtime = 0;
  int r = sd_bus_message_read(m, "sb", &unit, &runtime);
  if (r < 0) return r;
  call.unit = unit;
  call.runtime = runtime != 0;
  if ((r = readProperties(m, call)) < 0) return r;
  self->calls_.push_back(call);
  if (self->units_.count(call.unit) == 0) {
    return sd_bus_error_setf(err, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.",
                             unit);
  }
  return sd_bus_reply_method_return(m, "");
}

int FakeSystemd::onStopUnit(sd_bus_message* m, void* userdata, sd_bus_error* err) {
  auto* self = static_cast<FakeSystemd*>(userdata);
  FakeSystemdCall call;
  call.method = "StopUnit";
  const char *unit = nullptr, *mode = nullptr;
  int r = sd_bus_message_read(m, "ss", &unit, &mode);
  if (r < 0) return r;
  call.unit = unit;
  call.mode = mode;
  self->calls_.push_back(call);
  if (self->units_.erase(call.unit) == 0) {
    return sd_bus_error_setf(err, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.",
                             unit);
  }
  return self->replyWithJob(m, call.unit);
}

int FakeSystemd::onResetFailedUnit(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<FakeSystemd*>(userdata);
  const char* unit = nullptr;
  int r = sd_bus_message_read(m, "s", &unit);
  if (r < 0) return r;
  FakeSystemdCall call;
  call.method = "ResetFailedUnit";
  call.unit = unit;
  self->calls_.push_back(call);
  return sd_bus_reply_method_return(m, "");
}

int FakeSystemd::onSubscribe(sd_bus_message* m, void* userdata, sd_bus_error*) {
  FakeSystemdCall call;
  call.method = "Subscribe";
  static_cast<FakeSystemd*>(userdata)->calls_.push_back(call);
  return sd_bus_reply_method_return(m, "");
}

}  // namespace cubelet::testing

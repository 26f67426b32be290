#include "cgroups/systemd_manager.h"

#include <sys/stat.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status.h"

namespace cgroups {

namespace {

constexpr char kDestination[] = "org.freedesktop.systemd1";
constexpr char kPath[] = "/org/freedesktop/systemd1";
constexpr char kManager[] = "org.freedesktop.systemd1.Manager";
constexpr char kUnitExists[] = "org.freedesktop.systemd1.UnitExists";
constexpr char kNoSuchUnit[] = "org.freedesktop.systemd1.NoSuchUnit";
// systemd's USEC_INFINITY / CGROUP_LIMIT_MAX: what "max" is on the wire.
constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kDefaultCpuPeriodUs = 100000;
// JobRemoved results kept for jobs whose reply has not been handled yet.
constexpr size_t kMaxEarlyResults = 64;

uint64_t limitOrMax(int64_t v) { return v < 0 ? kInfinity : static_cast<uint64_t>(v); }

int appendProperty(sd_bus_message* m, const UnitProperty& p) {
  int r = sd_bus_message_open_container(m, 'r', "sv");
  if (r >= 0) r = sd_bus_message_append(m, "s", p.name.c_str());
  if (r < 0) return r;
  if (auto* s = std::get_if<std::string>(&p.value)) {
    r = sd_bus_message_append(m, "v", "s", s->c_str());
  } else if (auto* b = std::get_if<bool>(&p.value)) {
    r = sd_bus_message_append(m, "v", "b", static_cast<int>(*b));
  } else if (auto* t = std::get_if<uint64_t>(&p.value)) {
    r = sd_bus_message_append(m, "v", "t", *t);
  } else {
    r = sd_bus_message_open_container(m, 'v', "as");
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "s");
    for (const std::string& s : std::get<std::vector<std::string>>(p.value)) {
      if (r >= 0) r = sd_bus_message_append(m, "s", s.c_str());
    }
    if (r >= 0) r = sd_bus_message_close_container(m);
    if (r >= 0) r = sd_bus_message_close_container(m);
  }
  if (r >= 0) r = sd_bus_message_close_container(m);
  return r;
}

int appendProperties(sd_bus_message* m, const std::vector<UnitProperty>& props) {
  int r = sd_bus_message_open_container(m, 'a', "(sv)");
  for (const UnitProperty& p : props) {
    if (r >= 0) r = appendProperty(m, p);
  }
  if (r >= 0) r = sd_bus_message_close_container(m);
  return r;
}

// What the kubelet's updateSystemdCgroupInfo makes the libcontainer Parent: the
// last slice of the parent's path, "-.slice" under the root.
std::string parentSlice(const std::string& systemdPath) {
  size_t slash = systemdPath.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "-.slice";
  std::string dir = systemdPath.substr(0, slash);
  return dir.substr(dir.rfind('/') + 1);
}

const char* verb(const std::string& method) {
  if (method == "StartTransientUnit") return "creating";
  if (method == "StopUnit") return "removing";
  return "updating";
}

}  // namespace

std::vector<UnitProperty> sliceProperties(const CgroupName& name) {
  std::string unit = systemdSliceName(name);
  return {
      {"Description", std::string("libcontainer container ") + unit},
      {"Wants", std::vector<std::string>{parentSlice(toSystemd(name))}},
      {"MemoryAccounting", true},
      {"CPUAccounting", true},
      {"IOAccounting", true},
      {"TasksAccounting", true},
      {"DefaultDependencies", false},
  };
}

std::vector<UnitProperty> resourceProperties(const ResourceConfig& rc) {
  std::vector<UnitProperty> props;
  if (rc.memoryMax) props.push_back({"MemoryMax", limitOrMax(*rc.memoryMax)});
  if (rc.cpuWeight) props.push_back({"CPUWeight", *rc.cpuWeight});
  if (rc.cpuPeriodUs) props.push_back({"CPUQuotaPeriodUSec", *rc.cpuPeriodUs});
  if (rc.cpuQuotaUs) {
    uint64_t perSec = kInfinity;
    if (*rc.cpuQuotaUs > 0) {
      uint64_t period = rc.cpuPeriodUs.value_or(kDefaultCpuPeriodUs);
      if (period == 0) period = kDefaultCpuPeriodUs;
      perSec = static_cast<uint64_t>(*rc.cpuQuotaUs) * 1000000 / period;
      // systemd stores CPUQuota as whole percents: round up so that a child's
      // cpu.max is never above its parent's.
      if (perSec % 10000 != 0) perSec = (perSec / 10000 + 1) * 10000;
    }
    props.push_back({"CPUQuotaPerSecUSec", perSec});
  }
  if (rc.pidsMax) props.push_back({"TasksMax", limitOrMax(*rc.pidsMax)});
  // The kubelet's memory QoS goes through runc's Unified map (memory.min/high).
  if (rc.memoryMin) props.push_back({"MemoryMin", limitOrMax(*rc.memoryMin)});
  if (rc.memoryHigh) props.push_back({"MemoryHigh", limitOrMax(*rc.memoryHigh)});
  return props;
}

// One call in flight, from the method call to its job's end.
struct SystemdCgroupManager::Op {
  SystemdCgroupManager* mgr = nullptr;
  uint64_t id = 0;
  std::string method;
  std::string unit;
  Done done;
  std::vector<UnitProperty> existingProps;  // what create sets if the unit exists
  sd_bus_slot* slot = nullptr;
  std::string job;
  core::TimerPtr deadline;
  ~Op() { sd_bus_slot_unref(slot); }
};

SystemdCgroupManager::SystemdCgroupManager(core::EventLoop& loop, sd_bus* bus,
                                           std::string cgroupRoot, core::Duration jobTimeout)
    : loop_(loop), bus_(sd_bus_ref(bus)), root_(std::move(cgroupRoot)), jobTimeout_(jobTimeout) {
  // The match is installed (AddMatch) before any of our calls reach systemd, as
  // the bus keeps the order of what we send.
  int r =
      sd_bus_match_signal_async(bus_, &jobRemovedSlot_, kDestination, kPath, kManager, "JobRemoved",
                                &SystemdCgroupManager::onJobRemoved, nullptr, this);
  if (r < 0) LOG_ERROR << core::errnoStatus(-r, "systemd: match JobRemoved").message();
  // systemd sends JobRemoved to the client that queued the job anyway; subscribing
  // also covers jobs merged with someone else's.
  r = sd_bus_call_method_async(
      bus_, &subscribeSlot_, kDestination, kPath, kManager, "Subscribe",
      [](sd_bus_message* m, void*, sd_bus_error*) {
        if (sd_bus_message_is_method_error(m, nullptr)) {
          const sd_bus_error* e = sd_bus_message_get_error(m);
          LOG_WARNING << "systemd: Subscribe: " << e->name << ": "
                      << (e->message ? e->message : "");
        }
        return 0;
      },
      nullptr, "");
  if (r < 0) LOG_ERROR << core::errnoStatus(-r, "systemd: Subscribe").message();
}

SystemdCgroupManager::~SystemdCgroupManager() {
  ops_.clear();
  sd_bus_slot_unref(jobRemovedSlot_);
  sd_bus_slot_unref(subscribeSlot_);
  sd_bus_unref(bus_);
}

std::string SystemdCgroupManager::path(const CgroupName& name) const {
  std::string rel = toSystemd(name);
  return rel == "/" ? root_ : root_ + rel;
}

bool SystemdCgroupManager::exists(const CgroupName& name) const {
  struct stat st;
  return ::stat(path(name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

SystemdCgroupManager::Op& SystemdCgroupManager::newOp(std::string method, std::string unit,
                                                      Done done) {
  auto op = std::make_unique<Op>();
  op->mgr = this;
  op->id = nextOpId_++;
  op->method = std::move(method);
  op->unit = std::move(unit);
  op->done = std::move(done);
  Op* raw = op.get();
  // One deadline for the whole operation: the call, a fallback, the job.
  op->deadline = loop_.createTimer([this, raw] {
    std::string what =
        absl::StrCat("timed out after ", jobTimeout_.count(), " ms waiting for systemd ",
                     verb(raw->method), " unit ", raw->unit);
    if (!raw->job.empty()) absl::StrAppend(&what, " (job ", raw->job, ")");
    resetFailed(raw->unit);
    finish(*raw, absl::DeadlineExceededError(what));
  });
  op->deadline->enableTimer(jobTimeout_);
  ops_[op->id] = std::move(op);
  return *raw;
}

void SystemdCgroupManager::send(Op& op, sd_bus_message* m) {
  uint64_t timeoutUs = static_cast<uint64_t>(jobTimeout_.count()) * 1000;
  sd_bus_slot_unref(op.slot);
  op.slot = nullptr;
  int r = sd_bus_call_async(bus_, &op.slot, m, &SystemdCgroupManager::onReply, &op, timeoutUs);
  sd_bus_message_unref(m);
  if (r < 0)
    finishLater(op, core::errnoStatus(-r, absl::StrCat("systemd ", op.method, " ", op.unit)));
}

void SystemdCgroupManager::finishLater(Op& op, absl::Status status) {
  // Reported on the loop after the call returns, like every other outcome.
  loop_.post([this, id = op.id, status = std::move(status)] {
    auto it = ops_.find(id);
    if (it != ops_.end()) finish(*it->second, status);
  });
}

void SystemdCgroupManager::create(const CgroupName& name, const ResourceConfig& rc, Done done) {
  std::string unit = systemdSliceName(name);
  Op& op = newOp("StartTransientUnit", unit, std::move(done));
  op.existingProps = resourceProperties(rc);
  if (toSystemd(name) == "/") {
    // The root slice (-.slice) is systemd's own: it always exists.
    finishLater(op, absl::OkStatus());
    return;
  }
  std::vector<UnitProperty> props = sliceProperties(name);
  props.insert(props.end(), op.existingProps.begin(), op.existingProps.end());
  sd_bus_message* m = nullptr;
  int r =
      sd_bus_message_new_method_call(bus_, &m, kDestination, kPath, kManager, "StartTransientUnit");
  if (r >= 0) r = sd_bus_message_append(m, "ss", unit.c_str(), "replace");
  if (r >= 0) r = appendProperties(m, props);
  if (r >= 0) r = sd_bus_message_append(m, "a(sa(sv))", 0);
  if (r < 0) {
    sd_bus_message_unref(m);
    finishLater(op, core::errnoStatus(-r, "systemd StartTransientUnit " + unit));
    return;
  }
  send(op, m);
}

void SystemdCgroupManager::update(const CgroupName& name, const ResourceConfig& rc, Done done) {
  Op& op = newOp("SetUnitProperties", systemdSliceName(name), std::move(done));
  setProperties(op, toSystemd(name) == "/" ? std::vector<UnitProperty>{} : resourceProperties(rc));
}

void SystemdCgroupManager::setProperties(Op& op, const std::vector<UnitProperty>& props) {
  op.method = "SetUnitProperties";
  if (props.empty()) {
    finishLater(op, absl::OkStatus());
    return;
  }
  sd_bus_message* m = nullptr;
  int r =
      sd_bus_message_new_method_call(bus_, &m, kDestination, kPath, kManager, "SetUnitProperties");
  if (r >= 0) r = sd_bus_message_append(m, "sb", op.unit.c_str(), 1);
  if (r >= 0) r = appendProperties(m, props);
  if (r < 0) {
    sd_bus_message_unref(m);
    finishLater(op, core::errnoStatus(-r, "systemd SetUnitProperties " + op.unit));
    return;
  }
  send(op, m);
}

void SystemdCgroupManager::destroy(const CgroupName& name, Done done) {
  Op& op = newOp("StopUnit", systemdSliceName(name), std::move(done));
  if (toSystemd(name) == "/") {
    finishLater(op, absl::OkStatus());
    return;
  }
  sd_bus_message* m = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &m, kDestination, kPath, kManager, "StopUnit");
  if (r >= 0) r = sd_bus_message_append(m, "ss", op.unit.c_str(), "replace");
  if (r < 0) {
    sd_bus_message_unref(m);
    finishLater(op, core::errnoStatus(-r, "systemd StopUnit " + op.unit));
    return;
  }
  send(op, m);
}

int SystemdCgroupManager::onReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
  Op* op = static_cast<Op*>(userdata);
  op->mgr->handleReply(*op, m);
  return 0;
}

void SystemdCgroupManager::handleReply(Op& op, sd_bus_message* m) {
  // sd-bus holds its own reference while this runs.
  op.slot = sd_bus_slot_unref(op.slot);
  if (sd_bus_message_is_method_error(m, nullptr)) {
    const sd_bus_error* e = sd_bus_message_get_error(m);
    std::string errName = e->name ? e->name : "";
    if (op.method == "StartTransientUnit" && errName == kUnitExists) {
      // The kubelet's "make sure the slice exists" (runc's ignoreExist): then Set.
      VLOG(2) << "systemd: unit " << op.unit << " exists; setting its properties";
      setProperties(op, op.existingProps);
      return;
    }
    if (op.method == "StopUnit" && errName == kNoSuchUnit) {
      finish(op, absl::OkStatus());
      return;
    }
    std::string what = absl::StrCat("systemd ", op.method, " ", op.unit, ": ", errName, ": ",
                                    e->message ? e->message : "");
    absl::StatusCode code = absl::StatusCode::kUnknown;
    if (errName == kNoSuchUnit) code = absl::StatusCode::kNotFound;
    if (errName == "org.freedesktop.DBus.Error.Timeout" ||
        errName == "org.freedesktop.DBus.Error.NoReply") {
      code = absl::StatusCode::kDeadlineExceeded;
    } else if (errName == "org.freedesktop.DBus.Error.ServiceUnknown" ||
               errName == "org.freedesktop.DBus.Error.NameHasNoOwner") {
      code = absl::StatusCode::kUnavailable;
    }
    finish(op, absl::Status(code, what));
    return;
  }
  if (op.method == "SetUnitProperties") {
    finish(op, absl::OkStatus());
    return;
  }
  const char* job = nullptr;
  int r = sd_bus_message_read(m, "o", &job);
  if (r < 0) {
    finish(op, core::errnoStatus(-r, absl::StrCat("systemd ", op.method, " ", op.unit,
                                                  ": read job path from reply")));
    return;
  }
  waitForJob(op, job);
}

void SystemdCgroupManager::waitForJob(Op& op, std::string job) {
  op.job = std::move(job);
  for (auto it = earlyResults_.begin(); it != earlyResults_.end(); ++it) {
    if (it->first == op.job) {
      std::string result = it->second;
      earlyResults_.erase(it);
      jobFinished(op, result);
      return;
    }
  }
  jobs_[op.job] = &op;
}

int SystemdCgroupManager::onJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<SystemdCgroupManager*>(userdata);
  uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  int r = sd_bus_message_read(m, "uoss", &id, &job, &unit, &result);
  if (r < 0) {
    LOG_WARNING << core::errnoStatus(-r, "systemd: read JobRemoved").message();
    return 0;
  }
  auto it = self->jobs_.find(job);
  if (it == self->jobs_.end()) {
    // Someone else's job, or ours before its reply was handled.
    self->earlyResults_.emplace_back(job, result);
    if (self->earlyResults_.size() > kMaxEarlyResults) self->earlyResults_.pop_front();
    return 0;
  }
  self->jobFinished(*it->second, result);
  return 0;
}

void SystemdCgroupManager::jobFinished(Op& op, const std::string& result) {
  VLOG(3) << "systemd: job " << op.job << " for " << op.unit << ": " << result;
  if (result == "done") {
    finish(op, absl::OkStatus());
    return;
  }
  // A failed unit stays loaded until reset, and would make the next start fail too.
  resetFailed(op.unit);
  if (op.method == "StopUnit") {
    // As runc's stopUnit: a stop that ends otherwise is logged, not fatal.
    LOG_WARNING << "systemd: removing unit " << op.unit << ": job " << op.job << " got \"" << result
                << "\"; continuing";
    finish(op, absl::OkStatus());
    return;
  }
  finish(op, absl::InternalError(absl::StrCat("error ", verb(op.method), " systemd unit ", op.unit,
                                              ": job ", op.job, " got \"", result, "\"")));
}

void SystemdCgroupManager::resetFailed(const std::string& unit) {
  // Fire and forget: a floating slot, a reply nobody waits for.
  int r = sd_bus_call_method_async(bus_, nullptr, kDestination, kPath, kManager, "ResetFailedUnit",
                                   nullptr, nullptr, "s", unit.c_str());
  if (r < 0) LOG_WARNING << core::errnoStatus(-r, "systemd ResetFailedUnit " + unit).message();
}

void SystemdCgroupManager::finish(Op& op, absl::Status status) {
  Done done = std::move(op.done);
  if (!op.job.empty()) jobs_.erase(op.job);
  ops_.erase(op.id);  // cancels the deadline and any call still in flight
  if (done) done(std::move(status));
}

}  // namespace cgroups

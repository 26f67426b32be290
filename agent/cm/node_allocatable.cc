#include "agent/cm/node_allocatable.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "core/atomic_file.h"

namespace agent::cm {
namespace {

std::optional<int64_t> readNumber(const std::string& path) {
  auto text = core::readFile(path);
  if (!text.ok()) return std::nullopt;
  int64_t v = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v)) return std::nullopt;
  return v;
}

absl::Status subtract(ResourceAmounts& amounts, const std::map<std::string, std::string>& reserved,
                      const char* what) {
  for (const auto& [name, text] : reserved) {
    auto it = amounts.find(name);
    if (it == amounts.end()) continue;  // not a resource the node has
    auto q = api::Quantity::parse(text);
    if (!q.ok()) {
      return absl::InvalidArgumentError(std::string(what) + " " + name + ": " +
                                        std::string(q.status().message()));
    }
    it->second -= name == "cpu" ? q->milliValue() : q->value();
  }
  return absl::OkStatus();
}

}  // namespace

ResourceAmounts nodeCapacity(const node::MachineInfo& machine, std::optional<int64_t> pids) {
  ResourceAmounts c;
  c["cpu"] = int64_t(machine.numCores) * 1000;
  c["memory"] = machine.memoryCapacityBytes;
  if (pids) c[kPidResource] = *pids;
  return c;
}

std::optional<int64_t> readPidCapacity(const std::string& root) {
  std::string base = root == "/" ? "" : root;
  auto pidMax = readNumber(base + "/proc/sys/kernel/pid_max");
  auto threadsMax = readNumber(base + "/proc/sys/kernel/threads-max");
  if (pidMax && threadsMax) return std::min(*pidMax, *threadsMax);
  return pidMax ? pidMax : threadsMax;
}

absl::StatusOr<ResourceAmounts> nodeAllocatable(const ResourceAmounts& capacity,
                                                const NodeAllocatableConfig& cfg) {
  ResourceAmounts a = capacity;
  if (absl::Status s = subtract(a, cfg.systemReserved, "systemReserved"); !s.ok()) return s;
  if (absl::Status s = subtract(a, cfg.kubeReserved, "kubeReserved"); !s.ok()) return s;
  for (auto& [name, v] : a) v = std::max<int64_t>(v, 0);
  return a;
}

absl::StatusOr<cgroups::ResourceConfig> kubepodsResourceConfig(const ResourceAmounts& capacity,
                                                               const NodeAllocatableConfig& cfg) {
  ResourceAmounts amounts = capacity;
  bool enforcePods = std::find(cfg.enforceNodeAllocatable.begin(), cfg.enforceNodeAllocatable.end(),
                               "pods") != cfg.enforceNodeAllocatable.end();
  if (cfg.cgroupsPerQOS && enforcePods) {
    auto a = nodeAllocatable(capacity, cfg);
    if (!a.ok()) return a.status();
    amounts = std::move(*a);
  }
  cgroups::ResourceConfig rc;
  if (auto it = amounts.find("memory"); it != amounts.end()) rc.memoryMax = it->second;
  if (auto it = amounts.find(kPidResource); it != amounts.end()) rc.pidsMax = it->second;
  if (auto it = amounts.find("cpu"); it != amounts.end()) {
    rc.cpuWeight =
        cgroups::cpuSharesToWeight(static_cast<uint64_t>(cgroups::milliCpuToShares(it->second)));
  }
  return rc;
}

}  // namespace agent::cm

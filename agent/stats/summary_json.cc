#include "agent/stats/summary_json.h"

#include <ctime>

namespace agent::stats {
namespace {

using Json = nlohmann::ordered_json;

// metav1.Time: RFC 3339 at second precision in UTC; Go's zero time marshals as null.
Json timeJson(core::WallTime t) {
  if (t == core::WallTime{}) return nullptr;
  std::time_t secs =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf);
}

template <typename T>
void putIf(Json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

Json cpuJson(const CpuStats& c) {
  Json j = Json::object();
  j["time"] = timeJson(c.time);
  putIf(j, "usageNanoCores", c.usageNanoCores);
  putIf(j, "usageCoreNanoSeconds", c.usageCoreNanoSeconds);
  return j;
}

Json memoryJson(const MemoryStats& m) {
  Json j = Json::object();
  j["time"] = timeJson(m.time);
  putIf(j, "availableBytes", m.availableBytes);
  putIf(j, "usageBytes", m.usageBytes);
  putIf(j, "workingSetBytes", m.workingSetBytes);
  putIf(j, "rssBytes", m.rssBytes);
  putIf(j, "pageFaults", m.pageFaults);
  putIf(j, "majorPageFaults", m.majorPageFaults);
  return j;
}

void putFsFields(Json& j, const FsStats& f) {
  j["time"] = timeJson(f.time);
  putIf(j, "availableBytes", f.availableBytes);
  putIf(j, "capacityBytes", f.capacityBytes);
  putIf(j, "usedBytes", f.usedBytes);
  putIf(j, "inodesFree", f.inodesFree);
  putIf(j, "inodes", f.inodes);
  putIf(j, "inodesUsed", f.inodesUsed);
}

Json volumeJson(const VolumeStats& v) {
  Json j = Json::object();
  putFsFields(j, v.fs);  // FsStats is inlined
  if (!v.name.empty()) j["name"] = v.name;
  if (v.pvcRef) j["pvcRef"] = Json{{"name", v.pvcRef->name}, {"namespace", v.pvcRef->namespace_}};
  return j;
}

}  // namespace

Json toJson(const FsStats& f) {
  Json j = Json::object();
  putFsFields(j, f);
  return j;
}

Json toJson(const ContainerStats& c) {
  Json j = Json::object();
  j["name"] = c.name;
  j["startTime"] = timeJson(c.startTime);
  if (c.cpu) j["cpu"] = cpuJson(*c.cpu);
  if (c.memory) j["memory"] = memoryJson(*c.memory);
  if (c.rootfs) j["rootfs"] = toJson(*c.rootfs);
  if (c.logs) j["logs"] = toJson(*c.logs);
  return j;
}

Json toJson(const NodeStats& n) {
  Json j = Json::object();
  j["nodeName"] = n.nodeName;
  if (!n.systemContainers.empty()) {
    Json sc = Json::array();
    for (const ContainerStats& c : n.systemContainers) sc.push_back(toJson(c));
    j["systemContainers"] = std::move(sc);
  }
  j["startTime"] = timeJson(n.startTime);
  if (n.cpu) j["cpu"] = cpuJson(*n.cpu);
  if (n.memory) j["memory"] = memoryJson(*n.memory);
  if (n.fs) j["fs"] = toJson(*n.fs);
  if (n.runtime) {
    Json r = Json::object();
    if (n.runtime->imageFs) r["imageFs"] = toJson(*n.runtime->imageFs);
    j["runtime"] = std::move(r);
  }
  if (n.rlimit) {
    Json r = Json::object();
    r["time"] = timeJson(n.rlimit->time);
    putIf(r, "maxpid", n.rlimit->maxPid);
    putIf(r, "curproc", n.rlimit->numOfRunningProcesses);
    j["rlimit"] = std::move(r);
  }
  return j;
}

Json toJson(const PodStats& p) {
  Json j = Json::object();
  j["podRef"] =
      Json{{"name", p.podRef.name}, {"namespace", p.podRef.namespace_}, {"uid", p.podRef.uid}};
  j["startTime"] = timeJson(p.startTime);
  Json containers = Json::array();  // not omitempty upstream
  for (const ContainerStats& c : p.containers) containers.push_back(toJson(c));
  j["containers"] = std::move(containers);
  if (p.cpu) j["cpu"] = cpuJson(*p.cpu);
  if (p.memory) j["memory"] = memoryJson(*p.memory);
  if (!p.volume.empty()) {
    Json v = Json::array();
    for (const VolumeStats& vs : p.volume) v.push_back(volumeJson(vs));
    j["volume"] = std::move(v);
  }
  if (p.ephemeralStorage) j["ephemeral-storage"] = toJson(*p.ephemeralStorage);
  if (p.processStats) {
    Json ps = Json::object();
    putIf(ps, "process_count", p.processStats->processCount);
    j["process_stats"] = std::move(ps);
  }
  return j;
}

Json toJson(const Summary& s) {
  Json j = Json::object();
  j["node"] = toJson(s.node);
  Json pods = Json::array();
  for (const PodStats& p : s.pods) pods.push_back(toJson(p));
  j["pods"] = std::move(pods);
  return j;
}

std::string summaryJson(const Summary& s) { return toJson(s).dump(); }

}  // namespace agent::stats

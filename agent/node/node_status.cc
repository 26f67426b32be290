#include "agent/node/node_status.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/api/quantity.h"
#include "core/log.h"

namespace agent::node {
namespace {

using nlohmann::json;

constexpr char kTrue[] = "True";
constexpr char kFalse[] = "False";
constexpr char kUnknown[] = "Unknown";

// resource.Quantity's canonical integer form: the largest suffix that divides exactly.
std::string formatInteger(int64_t v, bool binary) {
  if (v == 0) return "0";
  if (binary && (v >= 1024 || v <= -1024)) {
    static constexpr const char* kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int e = 0;
    while (e < 6 && v % 1024 == 0) {
      v /= 1024;
      ++e;
    }
    return absl::StrCat(v, kSuffixes[e]);
  }
  // DecimalSI (also BinarySI values below 1024, which apimachinery prints decimal).
  static constexpr const char* kSuffixes[] = {"", "k", "M", "G", "T", "P", "E"};
  int e = 0;
  while (e < 6 && v % 1000 == 0) {
    v /= 1000;
    ++e;
  }
  return absl::StrCat(v, kSuffixes[e]);
}

ResourceAmount bytes(int64_t v) { return {v, false, true}; }

// How much `value` ("100Mi" or "10%") of `capacity` reserves, as GetThresholdQuantity:
// a percentage is parsed as a float32 fraction and applied in float64, truncated.
std::optional<int64_t> thresholdBytes(const std::string& key, const std::string& value,
                                      int64_t capacity) {
  if (!value.empty() && value.back() == '%') {
    double pct = 0;
    if (!absl::SimpleAtod(value.substr(0, value.size() - 1), &pct)) {
      LOG_WARNING << "evictionHard " << key << ": bad percentage \"" << value << "\"; ignored";
      return std::nullopt;
    }
    float fraction = static_cast<float>(pct) / 100.0f;
    return static_cast<int64_t>(static_cast<double>(capacity) * static_cast<double>(fraction));
  }
  auto q = api::Quantity::parse(value);
  if (!q.ok()) {
    LOG_WARNING << "evictionHard " << key << ": " << q.status().message() << "; ignored";
    return std::nullopt;
  }
  return q->value();
}

void addReserved(ResourceList& out, const ResourceList& capacity,
                 const std::map<std::string, std::string>& reserved, const char* what) {
  for (const auto& [name, text] : reserved) {
    auto cap = capacity.find(name);
    if (cap == capacity.end()) continue;
    auto q = api::Quantity::parse(text);
    if (!q.ok()) {
      LOG_WARNING << what << " " << name << ": " << q.status().message() << "; ignored";
      continue;
    }
    out[name].milli = cap->second.milli;
    out[name].value += cap->second.milli ? q->milliValue() : q->value();
  }
}

std::string conditionString(const RuntimeCondition& c) {
  // kubecontainer.RuntimeCondition.String().
  return absl::StrCat(c.type, "=", c.status ? "true" : "false", " reason:", c.reason,
                      " message:", c.message);
}

const RuntimeCondition* findCondition(const RuntimeFacts& f, const std::string& type) {
  for (const auto& c : f.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

// utilerrors.NewAggregate(errs).Error(): one message as it is, several de-duplicated
// and joined as "[a, b]".
std::string aggregate(const std::vector<std::string>& errs) {
  std::vector<std::string> uniq;
  for (const auto& e : errs) {
    if (std::find(uniq.begin(), uniq.end(), e) == uniq.end()) uniq.push_back(e);
  }
  if (uniq.size() == 1) return uniq[0];
  return absl::StrCat("[", absl::StrJoin(uniq, ", "), "]");
}

const NodeCondition* findNodeCondition(const NodeStatus* s, const std::string& type) {
  return s ? s->condition(type) : nullptr;
}

// MemoryPressureCondition / DiskPressureCondition / PIDPressureCondition: reason and
// message change (and the transition time moves) only when the status flips.
NodeCondition pressureCondition(const NodeStatus* prev, const std::string& type, bool pressure,
                                core::WallTime now, const char* trueReason, const char* trueMessage,
                                const char* falseReason, const char* falseMessage) {
  NodeCondition c;
  if (const NodeCondition* p = findNodeCondition(prev, type)) {
    c = *p;
  } else {
    c.type = type;
    c.status = kUnknown;
  }
  c.lastHeartbeatTime = now;
  const char* want = pressure ? kTrue : kFalse;
  if (c.status != want) {
    c.status = want;
    c.reason = pressure ? trueReason : falseReason;
    c.message = pressure ? trueMessage : falseMessage;
    c.lastTransitionTime = now;
  }
  return c;
}

NodeCondition readyCondition(const NodeStatusInput& in, const ResourceList& capacity) {
  std::vector<std::string> errs = runtimeErrors(in.health, in.now);
  errs.insert(errs.end(), in.otherErrors.begin(), in.otherErrors.end());
  std::vector<std::string> missing;
  for (const char* r : {"cpu", "memory", "pods", "ephemeral-storage"}) {
    if (!capacity.count(r)) missing.push_back(r);
  }
  if (!missing.empty()) {
    errs.push_back("missing node capacity for resources: " + absl::StrJoin(missing, ", "));
  }
  NodeCondition c;
  c.type = "Ready";
  c.lastHeartbeatTime = in.now;
  if (errs.empty()) {
    c.status = kTrue;
    c.reason = "KubeletReady";
    c.message = "kubelet is posting ready status";
  } else {
    c.status = kFalse;
    c.reason = "KubeletNotReady";
    c.message = aggregate(errs);
  }
  const NodeCondition* p = findNodeCondition(in.previous, "Ready");
  c.lastTransitionTime = p && p->status == c.status ? p->lastTransitionTime : in.now;
  return c;
}

std::vector<ContainerImage> images(const NodeConfigFacts& cfg, const RuntimeFacts* rt) {
  std::vector<ContainerImage> out;
  if (!rt || !rt->images) return out;
  std::vector<const RuntimeImage*> sorted;
  for (const auto& i : *rt->images) sorted.push_back(&i);
  std::stable_sort(sorted.begin(), sorted.end(), [](const RuntimeImage* a, const RuntimeImage* b) {
    return a->sizeBytes > b->sizeBytes;
  });
  if (cfg.nodeStatusMaxImages > -1 && sorted.size() > size_t(cfg.nodeStatusMaxImages)) {
    sorted.resize(size_t(cfg.nodeStatusMaxImages));
  }
  for (const RuntimeImage* i : sorted) {
    ContainerImage img;
    img.names = i->repoDigests;
    img.names.insert(img.names.end(), i->repoTags.begin(), i->repoTags.end());
    if (img.names.size() > kMaxNamesPerImage) img.names.resize(kMaxNamesPerImage);
    img.sizeBytes = i->sizeBytes;
    out.push_back(std::move(img));
  }
  return out;
}

json resourcesJson(const ResourceList& l) {
  json j = json::object();
  for (const auto& [k, v] : l) j[k] = v.str();
  return j;
}

}  // namespace

// --- Facts ---

NodeConfigFacts nodeConfigFacts(const config::AgentConfig& cfg, const std::string& detectedIP,
                                const std::string& kubeletVersion) {
  NodeConfigFacts f;
  f.nodeName = cfg.nodeName;
  f.hostname = cfg.nodeName;
  for (absl::string_view ip : absl::StrSplit(cfg.nodeIP, ',', absl::SkipWhitespace())) {
    f.nodeIPs.emplace_back(absl::StripAsciiWhitespace(ip));
  }
  if (f.nodeIPs.empty() && !detectedIP.empty()) f.nodeIPs.push_back(detectedIP);
  f.nodeLabels = cfg.nodeLabels;
  f.registerWithTaints = cfg.registerWithTaints;
  f.providerID = cfg.providerID;
  f.maxPods = cfg.maxPods;
  f.port = cfg.port;
  f.kubeReserved = cfg.kubeReserved;
  f.systemReserved = cfg.systemReserved;
  f.evictionHard = cfg.evictionHard;
  f.kubeletVersion = kubeletVersion;
  return f;
}

void observeRuntime(RuntimeHealth& health, const RuntimeFacts& facts, core::WallTime now) {
  // updateRuntimeUp: a failed Status call changes nothing (the sync time ages).
  if (!facts.statusOk) return;
  const RuntimeCondition* network = findCondition(facts, "NetworkReady");
  if (!network || !network->status) {
    health.networkError = absl::StrCat("container runtime network not ready: ",
                                       network ? conditionString(*network) : "<nil>");
  } else {
    health.networkError.clear();
  }
  const RuntimeCondition* runtime = findCondition(facts, "RuntimeReady");
  if (!runtime || !runtime->status) {
    health.runtimeError = absl::StrCat("container runtime not ready: ",
                                       runtime ? conditionString(*runtime) : "<nil>");
    return;
  }
  health.runtimeError.clear();
  health.lastRuntimeSync = now;
}

std::vector<std::string> runtimeErrors(const RuntimeHealth& health, core::WallTime now) {
  std::vector<std::string> errs;
  if (!health.lastRuntimeSync) {
    errs.push_back("container runtime status check may not have completed yet");
  } else if (*health.lastRuntimeSync + kMaxWaitForContainerRuntime <= now) {
    errs.push_back("container runtime is down");
  }
  if (!health.runtimeError.empty()) errs.push_back(health.runtimeError);
  if (!health.networkError.empty()) errs.push_back(health.networkError);
  return errs;
}

// --- NodeStatus ---

std::string ResourceAmount::str() const {
  if (!milli) return formatInteger(value, binary);
  if (value % 1000 == 0) return formatInteger(value / 1000, binary);
  return absl::StrCat(value, "m");
}

const NodeCondition* NodeStatus::condition(const std::string& type) const {
  for (const auto& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

std::string formatTime(core::WallTime t) {
  std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json NodeStatus::toJson() const {
  json j = json::object();
  j["capacity"] = resourcesJson(capacity);
  j["allocatable"] = resourcesJson(allocatable);
  json conds = json::array();
  for (const auto& c : conditions) {
    conds.push_back({{"type", c.type},
                     {"status", c.status},
                     {"lastHeartbeatTime", formatTime(c.lastHeartbeatTime)},
                     {"lastTransitionTime", formatTime(c.lastTransitionTime)},
                     {"reason", c.reason},
                     {"message", c.message}});
  }
  j["conditions"] = std::move(conds);
  json addrs = json::array();
  for (const auto& a : addresses) addrs.push_back({{"type", a.type}, {"address", a.address}});
  j["addresses"] = std::move(addrs);
  j["daemonEndpoints"] = {{"kubeletEndpoint", {{"Port", kubeletPort}}}};
  j["nodeInfo"] = {{"machineID", nodeInfo.machineID},
                   {"systemUUID", nodeInfo.systemUUID},
                   {"bootID", nodeInfo.bootID},
                   {"kernelVersion", nodeInfo.kernelVersion},
                   {"osImage", nodeInfo.osImage},
                   {"containerRuntimeVersion", nodeInfo.containerRuntimeVersion},
                   {"kubeletVersion", nodeInfo.kubeletVersion},
                   {"kubeProxyVersion", nodeInfo.kubeProxyVersion},
                   {"operatingSystem", nodeInfo.operatingSystem},
                   {"architecture", nodeInfo.architecture}};
  json imgs = json::array();
  for (const auto& i : images) imgs.push_back({{"names", i.names}, {"sizeBytes", i.sizeBytes}});
  j["images"] = std::move(imgs);
  return j;
}

bool statusChanged(const NodeStatus& a, const NodeStatus& b) {
  if (a.conditions.size() != b.conditions.size()) return true;
  for (const auto& ca : a.conditions) {
    const NodeCondition* cb = b.condition(ca.type);
    if (!cb) return true;
    NodeCondition x = ca;
    x.lastHeartbeatTime = cb->lastHeartbeatTime;
    if (!(x == *cb)) return true;
  }
  return a.capacity != b.capacity || a.allocatable != b.allocatable || a.addresses != b.addresses ||
         a.kubeletPort != b.kubeletPort || !(a.nodeInfo == b.nodeInfo) || a.images != b.images;
}

ResourceList allocatableReservation(const NodeConfigFacts& cfg, const ResourceList& capacity) {
  ResourceList r;
  addReserved(r, capacity, cfg.systemReserved, "systemReserved");
  addReserved(r, capacity, cfg.kubeReserved, "kubeReserved");
  // hardEvictionReservation: only the two signals that map onto a capacity.
  static const std::pair<const char*, const char*> kSignals[] = {
      {"memory.available", "memory"}, {"nodefs.available", "ephemeral-storage"}};
  for (const auto& [signal, resource] : kSignals) {
    auto th = cfg.evictionHard.find(signal);
    auto cap = capacity.find(resource);
    if (th == cfg.evictionHard.end() || cap == capacity.end()) continue;
    if (auto v = thresholdBytes(signal, th->second, cap->second.value)) r[resource].value += *v;
  }
  for (auto it = r.begin(); it != r.end();) it = it->second.value == 0 ? r.erase(it) : ++it;
  return r;
}

NodeStatus computeNodeStatus(const NodeStatusInput& in) {
  const NodeConfigFacts& cfg = *in.config;
  const MachineInfo& m = *in.machine;
  NodeStatus s;

  // NodeAddress: every node IP as InternalIP, then the hostname.
  for (const auto& ip : cfg.nodeIPs) s.addresses.push_back({"InternalIP", ip});
  s.addresses.push_back({"Hostname", cfg.hostname});

  // MachineInfo: capacity from the machine, allocatable = capacity - reservation,
  // never negative, and huge pages taken out of allocatable memory.
  s.capacity["cpu"] = ResourceAmount{int64_t(m.numCores) * 1000, true, false};
  s.capacity["memory"] = bytes(m.memoryCapacityBytes);
  s.capacity["pods"] = ResourceAmount{cfg.maxPods, false, false};
  if (m.ephemeralStorageBytes) s.capacity["ephemeral-storage"] = bytes(*m.ephemeralStorageBytes);
  for (const auto& hp : m.hugePages) {
    s.capacity["hugepages-" + formatInteger(hp.pageSizeBytes, true)] =
        bytes(hp.pageSizeBytes * hp.numPages);
  }
  ResourceList reservation = allocatableReservation(cfg, s.capacity);
  for (const auto& [name, cap] : s.capacity) {
    ResourceAmount a = cap;
    if (auto r = reservation.find(name); r != reservation.end()) a.value -= r->second.value;
    if (a.value < 0) a.value = 0;
    s.allocatable[name] = a;
  }
  for (const auto& [name, cap] : s.capacity) {
    if (name.rfind("hugepages-", 0) != 0) continue;
    ResourceAmount& mem = s.allocatable["memory"];
    mem.value = std::max<int64_t>(0, mem.value - cap.value);
  }

  // VersionInfo.
  s.nodeInfo.machineID = m.machineID;
  s.nodeInfo.systemUUID = m.systemUUID;
  s.nodeInfo.bootID = m.bootID;
  s.nodeInfo.kernelVersion = m.kernelVersion;
  s.nodeInfo.osImage = m.osImage;
  std::string rtName =
      in.runtime && !in.runtime->runtimeName.empty() ? in.runtime->runtimeName : "containerd";
  std::string rtVersion =
      in.runtime && !in.runtime->runtimeVersion.empty() ? in.runtime->runtimeVersion : "Unknown";
  s.nodeInfo.containerRuntimeVersion = absl::StrCat(rtName, "://", rtVersion);
  s.nodeInfo.kubeletVersion = cfg.kubeletVersion;
  s.nodeInfo.kubeProxyVersion = cfg.kubeProxyVersion;
  s.nodeInfo.operatingSystem = "linux";
  s.nodeInfo.architecture = m.architecture;

  s.kubeletPort = cfg.port;
  s.images = images(cfg, in.runtime);

  // Conditions, in the kubelet's setter order for a new node; an existing order is kept.
  std::vector<NodeCondition> fresh = {
      pressureCondition(in.previous, "MemoryPressure", in.pressure.memory, in.now,
                        "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
                        "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      pressureCondition(in.previous, "DiskPressure", in.pressure.disk, in.now,
                        "KubeletHasDiskPressure", "kubelet has disk pressure",
                        "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      pressureCondition(in.previous, "PIDPressure", in.pressure.pid, in.now,
                        "KubeletHasInsufficientPID", "kubelet has insufficient PID available",
                        "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      readyCondition(in, s.capacity),
  };
  if (in.previous) {
    for (const auto& p : in.previous->conditions) {
      auto it = std::find_if(fresh.begin(), fresh.end(),
                             [&](const NodeCondition& c) { return c.type == p.type; });
      if (it != fresh.end()) {
        s.conditions.push_back(*it);
        fresh.erase(it);
      }
    }
  }
  s.conditions.insert(s.conditions.end(), fresh.begin(), fresh.end());
  return s;
}

}  // namespace agent::node

#include "agent/gc/container_gc.h"

#include <dirent.h>

#include <algorithm>
#include <memory>
#include <set>

#include "agent/runtime/labels.h"
#include "core/atomic_file.h"
#include "core/log.h"

namespace agent::gc {
namespace {

namespace v1 = ::runtime::v1;
using runtime::ContainerState;

std::string label(const google::protobuf::Map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

ContainerState fromCri(v1::ContainerState s) {
  switch (s) {
    case v1::CONTAINER_CREATED:
      return ContainerState::kCreated;
    case v1::CONTAINER_RUNNING:
      return ContainerState::kRunning;
    case v1::CONTAINER_EXITED:
      return ContainerState::kExited;
    default:
      return ContainerState::kUnknown;
  }
}

// Whether everything of the pod may go (containers, sandboxes), for the
// containers' and sandboxes' passes.
bool removeAllOf(const PodGcState& s, bool evictNonDeletedPods) {
  return shouldPodContentBeRemoved(s) || (evictNonDeletedPods && shouldPodRuntimeBeRemoved(s));
}

bool newerFirst(int64_t a, int64_t b) { return a > b; }

}  // namespace

bool shouldPodContentBeRemoved(const PodGcState& s) {
  return s.terminated && (s.evicted || s.deleted);
}

bool shouldPodRuntimeBeRemoved(const PodGcState& s) { return s.terminated; }

std::vector<GcContainer> containersToRemove(const std::vector<GcContainer>& containers,
                                            const PodGcStates& pods, bool evictNonDeletedPods) {
  // Evict units, as the kubelet's: (pod uid, container name) -> its non-running
  // instances.
  std::map<std::pair<std::string, std::string>, std::vector<const GcContainer*>> units;
  for (const auto& c : containers) {
    if (c.state == ContainerState::kRunning || c.podUid.empty()) continue;
    units[{c.podUid, c.name}].push_back(&c);
  }
  std::vector<GcContainer> out;
  for (auto& [key, unit] : units) {
    auto pod = pods.find(key.first);
    if (pod == pods.end()) continue;  // the pod workers' business
    std::sort(unit.begin(), unit.end(), [](const GcContainer* a, const GcContainer* b) {
      return newerFirst(a->createdAtNs, b->createdAtNs);
    });
    // A live pod's exited instances are pruned by its own syncs (the runtime
    // manager keeps the newest of each container for its lastState); a created or
    // unknown one may be a start in progress.
    if (!removeAllOf(pod->second, evictNonDeletedPods)) continue;
    for (auto it = unit.rbegin(); it != unit.rend(); ++it) out.push_back(**it);
  }
  return out;
}

std::vector<std::string> sandboxesToRemove(const std::vector<GcSandbox>& sandboxes,
                                           const std::vector<GcContainer>& containers,
                                           const PodGcStates& pods, bool evictNonDeletedPods) {
  std::set<std::string> holding;  // sandboxes that still hold a container
  for (const auto& c : containers) holding.insert(c.sandboxId);
  std::map<std::string, std::vector<const GcSandbox*>> byPod;
  for (const auto& s : sandboxes) {
    if (!s.podUid.empty()) byPod[s.podUid].push_back(&s);
  }
  std::vector<std::string> out;
  for (auto& [uid, list] : byPod) {
    auto pod = pods.find(uid);
    if (pod == pods.end()) continue;
    std::sort(list.begin(), list.end(), [](const GcSandbox* a, const GcSandbox* b) {
      return newerFirst(a->createdAtNs, b->createdAtNs);
    });
    // Only inactive sandboxes go; a live pod's newest stays whatever its state.
    size_t keep = removeAllOf(pod->second, evictNonDeletedPods) ? 0 : 1;
    for (size_t i = list.size(); i > keep; --i) {
      const GcSandbox* s = list[i - 1];
      if (!s->ready && !holding.count(s->id)) out.push_back(s->id);
    }
  }
  return out;
}

ContainerGc::ContainerGc(cri::RuntimeService& runtime, runtime::RuntimeManager& manager)
    : runtime_(runtime), manager_(manager) {}

absl::StatusOr<std::vector<GcContainer>> ContainerGc::listContainers() {
  auto list = runtime_.listContainers(v1::ContainerFilter());
  if (!list.ok()) return list.status();
  std::vector<GcContainer> out;
  out.reserve(list->size());
  for (const auto& c : *list) {
    GcContainer g;
    g.id = c.id();
    g.name = label(c.labels(), runtime::kContainerNameLabel);
    g.podUid = label(c.labels(), runtime::kPodUidLabel);
    g.podName = label(c.labels(), runtime::kPodNameLabel);
    g.podNamespace = label(c.labels(), runtime::kPodNamespaceLabel);
    g.sandboxId = c.pod_sandbox_id();
    g.state = fromCri(c.state());
    g.createdAtNs = c.created_at();
    out.push_back(std::move(g));
  }
  return out;
}

absl::StatusOr<ContainerGcResult> ContainerGc::garbageCollect(const PodGcStates& pods,
                                                              bool evictNonDeletedPods) {
  ContainerGcResult res;
  auto containers = listContainers();
  if (!containers.ok()) return containers.status();
  for (const GcContainer& c : containersToRemove(*containers, pods, evictNonDeletedPods)) {
    runtime::ContainerRuntimeStatus cs;
    cs.id = c.id;
    cs.name = c.name;
    runtime::PodRuntimeStatus pod;
    pod.uid = c.podUid;
    pod.name = c.podName;
    pod.namespace_ = c.podNamespace;
    VLOG(2) << "container GC: removing container " << c.id << " (" << c.name << ") of pod "
            << c.podNamespace << "/" << c.podName;
    manager_.removeContainerAndLogs(cs, pod);
    res.containers.push_back(c.id);
  }

  // The sandboxes after the containers, as the kubelet: a sandbox whose last
  // container just went is inactive now.
  auto sandboxes = runtime_.listPodSandbox(v1::PodSandboxFilter());
  if (!sandboxes.ok()) return sandboxes.status();
  auto remaining = listContainers();
  if (!remaining.ok()) return remaining.status();
  std::vector<GcSandbox> sbs;
  sbs.reserve(sandboxes->size());
  for (const auto& s : *sandboxes) {
    sbs.push_back(GcSandbox{s.id(), label(s.labels(), runtime::kPodUidLabel),
                            s.state() == v1::SANDBOX_READY, s.created_at()});
  }
  for (const std::string& id : sandboxesToRemove(sbs, *remaining, pods, evictNonDeletedPods)) {
    if (absl::Status st = runtime_.removePodSandbox(id); !st.ok() && !cri::isNotFound(st)) {
      LOG_WARNING << "container GC: remove sandbox " << id << ": " << st.message();
      continue;
    }
    VLOG(2) << "container GC: removed sandbox " << id;
    res.sandboxes.push_back(id);
  }
  removePodLogDirs(pods);
  return res;
}

void ContainerGc::removePodLogDirs(const PodGcStates& pods) {
  // <podLogsDir>/<namespace>_<name>_<uid>: the UID follows the last '_'.
  const std::string& root = manager_.options().podLogsDir;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(root.c_str()), ::closedir);
  if (!dir) return;
  std::vector<std::string> doomed;
  while (dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    auto sep = name.rfind('_');
    if (sep == std::string::npos) continue;
    auto pod = pods.find(name.substr(sep + 1));
    if (pod != pods.end() && shouldPodContentBeRemoved(pod->second)) doomed.push_back(name);
  }
  for (const auto& name : doomed) {
    if (absl::Status s = core::removeAll(root + "/" + name); !s.ok()) {
      LOG_WARNING << "container GC: " << s.message();
    } else {
      VLOG(2) << "container GC: removed pod log directory " << root << "/" << name;
    }
  }
}

}  // namespace agent::gc

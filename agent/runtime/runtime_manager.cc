#include "agent/runtime/runtime_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "agent/cm/pod_resources.h"
#include "agent/events/event_reasons.h"
#include "agent/runtime/container_config.h"
#include "agent/runtime/ephemeral_containers.h"
#include "agent/runtime/etc_hosts.h"
#include "agent/runtime/labels.h"
#include "agent/runtime/pull_secrets.h"
#include "agent/runtime/runtime_class.h"
#include "agent/runtime/sandbox_config.h"
#include "agent/runtime/sidecars.h"
#include "agent/runtime/termination_message.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "cri/image_ref.h"

namespace agent::runtime {
namespace {

namespace v1 = ::runtime::v1;

using StringMap = std::map<std::string, std::string>;

StringMap toMap(const google::protobuf::Map<std::string, std::string>& m) {
  return StringMap(m.begin(), m.end());
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

std::string randomHex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& ch : s) ch = kHex[rng() % 16];
  return s;
}

int32_t parseInt(const StringMap& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return 0;
  try {
    return std::stoi(it->second);
  } catch (...) {
    return 0;
  }
}

std::string value(const StringMap& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

}  // namespace

RuntimeManager::RuntimeManager(cri::RuntimeService& runtime, cri::ImageService& images,
                               RuntimeOptions opts)
    : runtime_(runtime),
      images_(images),
      opts_(std::move(opts)),
      actuated_(opts_.rootDir.empty() ? "" : opts_.rootDir + "/" + kActuatedResourcesCheckpoint) {
  if (absl::Status s = actuated_.load(); !s.ok()) {
    LOG_WARNING << "Starting with no record of the resources given to containers: " << s.message();
  }
}

void RuntimeManager::fillSandbox(const v1::PodSandbox& s, SandboxRuntimeStatus* out) {
  out->id = s.id();
  out->state = s.state() == v1::SANDBOX_READY ? SandboxState::kReady : SandboxState::kNotReady;
  out->attempt = s.metadata().attempt();
  out->createdAtNs = s.created_at();
  {
    std::lock_guard<std::mutex> lock(cacheMu_);
    auto it = sandboxFacts_.find(s.id());
    if (it != sandboxFacts_.end()) {
      out->ip = it->second.ip;
      out->extraIps = it->second.extraIps;
      out->hostNetwork = it->second.hostNetwork;
      return;
    }
  }
  auto st = runtime_.podSandboxStatus(s.id(), false);
  if (!st.ok()) {
    VLOG(2) << "PodSandboxStatus " << s.id() << ": " << st.status().message();
    return;
  }
  SandboxFacts f;
  f.ip = st->status().network().ip();
  for (const auto& extra : st->status().network().additional_ips())
    f.extraIps.push_back(extra.ip());
  f.hostNetwork = st->status().linux().namespaces().options().network() == v1::NamespaceMode::NODE;
  out->ip = f.ip;
  out->extraIps = f.extraIps;
  out->hostNetwork = f.hostNetwork;
  // A ready sandbox's network never changes; cache it (a not-ready one may lose its IP).
  if (out->state == SandboxState::kReady) {
    std::lock_guard<std::mutex> lock(cacheMu_);
    sandboxFacts_[s.id()] = std::move(f);
  }
}

void RuntimeManager::fillContainer(const v1::Container& c, ContainerRuntimeStatus* out) {
  StringMap labels = toMap(c.labels());
  StringMap ann = toMap(c.annotations());
  out->id = c.id();
  out->name = value(labels, kContainerNameLabel);
  out->state = fromCri(c.state());
  out->sandboxId = c.pod_sandbox_id();
  out->attempt = c.metadata().attempt();
  out->restartCount = parseInt(ann, kContainerRestartCountAnnotation);
  out->hash = value(ann, kContainerHashAnnotation);
  // The kubelet's setTerminationGracePeriod: a deletion's grace wins.
  if (ann.count(kPodDeletionGracePeriodAnnotation)) {
    out->gracePeriodSeconds = parseInt(ann, kPodDeletionGracePeriodAnnotation);
  } else if (ann.count(kPodTerminationGracePeriodAnnotation)) {
    out->gracePeriodSeconds = parseInt(ann, kPodTerminationGracePeriodAnnotation);
  }
  out->preStopHandlerJson = value(ann, kContainerPreStopHandlerAnnotation);
  out->portsJson = value(ann, kContainerPortsAnnotation);
  out->image = c.image().image();
  out->imageRef = c.image_ref();
  out->createdAtNs = c.created_at();
  out->actuated = actuated_.get(c.id());
  if (out->state == ContainerState::kExited) {
    std::lock_guard<std::mutex> lock(cacheMu_);
    auto it = exitedDetails_.find(c.id());
    if (it != exitedDetails_.end()) {
      *out = it->second;
      return;
    }
  }
  // Start/finish times and exit codes come only from ContainerStatus.
  auto st = runtime_.containerStatus(c.id(), false);
  if (!st.ok()) {
    VLOG(2) << "ContainerStatus " << c.id() << ": " << st.status().message();
    return;
  }
  const v1::ContainerStatus& s = st->status();
  out->state = fromCri(s.state());
  out->startedAtNs = s.started_at();
  out->finishedAtNs = s.finished_at();
  out->exitCode = s.exit_code();
  out->reason = s.reason();
  out->message = s.message();
  if (out->state == ContainerState::kExited) {
    out->message = terminatedContainerMessage(s, value(ann, kTerminationMessagePathAnnotation),
                                              value(ann, kTerminationMessagePolicyAnnotation));
  }
  if (!s.image().image().empty()) out->image = s.image().image();
  if (!s.image_ref().empty()) out->imageRef = s.image_ref();
  if (s.has_resources() && s.resources().has_linux()) {
    const v1::LinuxContainerResources& r = s.resources().linux();
    out->reported = ContainerRuntimeStatus::Reported{r.cpu_shares(), r.cpu_quota(), r.cpu_period(),
                                                     r.memory_limit_in_bytes()};
  }
  out->detailed = true;
  if (out->state == ContainerState::kExited) {
    std::lock_guard<std::mutex> lock(cacheMu_);
    exitedDetails_[c.id()] = *out;
  }
}

absl::StatusOr<PodRuntimeStatus> RuntimeManager::assemble(
    const std::vector<v1::PodSandbox>& sandboxes, const std::vector<v1::Container>& containers,
    const std::string& uid) {
  PodRuntimeStatus p;
  p.uid = uid;
  for (const auto& s : sandboxes) {
    PodIdentity id;
    if (!podIdentityFromLabels(toMap(s.labels()), &id) || id.uid != uid) continue;
    p.name = id.name;
    p.namespace_ = id.namespace_;
    SandboxRuntimeStatus ss;
    fillSandbox(s, &ss);
    p.sandboxes.push_back(std::move(ss));
  }
  for (const auto& c : containers) {
    PodIdentity id;
    if (!podIdentityFromLabels(toMap(c.labels()), &id) || id.uid != uid) continue;
    if (p.name.empty()) {
      p.name = id.name;
      p.namespace_ = id.namespace_;
    }
    ContainerRuntimeStatus cs;
    fillContainer(c, &cs);
    p.containers.push_back(std::move(cs));
  }
  sortNewestFirst(p);
  return p;
}

std::string RuntimeManager::fingerprint(const PodRuntimeStatus& s) {
  std::string f;
  for (const auto& sb : s.sandboxes) {
    f += sb.id.substr(0, 12) + (sb.state == SandboxState::kReady ? ":R;" : ":N;");
  }
  for (const auto& c : s.containers) {
    f += c.id.substr(0, 12) + ":" + containerStateName(c.state) + ";";
  }
  return f;
}

absl::StatusOr<std::vector<RuntimeManager::RelistedPod>> RuntimeManager::relist(
    const std::unordered_map<std::string, std::string>& known) {
  const auto listedAt = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(auto sandboxes, runtime_.listPodSandbox(v1::PodSandboxFilter()));
  ASSIGN_OR_RETURN(auto containers, runtime_.listContainers(v1::ContainerFilter()));
  std::map<std::string, std::pair<std::vector<v1::PodSandbox>, std::vector<v1::Container>>> byUid;
  std::unordered_map<std::string, bool> live;
  for (auto& s : sandboxes) {
    live[s.id()] = true;
    auto it = s.labels().find(kPodUidLabel);
    if (it != s.labels().end()) byUid[it->second].first.push_back(std::move(s));
  }
  for (auto& c : containers) {
    live[c.id()] = true;
    auto it = c.labels().find(kPodUidLabel);
    if (it != c.labels().end()) byUid[it->second].second.push_back(std::move(c));
  }
  std::vector<RelistedPod> out;
  for (auto& [uid, parts] : byUid) {
    // A light view (no per-object calls) is enough to tell whether anything changed.
    PodRuntimeStatus light;
    for (const auto& s : parts.first) {
      SandboxRuntimeStatus ss;
      ss.id = s.id();
      ss.state = s.state() == v1::SANDBOX_READY ? SandboxState::kReady : SandboxState::kNotReady;
      ss.createdAtNs = s.created_at();
      ss.attempt = s.metadata().attempt();
      light.sandboxes.push_back(ss);
    }
    for (const auto& c : parts.second) {
      ContainerRuntimeStatus cs;
      cs.id = c.id();
      cs.state = fromCri(c.state());
      cs.createdAtNs = c.created_at();
      cs.attempt = c.metadata().attempt();
      light.containers.push_back(cs);
    }
    sortNewestFirst(light);
    RelistedPod rp{uid, fingerprint(light), std::nullopt};
    auto k = known.find(uid);
    if (k == known.end() || k->second != rp.fingerprint) {
      ASSIGN_OR_RETURN(auto full, assemble(parts.first, parts.second, uid));
      rp.fingerprint = fingerprint(full);
      rp.status = std::move(full);
    }
    out.push_back(std::move(rp));
  }
  // Forget facts about objects the runtime no longer has.
  if (absl::Status s =
          actuated_.retain([&](const std::string& id) { return live.count(id) > 0; }, listedAt);
      !s.ok()) {
    LOG_WARNING << "write " << actuated_.path() << ": " << s.message();
  }
  std::lock_guard<std::mutex> lock(cacheMu_);
  std::erase_if(sandboxFacts_, [&](const auto& kv) { return !live.count(kv.first); });
  std::erase_if(exitedDetails_, [&](const auto& kv) { return !live.count(kv.first); });
  return out;
}

absl::StatusOr<PodRuntimeStatus> RuntimeManager::getPodStatus(const std::string& uid) {
  v1::PodSandboxFilter sf;
  (*sf.mutable_label_selector())[kPodUidLabel] = uid;
  ASSIGN_OR_RETURN(auto sandboxes, runtime_.listPodSandbox(sf));
  v1::ContainerFilter cf;
  (*cf.mutable_label_selector())[kPodUidLabel] = uid;
  ASSIGN_OR_RETURN(auto containers, runtime_.listContainers(cf));
  return assemble(sandboxes, containers, uid);
}

absl::Status RuntimeManager::createSandbox(const api::Pod& pod, const v1::PodSandboxConfig& config,
                                           const EnvSources* sources, std::string* id,
                                           std::vector<std::string>* ips, std::string* message) {
  if (absl::Status s = core::mkdirAll(config.log_directory(), 0755); !s.ok()) {
    *message = "Failed to create log directory for pod \"" + formatPod(pod) +
               "\": " + std::string(s.message());
    return s;
  }
  absl::StatusOr<std::string> handler = lookupRuntimeHandler(pod, sources);
  if (!handler.ok()) {
    *message = "Failed to create sandbox for pod \"" + formatPod(pod) +
               "\": " + std::string(handler.status().message());
    return handler.status();
  }
  if (!handler->empty()) {
    VLOG(2) << "Running pod " << formatPod(pod) << " with runtime handler " << *handler;
  }
  auto created = runtime_.runPodSandbox(config, *handler);
  if (!created.ok()) {
    *message = "Failed to create sandbox for pod \"" + formatPod(pod) +
               "\": " + std::string(created.status().message());
    return created.status();
  }
  *id = *created;
  auto st = runtime_.podSandboxStatus(*id, false);
  if (st.ok()) {
    const auto& net = st->status().network();
    if (!net.ip().empty()) ips->push_back(net.ip());
    for (const auto& extra : net.additional_ips()) ips->push_back(extra.ip());
  }
  return absl::OkStatus();
}

std::vector<std::string> RuntimeManager::nodeIPs(const SyncRequest& req) const {
  if (!opts_.nodeIPs.empty()) return opts_.nodeIPs;
  if (req.envSources) return req.envSources->hostIPs;
  return {};
}

absl::Status RuntimeManager::ensureImage(const api::Pod& pod, const api::Container& c,
                                         const EnvSources* sources, std::string* reason,
                                         std::vector<std::string>* warnings,
                                         std::vector<ContainerEvent>* events,
                                         std::optional<v1::Image>* image) {
  auto ref = cri::parseImageRef(c.image);
  if (!ref.ok()) {
    *reason = kInvalidImageName;
    return absl::InvalidArgumentError("Failed to apply default image tag \"" + c.image +
                                      "\": " + std::string(ref.status().message()));
  }
  v1::ImageSpec spec;
  spec.set_image(c.image);
  if (c.imagePullPolicy != "Always") {
    auto present = images_.imageStatus(spec);
    if (present.ok() && present->has_value()) {
      *image = std::move(*present);
      events->push_back(
          {false, "Pulled", "Container image \"" + c.image + "\" already present on machine"});
      return absl::OkStatus();
    }
    if (c.imagePullPolicy == "Never") {
      *reason = kErrImageNeverPull;
      return absl::NotFoundError("Container image \"" + c.image +
                                 "\" is not present with pull policy of Never");
    }
  }
  // With pull secrets matching the image, each credential is tried in turn (the
  // kubelet never falls back to an anonymous pull then); errors are joined.
  events->push_back({false, "Pulling", "Pulling image \"" + c.image + "\""});
  PullCredentials creds = pullCredentials(pod, sources, c.image);
  for (const auto& w : creds.warnings) warnings->push_back(w.reason + ": " + w.message);
  if (creds.auths.empty()) {
    auto pulled = images_.pullImage(spec, nullptr, nullptr);
    if (pulled.ok()) {
      events->push_back({false, "Pulled", "Successfully pulled image \"" + c.image + "\""});
      return absl::OkStatus();
    }
    *reason = kErrImagePull;
    return pulled.status();
  }
  std::string errors;
  for (const auto& auth : creds.auths) {
    auto pulled = images_.pullImage(spec, &auth, nullptr);
    if (pulled.ok()) {
      events->push_back({false, "Pulled", "Successfully pulled image \"" + c.image + "\""});
      return absl::OkStatus();
    }
    if (creds.auths.size() == 1) {
      *reason = kErrImagePull;
      return pulled.status();
    }
    errors += (errors.empty() ? "[" : ", ") + std::string(pulled.status().message());
  }
  *reason = kErrImagePull;
  return absl::UnknownError(errors + "]");
}

ContainerStartResult RuntimeManager::startContainer(const api::Pod& pod, const api::Container& c,
                                                    const std::string& sandboxId,
                                                    const std::vector<std::string>& podIPs,
                                                    const v1::PodSandboxConfig& sandboxConfig,
                                                    const SyncRequest& req,
                                                    std::vector<std::string>* warnings) {
  const std::string podIP = podIPs.empty() ? "" : podIPs.front();
  const PodRuntimeStatus& status = req.status;
  const EnvSourcesPtr& sources = req.envSources;
  ContainerStartResult r;
  r.name = c.name;
  r.image = c.image;
  auto fail = [&](const char* reason, const absl::Status& s) {
    r.reason = reason;
    r.message = std::string(s.message());
    if (r.reason == kErrImagePull) {
      r.events.push_back(
          {true, "Failed", "Failed to pull image \"" + c.image + "\": " + r.message});
    }
    r.events.push_back({true, "Failed", "Error: " + r.reason});
    return r;
  };
  std::string reason;
  std::optional<v1::Image> image;
  if (absl::Status s = ensureImage(pod, c, sources.get(), &reason, warnings, &r.events, &image);
      !s.ok())
    return fail(reason.c_str(), s);

  // The restart count continues from the newest instance of this container.
  ContainerContext ctx;
  const ContainerRuntimeStatus* prev = status.findContainer(c.name);
  ctx.restartCount = prev ? prev->restartCount + 1 : 0;
  ctx.podIP = podIP;
  ctx.podIPs = podIPs;
  ctx.sources = sources;
  if (sources) ctx.hostIPs = sources->hostIPs;
  ctx.volumes = req.mounts;
  ctx.podDir = ::volumes::podDir(opts_.rootDir, pod.metadata.uid);
  // The kubelet's getImageUser: the image's uid, else its user name, else root (0).
  // The image's status is asked for only when ensureImage did not already (a pull).
  if (!image) {
    v1::ImageSpec spec;
    spec.set_image(c.image);
    auto st = images_.imageStatus(spec);
    if (!st.ok()) return fail(kCreateContainerConfigError, st.status());
    image = std::move(*st);
  }
  if (image && image->has_uid()) {
    ctx.security.imageUid = image->uid().value();
  } else if (image && !image->username().empty()) {
    ctx.security.imageUsername = image->username();
  } else {
    ctx.security.imageUid = 0;
  }
  ctx.security.seccompProfileRoot = opts_.rootDir + "/seccomp";
  ctx.security.seccompDefault = opts_.seccompDefault;

  // The termination-message file lives under the pod dir so it outlives the container.
  std::string dir = opts_.rootDir + "/pods/" + pod.metadata.uid + "/containers/" + c.name;
  if (absl::Status s = core::mkdirAll(dir, 0755); !s.ok())
    return fail(kCreateContainerConfigError, s);
  ctx.terminationLogHostPath = dir + "/" + randomHex(8);
  int fd = ::open(ctx.terminationLogHostPath.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) {
    return fail(kCreateContainerConfigError,
                core::errnoStatus(errno, "create " + ctx.terminationLogHostPath));
  }
  // World-writable whatever the umask, so that a non-root container can write it.
  if (::fchmod(fd, 0666) != 0) {
    LOG_WARNING << "chmod " << ctx.terminationLogHostPath << ": " << std::strerror(errno);
  }
  ::close(fd);

  // The kubelet's GenerateRunContainerOptions: the hostname (for every pod) and
  // the managed /etc/hosts, rewritten before each container is created.
  auto host = podHostname(pod, opts_);
  if (!host.ok()) return fail(kCreateContainerConfigError, host.status());
  auto hostsMount = ensureEtcHostsMount(pod, c, podIPs, *host, opts_);
  if (!hostsMount.ok()) return fail(kCreateContainerConfigError, hostsMount.status());
  ctx.etcHostsMount = std::move(*hostsMount);

  std::vector<EnvWarning> envWarnings;
  auto config = makeContainerConfig(pod, c, ctx, &envWarnings);
  for (const auto& w : envWarnings) warnings->push_back(w.reason + ": " + w.message);
  if (!config.ok()) return fail(kCreateContainerConfigError, config.status());
  if (absl::Status s = applyEphemeralTarget(pod, c, status, &*config); !s.ok())
    return fail(kCreateContainerConfigError, s);
  // generateLinuxContainerResources: requests and limits, OOM score adjust, memory QoS.
  *config->mutable_linux()->mutable_resources() =
      cm::linuxContainerResources(pod, c, opts_.resources);
  auto id = runtime_.createContainer(sandboxId, *config, sandboxConfig);
  if (!id.ok()) return fail(kCreateContainerError, id.status());
  // What it was given, for in-place resizes (the kubelet's SetActuatedResources).
  if (absl::Status s = actuated_.set(*id, c.resources); !s.ok()) {
    LOG_WARNING << "record resources of container " << *id << ": " << s.message();
  }
  r.events.push_back({false, "Created", "Created container " + c.name});
  if (absl::Status s = runtime_.startContainer(*id); !s.ok()) return fail(kRunContainerError, s);
  r.events.push_back({false, "Started", "Started container " + c.name});

  // The /var/log/containers symlink log shippers follow.
  std::string target = sandboxConfig.log_directory() + "/" + config->log_path();
  std::string link = logLinkPath(pod.metadata.name, pod.metadata.namespace_, c.name, *id);
  if (core::mkdirAll(opts_.containerLogsLinkDir, 0755).ok()) {
    ::unlink(link.c_str());
    if (::symlink(target.c_str(), link.c_str()) != 0) {
      LOG_WARNING << "create log symlink " << link << ": " << std::strerror(errno);
    }
  }
  if (c.lifecycle && c.lifecycle->postStart) runPostStartHook(pod, c, *id, podIP, &r);
  return r;
}

std::string RuntimeManager::logLinkPath(const std::string& podName, const std::string& podNamespace,
                                        const std::string& container, const std::string& id) const {
  return opts_.containerLogsLinkDir + "/" + podName + "_" + podNamespace + "_" + container + "-" +
         id + ".log";
}

void RuntimeManager::removeContainerAndLogs(const ContainerRuntimeStatus& c,
                                            const PodRuntimeStatus& pod) {
  if (absl::Status s = runtime_.removeContainer(c.id); !s.ok()) {
    LOG_WARNING << "remove container " << c.id << " (" << c.name << "): " << s.message();
    return;
  }
  ::unlink(logLinkPath(pod.name, pod.namespace_, c.name, c.id).c_str());
}

void RuntimeManager::removeDeadContainers(const PodRuntimeStatus& status) {
  // Keep the newest exited instance of each container (its status is the
  // container's lastState and its restart count); remove older ones.
  std::map<std::string, int> seen;
  for (const auto& c : status.containers) {
    if (c.state != ContainerState::kExited) continue;
    if (++seen[c.name] > 1) removeContainerAndLogs(c, status);
  }
}

SyncResult RuntimeManager::syncPod(const SyncRequest& req) {
  SyncResult res;
  const api::Pod& pod = *req.pod;
  const PodActions& a = req.actions;
  std::string sandboxId = a.sandboxId;
  // The pod's IPs: the sandbox's, or the node's for a host-network pod (the
  // kubelet takes them from the pod status it generated).
  std::vector<std::string> podIPs;
  if (pod.spec.hostNetwork) {
    podIPs = nodeIPs(req);
  } else if (const auto* sb = req.status.latestSandbox()) {
    if (!sb->ip.empty()) podIPs.push_back(sb->ip);
    podIPs.insert(podIPs.end(), sb->extraIps.begin(), sb->extraIps.end());
  }
  std::string podIP = podIPs.empty() ? "" : podIPs.front();

  if (a.killPod) {
    KillRequest kill;
    kill.status = req.status;
    kill.pod = req.pod;
    kill.gracePeriodSeconds = pod.spec.terminationGracePeriodSeconds;
    kill.reason = "sandbox changed";
    KillResult killed = killPod(kill);
    res.events = std::move(killed.events);
    if (const absl::Status& s = killed.status; !s.ok()) {
      res.sandboxError = "KillPodSandboxError: " + std::string(s.message());
      res.fresh = getPodStatus(pod.metadata.uid).value_or(req.status);
      return res;
    }
    if (a.createSandbox) {
      // A new sandbox starts from a clean slate of init containers.
      for (const auto& c : req.status.containers) {
        bool isInit = std::any_of(pod.spec.initContainers.begin(), pod.spec.initContainers.end(),
                                  [&](const api::Container& ic) { return ic.name == c.name; });
        if (isInit && c.state == ContainerState::kExited) removeContainerAndLogs(c, req.status);
      }
    }
  } else {
    for (const auto& k : a.containersToKill) {
      const ContainerRuntimeStatus* c = nullptr;
      for (const auto& s : req.status.containers) {
        if (s.id == k.id) c = &s;
      }
      ContainerRuntimeStatus minimal;
      if (!c) {
        minimal.id = k.id;
        minimal.name = k.name;
        c = &minimal;
      }
      // A failed probe's own grace period wins over the pod's.
      int64_t grace = k.gracePeriodSeconds.value_or(
          pod.metadata.deletionGracePeriodSeconds.value_or(pod.spec.terminationGracePeriodSeconds));
      std::vector<ContainerEvent> events;
      if (absl::Status s = killContainer(pod, *c, podIP, k.message, grace, &events); !s.ok()) {
        LOG_WARNING << "stop container " << k.id << ": " << s.message();
      }
      for (auto& e : events) res.events.push_back({k.name, std::move(e)});
    }
  }

  // The sandbox config (also handed to CreateContainer) is made once per sync;
  // its DNS warnings become Warning events on the pod.
  std::optional<v1::PodSandboxConfig> sandboxConfig;
  if (a.createSandbox || !req.starts.empty()) {
    std::vector<network::DnsWarning> dnsWarnings;
    auto config = makeSandboxConfig(pod, a.attempt, opts_, &dnsWarnings);
    for (auto& w : dnsWarnings) {
      res.events.push_back({"", {true, std::move(w.reason), std::move(w.message)}});
    }
    if (!config.ok()) {
      std::string err(config.status().message());
      LOG_WARNING << "Failed to generate sandbox config for pod " << formatPod(pod) << ": " << err;
      if (a.createSandbox) {
        res.sandboxError = "CreatePodSandboxError: Failed to generate sandbox config for pod \"" +
                           formatPod(pod) + "\": " + err;
        res.events.push_back({"",
                              {true, std::string(events::reasons::kFailedCreatePodSandBox),
                               "Failed to create pod sandbox: " + err}});
      } else {
        res.sandboxError = "ConfigPodSandboxError: GeneratePodSandboxConfig for pod \"" +
                           formatPod(pod) + "\" failed: " + err;
      }
      res.fresh = getPodStatus(pod.metadata.uid).value_or(req.status);
      return res;
    }
    sandboxConfig = std::move(*config);
  }

  // The kubelet's syncPod makes the pod's cgroup (and updates the QoS tiers) before
  // the sandbox that goes into it.
  if (a.createSandbox && opts_.ensurePodCgroup) {
    if (absl::Status s = opts_.ensurePodCgroup(req.pod); !s.ok()) {
      std::string err(s.message());
      LOG_WARNING << "pod " << formatPod(pod) << ": unable to ensure pod container exists: " << err;
      res.sandboxError = "failed to ensure that the pod: " + pod.metadata.uid +
                         " cgroups exist and are correctly applied: " + err;
      res.events.push_back({"",
                            {true, std::string(events::reasons::kFailedToCreatePodContainer),
                             "unable to ensure pod container exists: " + err}});
      res.fresh = getPodStatus(pod.metadata.uid).value_or(req.status);
      return res;
    }
  }

  if (a.createSandbox) {
    std::vector<std::string> ips;
    std::string message;
    if (absl::Status s =
            createSandbox(pod, *sandboxConfig, req.envSources.get(), &sandboxId, &ips, &message);
        !s.ok()) {
      LOG_WARNING << message;
      res.sandboxError = "CreatePodSandboxError: " + message;
      res.events.push_back({"",
                            {true, std::string(events::reasons::kFailedCreatePodSandBox),
                             "Failed to create pod sandbox: " + std::string(s.message())}});
      res.fresh = getPodStatus(pod.metadata.uid).value_or(req.status);
      return res;
    }
    // A host-network pod keeps the node's IPs.
    if (!pod.spec.hostNetwork) podIPs = std::move(ips);
  }

  // Step 7 of the kubelet's SyncPod: resize running containers in place.
  if (!a.killPod && !a.createSandbox && !a.resize.empty()) {
    if (absl::Status s = doPodResizeAction(pod, req.status, a.resize); !s.ok()) {
      res.resizeError = std::string(s.message());
      LOG_WARNING << "pod " << formatPod(pod) << ": in-place resize: " << res.resizeError;
    }
  }

  for (const ContainerStart& st : req.starts) {
    // Ephemeral containers come after the others (the kubelet starts them first, but
    // they cannot exist before the pod runs).
    const api::Container& c = st.ephemeral ? pod.spec.ephemeralContainers[st.index]
                              : st.init    ? pod.spec.initContainers[st.index]
                                           : pod.spec.containers[st.index];
    ContainerStartResult r =
        startContainer(pod, c, sandboxId, podIPs, *sandboxConfig, req, &res.warnings);
    r.init = st.init;
    if (!r.reason.empty()) {
      LOG_WARNING << "pod " << pod.metadata.namespace_ << "/" << pod.metadata.name << " container "
                  << c.name << ": " << r.reason << ": " << r.message;
    }
    bool stop = st.init && !r.reason.empty() && !isSidecar(c);
    res.starts.push_back(std::move(r));
    // A regular init container that failed to start ends this sync; a sidecar's
    // failure does not hold back the rest (the kubelet's SyncPod).
    if (stop) break;
  }

  auto fresh = getPodStatus(pod.metadata.uid);
  if (fresh.ok()) {
    removeDeadContainers(*fresh);
    res.fresh = std::move(*fresh);
  }
  return res;
}

}  // namespace agent::runtime

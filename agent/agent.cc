#include "agent/agent.h"

#include <fstream>
#include <sstream>

#include "absl/time/time.h"
#include "agent/events/event_reasons.h"
#include "agent/events/object_ref.h"
#include "agent/health/pod_probes.h"
#include "agent/node/node_ip.h"
#include "agent/node/node_status.h"
#include "agent/server/stream_proxy.h"
#include "agent/status/pod_status_compute.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "network/cni_config.h"
#include "network/dns.h"

namespace agent {
namespace {

network::ResolvConf readHostResolvConf(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  if (!in) {
    LOG_WARNING << "cannot read resolvConf " << path << "; pods get no host DNS settings";
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return network::parseResolvConf(ss.str());
}

bool isLoopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

bool isTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

// The version the Node reports as nodeInfo.kubeletVersion: the kubelet API level
// cubelet implements, marked as cubelet's build.
constexpr char kKubeletVersion[] = "v1.30.0-cubelet.0.1.0";

}  // namespace

Agent::Agent(const config::AgentConfig& cfg, core::EventLoop& loop) : cfg_(cfg), loop_(loop) {}

Agent::~Agent() {
  // The kubelet API first: its streams, then the server and the webhooks behind it.
  server::closeStreamProxies();
  api_.reset();
  authFilter_.reset();
  // Before the cluster connection: the token manager and the claim resolver hold
  // its API client, whose in-flight answers must not reach them half-destroyed.
  volumes_.reset();
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::create(const config::AgentConfig& cfg,
                                                     core::EventLoop& loop) {
  std::unique_ptr<Agent> a(new Agent(cfg, loop));
  if (!cfg.nodeIP.empty()) {
    a->nodeIP_ = cfg.nodeIP.substr(0, cfg.nodeIP.find(','));
  } else {
    auto ip = node::detectNodeIP();
    if (!ip.ok()) return ip.status();
    a->nodeIP_ = *ip;
  }
  if (isLoopback(a->nodeIP_)) {
    LOG_WARNING << "node IP " << a->nodeIP_
                << " is a loopback address: fine for a single-machine cluster, but other nodes "
                   "cannot reach this one";
  }
  if (cfg.imageServiceEndpoint != cfg.containerRuntimeEndpoint) {
    LOG_WARNING << "imageServiceEndpoint " << cfg.imageServiceEndpoint
                << " differs from the runtime endpoint; cubelet uses "
                << cfg.containerRuntimeEndpoint << " for both";
  }
  auto client = cri::GrpcRuntimeClient::create(
      cfg.containerRuntimeEndpoint,
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.runtimeRequestTimeout),
      std::chrono::minutes(10));
  if (!client.ok()) return client.status();
  a->cri_ = std::move(*client);
  a->metrics_ = std::make_unique<metrics::KubeletMetrics>();
  a->metrics_->setNodeName(cfg.nodeName);
  a->runtimeSvc_ = std::make_unique<metrics::InstrumentedRuntimeService>(*a->cri_, *a->metrics_);
  a->imageSvc_ = std::make_unique<metrics::InstrumentedImageService>(*a->cri_, *a->metrics_);
  auto sysctls = pods::SysctlAllowlist::forNode(cfg.allowedUnsafeSysctls);
  if (!sysctls.ok()) {
    return absl::InvalidArgumentError("allowedUnsafeSysctls (--allowed-unsafe-sysctls): " +
                                      std::string(sysctls.status().message()));
  }
  a->sysctls_ = std::move(*sysctls);
  a->pool_ = std::make_unique<core::ThreadWorkerPool>(static_cast<size_t>(cfg.workerThreads));

  runtime::RuntimeOptions opts;
  opts.nodeName = cfg.nodeName;
  opts.rootDir = cfg.rootDir;
  opts.podLogsDir = cfg.podLogsDir;
  opts.containerLogsLinkDir = cfg.containerLogsLinkDir;
  opts.clusterDNS = cfg.clusterDNS;
  opts.clusterDomain = cfg.clusterDomain;
  opts.seccompDefault = cfg.seccompDefault;
  opts.hostResolvConf = readHostResolvConf(cfg.resolvConf);
  // Host-network pods' IPs: the node's (both families of a dual-stack --node-ip).
  opts.nodeIPs = {a->nodeIP_};
  if (auto comma = cfg.nodeIP.find(','); comma != std::string::npos) {
    opts.nodeIPs.push_back(cfg.nodeIP.substr(comma + 1));
  }
  RETURN_IF_ERROR(a->setUpCgroups(opts));
  a->runtime_ = std::make_unique<runtime::RuntimeManager>(*a->runtimeSvc_, *a->imageSvc_, opts);
  a->hookRunner_ = std::make_unique<health::LifecycleHookRunner>(loop, *a->runtimeSvc_);
  a->runtime_->setHookRunner(a->hookRunner_.get());

  pods::WorkerSettings ws;
  ws.crashLoopBackOffBase = cfg.crashLoopBackOffBase;
  ws.crashLoopBackOffMax = cfg.crashLoopBackOffMax;
  ws.resync = std::chrono::duration_cast<core::Duration>(cfg.syncFrequency);
  a->workers_ = std::make_unique<pods::PodWorkers>(loop, *a->pool_, *a->runtime_, ws);
  Agent* raw = a.get();
  a->workers_->setTimings(pods::PodWorkers::Timings{
      [raw](core::Duration took, core::Duration interval) {
        raw->metrics_->plegRelistDuration.observe(std::chrono::duration<double>(took).count());
        if (interval.count() > 0) {
          raw->metrics_->plegRelistInterval.observe(
              std::chrono::duration<double>(interval).count());
        }
        raw->metrics_->plegLastSeen.set(
            std::chrono::duration<double>(raw->loop_.wallNow().time_since_epoch()).count());
      },
      [raw](const char* operation, core::Duration took) {
        raw->metrics_->podWorkerDuration.with({operation})
            .observe(std::chrono::duration<double>(took).count());
      }});
  a->workers_->setOnPodChanged([raw](const std::string& uid) { raw->onPodChanged(uid); });
  a->workers_->setEventSink(
      [raw](const api::Pod& pod, const std::string& container, const runtime::ContainerEvent& e) {
        raw->recordContainerEvent(pod, container, e.warning, e.reason, e.message);
      });
  a->setUpProbes();
  a->setUpNetwork();
  a->volumes_ =
      std::make_unique<volumes::PodVolumes>(loop, *a->pool_, cfg.rootDir, !cfg.kubeconfig.empty());
  if (!cfg.kubeconfig.empty()) {
    cluster::ClusterConnection::Hooks hooks;
    hooks.podsChanged = [raw] { raw->rebuildDesired(); };
    hooks.objectChanged = [raw](const std::string& ns, const std::string&) {
      raw->onObjectChanged(ns);
    };
    hooks.mirrorChanged = [raw](const std::string& ns, const std::string& name,
                                const std::string& mirrorUid) {
      for (const auto& sp : raw->staticPods_) {
        const auto& md = sp.pod->metadata;
        if (md.namespace_ != ns || md.name != name) continue;
        if (auto* sm = raw->cluster_->statusManager()) sm->setMirrorUid(md.uid, mirrorUid);
        raw->onPodChanged(md.uid);
      }
    };
    hooks.runtimeFacts = [raw](std::function<void(node::RuntimeFacts)> done) {
      raw->gatherRuntimeFacts(std::move(done));
    };
    hooks.podCidrsChanged = [raw](const std::vector<std::string>& cidrs) {
      raw->podNetwork_->setNodePodCidrs(cidrs);
    };
    hooks.extraNodeErrors = [raw] {
      std::vector<std::string> errors = raw->podNetwork_->nodeErrors();
      if (absl::Status s = raw->shutdown_->shutdownStatus(); !s.ok()) {
        errors.emplace_back(s.message());
      }
      return errors;
    };
    hooks.pressure = [raw] { return raw->eviction_->pressure(); };
    auto c = cluster::ClusterConnection::create(cfg, loop, *a->pool_, a->nodeIP_, kKubeletVersion,
                                                std::move(hooks));
    if (!c.ok()) return c.status();
    a->cluster_ = std::move(*c);
    // API pods found in the runtime are kept until the pods bound here are listed.
    a->workers_->setSourcesReady(false);
    a->workers_->setEnvSourcesProvider(
        [raw](const api::Pod& pod) { return raw->cluster_->envSources(pod); });
  }
  a->workers_->setOnPodTerminated([raw](const std::string& uid) {
    raw->volumes_->terminated(uid);
    raw->podTerminated(uid);
    if (!raw->cluster_) return;
    if (auto* sm = raw->cluster_->statusManager()) sm->markTerminated(uid);
  });
  a->setUpVolumes();
  RETURN_IF_ERROR(a->setUpEviction());
  a->setUpShutdown();
  return a;
}

absl::Status Agent::start() {
  for (const std::string& dir : {cfg_.rootDir, cfg_.rootDir + "/pods", cfg_.podLogsDir}) {
    RETURN_IF_ERROR(core::mkdirAll(dir, 0750));
  }
  // The runtime's network readiness first: pods without hostNetwork wait for it.
  networkReadiness_->start();
  podNetwork_->start();

  if (!cfg_.staticPodPath.empty()) {
    fileSource_ = std::make_unique<sources::FileSource>(
        loop_, *pool_, cfg_.staticPodPath, cfg_.nodeName,
        std::chrono::duration_cast<core::Duration>(cfg_.fileCheckFrequency),
        [this](const sources::PodSet& pods) {
          staticPods_ = pods;
          staticPodsLoaded_ = true;
          rebuildDesired();
        });
    fileSource_->start();
  } else {
    LOG_INFO << "No staticPodPath: no static pods";
    staticPodsLoaded_ = true;
  }
  startResources();
  startContainerLogRotation();
  workers_->start(core::Duration(1000));
  if (cluster_) cluster_->start();
  return startServers();
}

void Agent::shutdown(core::Duration maxWait) {
  if (!pool_->shutdown(maxWait)) {
    LOG_WARNING << "exiting with CRI calls still in flight after " << maxWait.count() << " ms";
  }
}

void Agent::gatherRuntimeFacts(std::function<void(node::RuntimeFacts)> done) {
  core::runOnPool(
      *pool_, loop_,
      [cri = runtimeSvc_.get(), images = imageSvc_.get()] {
        node::RuntimeFacts f;
        if (auto v = cri->version(); v.ok()) {
          f.runtimeName = v->runtime_name();
          f.runtimeVersion = v->runtime_version();
        }
        if (auto st = cri->status(false); st.ok()) {
          f.statusOk = true;
          for (const auto& c : st->status().conditions()) {
            f.conditions.push_back({c.type(), c.status(), c.reason(), c.message()});
          }
        }
        if (auto imgs = images->listImages(::runtime::v1::ImageFilter()); imgs.ok()) {
          std::vector<node::RuntimeImage> out;
          for (const auto& i : *imgs) {
            out.push_back({{i.repo_tags().begin(), i.repo_tags().end()},
                           {i.repo_digests().begin(), i.repo_digests().end()},
                           static_cast<int64_t>(i.size())});
          }
          f.images = std::move(out);
        }
        return f;
      },
      [this, done = std::move(done)](node::RuntimeFacts f) {
        // The same answer gates the pods before the node reports it (Ready).
        if (f.statusOk) {
          node::RuntimeHealth health;
          node::observeRuntime(health, f, loop_.wallNow());
          networkReadiness_->observe(std::move(health.networkError));
        }
        done(std::move(f));
      });
}

void Agent::recordContainerEvent(const api::Pod& pod, const std::string& container, bool warning,
                                 const std::string& reason, const std::string& message) {
  events::ObjectRef ref =
      container.empty() ? events::podRef(pod) : events::containerRef(pod, container);
  events::EventRecorder& rec = cluster_ ? cluster_->events() : logOnlyEvents_;
  rec.record(ref, warning ? events::EventType::kWarning : events::EventType::kNormal, reason,
             message);
}

void Agent::setUpProbes() {
  // Exec probes may hold all but one pool thread; pod syncs always keep one.
  size_t execThreads = std::max<size_t>(1, static_cast<size_t>(cfg_.workerThreads) - 1);
  execRunner_ = std::make_unique<health::CriExecRunner>(loop_, *pool_, *runtimeSvc_, execThreads);
  checker_ = std::make_unique<probes::ActionChecker>(loop_, *execRunner_);
  probes_ =
      std::make_unique<probes::ProbeManager>(loop_, *checker_, probes::ProbeManager::Options{});
  probes_->setOnResult([this](const std::string& uid, const std::string&, probes::ProbeKind kind,
                              probes::Result result) {
    // Not from inside the prober's callback: both may call back into it.
    loop_.post([this, uid, kind, result] {
      if (result == probes::Result::kFailure && kind != probes::ProbeKind::kReadiness) {
        workers_->resync(uid);  // kill and restart the container
      } else if (result == probes::Result::kSuccess && kind == probes::ProbeKind::kStartup) {
        workers_->resync(uid);  // a started sidecar lets the next init container start
      }
      onPodChanged(uid);
    });
  });
  probes_->setOnEvent([this](const std::string& uid, const std::string& container, bool warning,
                             const std::string& reason, const std::string& message) {
    if (auto pod = workers_->pod(uid))
      recordContainerEvent(*pod, container, warning, reason, message);
  });
  workers_->setProbeVerdict(
      [this](const api::Pod& pod, const api::Container& c,
             const runtime::ContainerRuntimeStatus& s) -> std::optional<runtime::ProbeFailure> {
        if (!c.livenessProbe && !c.startupProbe) return std::nullopt;
        auto failed = probes_->failedProbe(pod.metadata.uid, c.name, s.id);
        if (!failed) return std::nullopt;
        const auto& probe =
            *failed == probes::ProbeKind::kLiveness ? c.livenessProbe : c.startupProbe;
        runtime::ProbeFailure f;
        f.probe = *failed == probes::ProbeKind::kLiveness ? "liveness" : "startup";
        if (probe) f.gracePeriodSeconds = probe->terminationGracePeriodSeconds;
        return f;
      });
  workers_->setStartupCheck([this](const api::Pod& pod, const api::Container& c,
                                   const runtime::ContainerRuntimeStatus& s) {
    return probes_->started(pod.metadata.uid, c.name, s.id);
  });
}

void Agent::setUpNetwork() {
  cni::PodNetworkOptions no;
  no.nodeName = cfg_.nodeName;
  no.confDir = cfg_.cniConfDir;
  no.binDir = cfg_.cniBinDir;
  no.ipMasq = cfg_.cniIpMasq;
  // --pod-cidr is for standalone mode; a cluster's Node carries the node's range.
  no.fromNode = !cfg_.kubeconfig.empty();
  no.podCidr = cfg_.podCIDR;
  if (no.fromNode && !cfg_.podCIDR.empty()) {
    LOG_WARNING << "--pod-cidr " << cfg_.podCIDR
                << " is only used in standalone mode; the Node's spec.podCIDRs is used";
  }
  podNetwork_ = std::make_unique<cni::PodNetworkConfig>(loop_, *pool_, *runtimeSvc_, no);
  cni::NetworkReadinessOptions ro;
  ro.fastInitial = std::chrono::milliseconds(200);
  networkReadiness_ = std::make_unique<cni::NetworkReadiness>(loop_, *pool_, *runtimeSvc_, ro);
  workers_->requireNetworkStatus();
  networkReadiness_->setOnChanged([this](const std::string& error) {
    workers_->setNetworkStatus(error);
    if (cluster_) cluster_->syncNodeStatus();
  });
  podNetwork_->setOnWarning([this](const std::string& reason, const std::string& message) {
    events::EventRecorder& rec = cluster_ ? cluster_->events() : logOnlyEvents_;
    rec.record(events::nodeRef(cfg_.nodeName), events::EventType::kWarning, reason, message);
  });
  podNetwork_->setOnChanged([this] {
    // The runtime reloads its CNI config on its own; look again soon.
    networkReadiness_->checkSoon();
    if (cluster_) cluster_->syncNodeStatus();
  });
}

void Agent::setUpVolumes() {
  volumes_->setOnReady([this](const std::string& uid) { workers_->resync(uid); });
  volumes_->setOnEvent(
      [this](const std::string& uid, const std::string& reason, const std::string& message) {
        if (auto pod = workers_->pod(uid)) recordContainerEvent(*pod, "", true, reason, message);
      });
  workers_->setVolumes([this](const std::string& uid) { return volumes_->mountsIfReady(uid); });
  workers_->setOnPodRemoved([this](const std::string& uid) {
    volumes_->gone(uid);
    finalStatus_.erase(uid);
    // The pod's sandboxes are gone: its cgroup goes too (the kubelet's cleanup).
    podCgroups_->remove(uid, [uid](absl::Status s) {
      if (!s.ok()) LOG_WARNING << "pod " << uid << " cgroup: " << s.message();
    });
  });
  workers_->setOnFirstRelist([this] { maybeCleanupOrphans(); });
  if (cluster_) {
    volumes_->setApiClient([this] { return cluster_->apiClient(); });
    volumes_->setEnvSources([this](const api::Pod& pod) { return cluster_->envSources(pod); });
  }
}

void Agent::maybeCleanupOrphans() {
  if (orphansCleaned_ || !workers_->relisted() || !staticPodsLoaded_) return;
  if (cluster_ && !cluster_->podsSynced()) return;
  orphansCleaned_ = true;
  std::set<std::string> keep;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (v.runtime) keep.insert(v.runtime->uid);
    if (v.pod) keep.insert(v.pod->metadata.uid);
  });
  volumes_->cleanupOrphans(keep);
  podCgroups_->cleanupOrphans(keep, [](absl::Status s) {
    if (!s.ok()) LOG_WARNING << "orphaned pod cgroups: " << s.message();
  });
}

void Agent::rebuildDesired() {
  std::vector<std::shared_ptr<const api::Pod>> desired;
  for (const auto& sp : staticPods_) desired.push_back(sp.pod);
  if (cluster_) {
    if (auto* m = cluster_->mirrors()) {
      std::vector<mirror::StaticPodEntry> entries;
      for (const auto& sp : staticPods_) entries.push_back({sp.pod, sp.manifestJson});
      m->setStaticPods(std::move(entries));
    }
    if (cluster_->podsSynced()) {
      // Admission in creation order, as the kubelet sorts pod additions.
      std::vector<const cluster::ApiPod*> api;
      cluster_->forEachApiPod([&](const cluster::ApiPod& p) {
        if (!p.isMirror) api.push_back(&p);
      });
      std::stable_sort(api.begin(), api.end(), [](const auto* a, const auto* b) {
        return a->pod->metadata.creationTimestamp < b->pod->metadata.creationTimestamp;
      });
      std::set<std::string> present;
      // Each pod as it may run: with its allocated resources while a resize waits.
      std::map<std::string, std::shared_ptr<const api::Pod>> effective;
      std::vector<const api::Pod*> active;
      for (const auto* p : api) {
        const std::string& uid = p->pod->metadata.uid;
        present.insert(uid);
        effective[uid] = p->pod;
        if (admitted_.count(uid) && !isTerminalPhase(p->pod->statusPhase)) {
          effective[uid] = asAllocated(p->pod);
          active.push_back(effective[uid].get());
        }
      }
      // Resizes waiting for room are admitted against all the other pods.
      for (const auto* p : api) {
        const std::string& uid = p->pod->metadata.uid;
        if (effective[uid] == p->pod) continue;
        std::vector<const api::Pod*> others;
        for (const api::Pod* a : active) {
          if (a != effective[uid].get()) others.push_back(a);
        }
        if (admitResize(*p->pod, others)) {
          std::replace(active.begin(), active.end(), effective[uid].get(), p->pod.get());
          effective[uid] = p->pod;
        }
      }
      for (const auto* p : api) {
        const api::Pod& pod = *p->pod;
        const std::string& uid = pod.metadata.uid;
        if (rejected_.count(uid)) continue;
        if (!admitted_.count(uid)) {
          // A pod that already finished, or is being deleted, is not admitted again.
          if (!isTerminalPhase(pod.statusPhase) && !pod.metadata.deletionTimestamp) {
            if (!admit(pod, active)) continue;
            active.push_back(&pod);
          }
          admitted_.insert(uid);
          allocations_[uid] = pods::allocationOf(pod);
        }
        desired.push_back(effective[uid]);
      }
      for (auto it = admitted_.begin(); it != admitted_.end();) {
        it = present.count(*it) ? std::next(it) : admitted_.erase(it);
      }
      std::erase_if(allocations_, [&](const auto& kv) { return !admitted_.count(kv.first); });
      std::erase_if(resizePending_, [&](const auto& kv) { return !admitted_.count(kv.first); });
      std::erase_if(allocatedCopies_, [&](const auto& kv) { return !admitted_.count(kv.first); });
      for (auto it = rejected_.begin(); it != rejected_.end();) {
        it = present.count(it->first) ? std::next(it) : rejected_.erase(it);
      }
    }
  }
  // Volumes first: a pod whose volumes are ready starts in this same turn.
  for (const auto& p : desired) volumes_->update(p);
  workers_->setDesiredPods(desired);
  // Only now may pods in the runtime that no source wants be removed.
  if (cluster_ && cluster_->podsSynced()) workers_->setSourcesReady(true);
  maybeCleanupOrphans();
}

std::shared_ptr<const api::Pod> Agent::asAllocated(const std::shared_ptr<const api::Pod>& pod) {
  const std::string& uid = pod->metadata.uid;
  auto alloc = allocations_.find(uid);
  if (alloc == allocations_.end()) {
    // Admitted before this agent started: it runs with what it asks for.
    allocations_[uid] = pods::allocationOf(*pod);
    return pod;
  }
  if (!runtime::inPlaceResizeAllowed(*pod) || pod->metadata.deletionTimestamp ||
      !pods::resizeRequested(*pod, alloc->second)) {
    resizePending_.erase(uid);
    allocatedCopies_.erase(uid);
    return pod;
  }
  // The same copy while neither the pod nor its allocation changes: the pod worker
  // sees no update.
  auto& [source, copy] = allocatedCopies_[uid];
  if (source != pod || !copy) {
    source = pod;
    copy = std::make_shared<const api::Pod>(pods::withAllocation(*pod, alloc->second));
  }
  return copy;
}

bool Agent::admitResize(const api::Pod& pod, const std::vector<const api::Pod*>& others) {
  const std::string& uid = pod.metadata.uid;
  pods::NodeAllocatable node;
  node.maxPods = cfg_.maxPods;
  if (auto a = cluster_->allocatable()) node = *a;
  std::optional<pods::ResizePending> pending = pods::checkResize(pod, others, node);
  if (!pending) {
    LOG_INFO << "pod " << pod.metadata.namespace_ << "/" << pod.metadata.name
             << ": resize admitted";
    allocations_[uid] = pods::allocationOf(pod);
    resizePending_.erase(uid);
    allocatedCopies_.erase(uid);
    return true;
  }
  auto [it, added] = resizePending_.try_emplace(uid, *pending);
  if (added || !(it->second == *pending)) {
    it->second = *pending;
    LOG_INFO << "pod " << pod.metadata.namespace_ << "/" << pod.metadata.name
             << ": resize pending (" << pending->reason << "): " << pending->message;
    // The condition changes although the pod the worker runs does not.
    workers_->resync(uid);
  }
  return false;
}

bool Agent::admit(const api::Pod& pod, const std::vector<const api::Pod*>& active) {
  pods::NodeAllocatable node;
  node.maxPods = cfg_.maxPods;
  if (auto a = cluster_->allocatable()) node = *a;
  auto rejection = admitResources(pod);
  if (!rejection && sysctls_) rejection = sysctls_->admit(pod);
  if (!rejection) rejection = pods::admitPod(pod, active, node);
  if (!rejection) return true;
  LOG_WARNING << "Pod " << pod.metadata.namespace_ << "/" << pod.metadata.name
              << " rejected: " << rejection->reason << ": " << rejection->message;
  cluster_->events().record(events::podRef(pod), events::EventType::kWarning, rejection->reason,
                            rejection->message);
  api::PodStatus st;
  st.phase = "Failed";
  st.qosClass = status::podQosClass(pod);  // set once by the API server; never cleared
  st.reason = rejection->reason;
  st.message = "Pod was rejected: " + rejection->message;
  rejected_[pod.metadata.uid] = *rejection;
  reportStatus(pod, st);
  return false;
}

void Agent::reportStatus(const api::Pod& pod, const api::PodStatus& status) {
  if (!cluster_ || !cluster_->statusManager()) return;
  status::PodRef ref;
  ref.uid = pod.metadata.uid;
  ref.namespace_ = pod.metadata.namespace_;
  ref.name = pod.metadata.name;
  ref.isStatic = pod.metadata.annotations.count(std::string(sources::kConfigSourceAnnotation)) &&
                 pod.metadata.annotations.at(std::string(sources::kConfigSourceAnnotation)) ==
                     sources::kFileSource;
  cluster_->statusManager()->setPodStatus(ref, status);
}

void Agent::onObjectChanged(const std::string& ns) {
  volumes_->refreshNamespace(ns);
  // Pods waiting for a ConfigMap, Secret or the Services try again now.
  std::vector<std::string> uids;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (!v.pod || v.waiting->empty()) return;
    if (ns.empty() || v.pod->metadata.namespace_ == ns) uids.push_back(v.pod->metadata.uid);
  });
  for (const auto& uid : uids) workers_->resync(uid);
}

void Agent::onPodChanged(const std::string& uid) {
  bool found = false;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (!v.pod || v.pod->metadata.uid != uid) return;
    found = true;
    status::StatusInput in;
    in.pod = v.pod.get();
    in.runtime = v.runtime;
    in.waiting = v.waiting;
    in.sandboxError = v.sandboxError;
    in.resizeError = v.resizeError;
    if (auto pending = resizePending_.find(uid); pending != resizePending_.end()) {
      in.resizePendingReason = pending->second.reason;
      in.resizePendingMessage = pending->second.message;
    }
    if (auto g = cfg_.featureGates.find("InPlacePodVerticalScalingAllocatedStatus");
        g != cfg_.featureGates.end()) {
      in.allocatedStatus = g->second;
    }
    in.hostIP = nodeIP_;
    in.startTime = v.firstSeen;
    in.now = loop_.wallNow();
    auto prev = statuses_.find(uid);
    in.previous = prev == statuses_.end() ? nullptr : &prev->second;
    // The status the API holds, after an agent restart: nothing flaps.
    if (cluster_ && cluster_->statusManager()) {
      if (const auto* known = cluster_->statusManager()->knownStatus(uid)) in.previous = known;
      in.apiStatus = cluster_->statusManager()->apiStatus(uid);
    }
    if (health::hasProbes(*v.pod)) {
      probes_->setPod(health::podProbes(*v.pod, *v.runtime, nodeIP_));
      in.health = [&](const std::string& name, const std::string& id) {
        // A container without probes is started and ready once running.
        if (!health::containerHasProbes(*v.pod, name)) return status::ContainerHealth{};
        return status::ContainerHealth{probes_->started(uid, name, id),
                                       probes_->ready(uid, name, id)};
      };
    }
    api::PodStatus next = status::computePodStatus(in);
    if (!v.terminalReason.empty()) {
      next.phase = "Failed";
      next.reason = v.terminalReason;
      next.message = v.terminalMessage;
    } else if (v.terminated && v.pod->metadata.deletionTimestamp && !isTerminalPhase(next.phase)) {
      // A pod stopped for good is terminal whatever its restart policy (the
      // kubelet's getPhase with podIsTerminal).
      bool allSucceeded = !next.containerStatuses.empty();
      for (const auto& c : next.containerStatuses) {
        if (!c.state.terminated || c.state.terminated->exitCode != 0) allSucceeded = false;
      }
      next.phase = allSucceeded ? "Succeeded" : "Failed";
    }
    if (auto f = finalStatus_.find(uid); f != finalStatus_.end() && !v.terminalReason.empty()) {
      f->second(next);
    }
    if (next.phase == "Running" && (!in.previous || in.previous->phase == "Pending")) {
      recordPodStart(*v.pod, v.firstSeen);
    }
    if (!in.previous || in.previous->phase != next.phase) {
      LOG_INFO << "Pod " << v.pod->metadata.namespace_ << "/" << v.pod->metadata.name << " phase "
               << next.phase;
    }
    reportStatus(*v.pod, next);
    statuses_[uid] = std::move(next);
  });
  if (!found) {
    probes_->removePod(uid);
    statuses_.erase(uid);
    if (cluster_) {
      cluster_->podGone(uid);
      if (auto* sm = cluster_->statusManager()) sm->forget(uid);
    }
  }
}

void Agent::recordPodStart(const api::Pod& pod, core::WallTime firstSeen) {
  core::WallTime now = loop_.wallNow();
  metrics_->podStartDuration.observe(std::chrono::duration<double>(now - firstSeen).count());
  absl::Time created;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, pod.metadata.creationTimestamp, &created, &err)) {
    // From the API object's creation. Image pulls are not subtracted: the SLI
    // figure equals the total one when images had to be pulled.
    double seconds = absl::ToDoubleSeconds(absl::FromChrono(now) - created);
    metrics_->podStartTotalDuration.with({}).observe(seconds);
    metrics_->podStartSliDuration.with({}).observe(seconds);
  }
}

nlohmann::json Agent::podList() const {
  nlohmann::json items = nlohmann::json::array();
  workers_->forEachPod([&](const pods::PodView& v) {
    if (!v.pod) return;
    const api::Pod& p = *v.pod;
    nlohmann::json containers = nlohmann::json::array();
    for (const auto& c : p.spec.containers)
      containers.push_back({{"name", c.name}, {"image", c.image}});
    nlohmann::json inits = nlohmann::json::array();
    for (const auto& c : p.spec.initContainers)
      inits.push_back({{"name", c.name}, {"image", c.image}});
    nlohmann::json item = {{"metadata",
                            {{"name", p.metadata.name},
                             {"namespace", p.metadata.namespace_},
                             {"uid", p.metadata.uid},
                             {"labels", p.metadata.labels},
                             {"annotations", p.metadata.annotations}}},
                           {"spec",
                            {{"nodeName", p.spec.nodeName},
                             {"restartPolicy", p.spec.restartPolicy},
                             {"hostNetwork", p.spec.hostNetwork},
                             {"initContainers", inits},
                             {"containers", containers}}}};
    auto st = statuses_.find(p.metadata.uid);
    if (st != statuses_.end()) item["status"] = api::toJson(st->second);
    items.push_back(std::move(item));
  });
  return {{"kind", "PodList"},
          {"apiVersion", "v1"},
          {"metadata", nlohmann::json::object()},
          {"items", items}};
}

}  // namespace agent

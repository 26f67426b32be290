#include "agent/cluster/cluster_connection.h"
#include "agent/volumes/volume_plans.h"

#include <filesystem>

#include "agent/api/pod_decode.h"
#include "agent/kubeapi/kubeconfig.h"
#include "agent/node/machine_info.h"
#include "agent/runtime/pull_secrets.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/platform.h"
#include "core/status.h"

namespace agent::cluster {

absl::StatusOr<ApiPod> decodeApiPod(const nlohmann::json& j) {
  ASSIGN_OR_RETURN(api::Pod pod, api::decodePod(j));
  api::applyPodDefaults(pod);
  ApiPod out;
  ASSIGN_OR_RETURN(out.state, status::decodeApiPodState(j));
  out.isMirror = mirror::isMirrorPod(pod.metadata.annotations);
  out.pod = std::make_shared<const api::Pod>(std::move(pod));
  return out;
}

absl::StatusOr<NodeObject> decodeNodeObject(const nlohmann::json& j) {
  NodeObject n;
  std::string podCIDR;
  core::JsonField root(j);
  RETURN_IF_ERROR(core::decodeObject(root, "metadata", n.metadata));
  RETURN_IF_ERROR(root["spec"].expectObject());
  RETURN_IF_ERROR(core::decodeObject(root["spec"], "podCIDR", podCIDR, "podCIDRs", n.podCIDRs));
  if (n.podCIDRs.empty() && !podCIDR.empty()) n.podCIDRs = {podCIDR};
  return n;
}

ClusterConnection::ClusterConnection(const config::AgentConfig& cfg, core::EventLoop& loop,
                                     core::WorkerPool& pool, std::string nodeIP, Hooks hooks)
    : cfg_(cfg), loop_(loop), pool_(pool), nodeIP_(std::move(nodeIP)), hooks_(std::move(hooks)) {}

ClusterConnection::~ClusterConnection() {
  *alive_ = false;
  if (certs_) certs_->stop();
  // Users of the client go before it.
  pods_.reset();
  services_.reset();
  runtimeClasses_.reset();
  nodeObject_.reset();
  configMaps_.reset();
  secrets_.reset();
  recorder_.reset();
  mirrors_.reset();
  status_.reset();
  lease_.reset();
  node_.reset();
}

absl::StatusOr<std::unique_ptr<ClusterConnection>> ClusterConnection::create(
    const config::AgentConfig& cfg, core::EventLoop& loop, core::WorkerPool& pool,
    std::string nodeIP, std::string kubeletVersion, Hooks hooks) {
  std::unique_ptr<ClusterConnection> c(
      new ClusterConnection(cfg, loop, pool, std::move(nodeIP), std::move(hooks)));
  c->kubeletVersion_ = std::move(kubeletVersion);
  // Ephemeral-storage capacity is the root dir's filesystem: it must exist first.
  RETURN_IF_ERROR(core::mkdirAll(cfg.rootDir, 0750));
  node::MachineInfoOptions mo;
  mo.rootDir = cfg.rootDir;
  ASSIGN_OR_RETURN(c->machine_, node::readMachineInfo(mo));
  kubeapi::CertificateManagerOptions co;
  co.nodeName = cfg.nodeName;
  co.kubeconfigPath = cfg.kubeconfig;
  co.bootstrapKubeconfigPath = cfg.bootstrapKubeconfig;
  co.certDir = cfg.certDir;
  c->certs_ = std::make_unique<kubeapi::CertificateManager>(loop, pool, co);
  bool haveKubeconfig = std::filesystem::exists(cfg.kubeconfig);
  if (!haveKubeconfig && cfg.bootstrapKubeconfig.empty()) {
    return absl::NotFoundError(absl::StrCat("--kubeconfig ", cfg.kubeconfig,
                                            ": no such file, and no --bootstrap-kubeconfig"));
  }
  if (haveKubeconfig && cfg.bootstrapKubeconfig.empty()) {
    // Fail at start-up on a broken kubeconfig rather than later on the loop.
    RETURN_IF_ERROR(kubeapi::loadKubeconfig(cfg.kubeconfig).status());
  }
  return c;
}

void ClusterConnection::start() {
  if (!cfg_.bootstrapKubeconfig.empty() && !certs_->kubeconfigStillValid()) {
    LOG_INFO << "No valid client certificate in " << cfg_.kubeconfig << "; bootstrapping one with "
             << cfg_.bootstrapKubeconfig;
    auto bootKc = kubeapi::loadKubeconfig(cfg_.bootstrapKubeconfig);
    if (!bootKc.ok()) {
      LOG_ERROR << "bootstrap kubeconfig: " << bootKc.status().message()
                << "; cubelet runs static pods only";
      return;
    }
    kubeapi::CurlApiClientOptions opts;
    opts.qps = cfg_.kubeAPIQPS;
    opts.burst = cfg_.kubeAPIBurst;
    auto client = kubeapi::CurlApiClient::create(loop_, std::move(*bootKc), opts);
    if (!client.ok()) {
      LOG_ERROR << "bootstrap client: " << client.status().message();
      return;
    }
    bootstrapClient_ = std::move(*client);
    auto alive = alive_;
    certs_->bootstrap(*bootstrapClient_, [this, alive](absl::Status s) {
      if (!*alive) return;
      if (!s.ok()) {
        LOG_ERROR << "TLS bootstrap: " << s.message() << "; cubelet runs static pods only";
        return;
      }
      loop_.post([this, alive] {
        if (!*alive) return;
        bootstrapClient_.reset();
        if (absl::Status st = connect(); !st.ok()) LOG_ERROR << st.message();
      });
    });
    return;
  }
  if (absl::Status st = connect(); !st.ok()) LOG_ERROR << st.message();
}

absl::Status ClusterConnection::connect() {
  ASSIGN_OR_RETURN(kubeapi::Kubeconfig kc, kubeapi::loadKubeconfig(cfg_.kubeconfig));
  kubeapi::CurlApiClientOptions opts;
  opts.qps = cfg_.kubeAPIQPS;
  opts.burst = cfg_.kubeAPIBurst;
  ASSIGN_OR_RETURN(client_, kubeapi::CurlApiClient::create(loop_, kc, opts));
  LOG_INFO << "Connecting to " << kc.server << " as " << client_->identity();
  if (cfg_.rotateCertificates || !cfg_.bootstrapKubeconfig.empty()) {
    absl::Status s = certs_->startRotation(*client_, [this] {
      auto fresh = kubeapi::loadKubeconfig(cfg_.kubeconfig);
      if (!fresh.ok()) {
        LOG_WARNING << "after certificate rotation: " << fresh.status().message();
        return;
      }
      if (absl::Status st = client_->reloadCredentials(*fresh); !st.ok()) {
        LOG_WARNING << "after certificate rotation: " << st.message();
      }
    });
    if (!s.ok()) {
      VLOG(1) << "client certificate rotation off: " << s.message();
    }
  }

  node::NodeStatusManagerOptions no;
  no.config = node::nodeConfigFacts(cfg_, nodeIP_, kubeletVersion_);
  no.machine = machine_;
  no.registerNode = cfg_.registerNode;
  no.updateFrequency = std::chrono::duration_cast<core::Duration>(cfg_.nodeStatusUpdateFrequency);
  no.reportFrequency = std::chrono::duration_cast<core::Duration>(cfg_.nodeStatusReportFrequency);
  node_ = std::make_unique<node::NodeStatusManager>(loop_, *client_, no, hooks_.runtimeFacts);
  if (hooks_.extraNodeErrors) node_->setExtraErrorsSource(hooks_.extraNodeErrors);
  if (hooks_.pressure) node_->setPressureSource(hooks_.pressure);

  node::NodeLeaseOptions lo;
  lo.nodeName = cfg_.nodeName;
  lo.leaseDurationSeconds = cfg_.nodeLeaseDurationSeconds;
  lease_ = std::make_unique<node::NodeLease>(loop_, *client_, lo);

  status_ = std::make_unique<status::StatusManager>(loop_, *client_);
  mirror::MirrorOptions mo;
  mo.nodeName = cfg_.nodeName;
  mirrors_ = std::make_unique<mirror::MirrorPodManager>(loop_, *client_, mo);
  if (hooks_.mirrorChanged) mirrors_->setOnMirrorChanged(hooks_.mirrorChanged);
  events::RecorderOptions ro;
  ro.nodeName = cfg_.nodeName;
  recorder_ = std::make_unique<events::ApiEventRecorder>(loop_, *client_, ro);

  node_->onNodeUid([this](const std::string& uid) {
    lease_->setNodeUid(uid);
    mirrors_->setNodeUid(uid);
  });
  node_->start();
  lease_->start();
  startWatches();
  return absl::OkStatus();
}

void ClusterConnection::startWatches() {
  kubeapi::ReflectorConfig pc;
  pc.collectionPath = "/api/v1/pods";
  pc.fieldSelector = "spec.nodeName=" + cfg_.nodeName;
  kubeapi::Informer<ApiPod>::Handlers ph;
  ph.onAdd = [this](const auto& p) { onPodEvent(nullptr, p); };
  ph.onUpdate = [this](const auto& o, const auto& n) { onPodEvent(o, n); };
  ph.onDelete = [this](const auto& p) { onPodEvent(p, nullptr); };
  ph.onSynced = [this] {
    std::vector<mirror::MirrorPodInfo> mirrors;
    pods_->forEach([&](const std::string&, const std::shared_ptr<const ApiPod>& p) {
      if (!p->isMirror) return;
      const auto& md = p->pod->metadata;
      mirrors.push_back({md.namespace_, md.name, md.uid, md.annotations, md.deletionTimestamp});
    });
    mirrors_->setMirrorPods(std::move(mirrors));
    if (hooks_.podsChanged) hooks_.podsChanged();
  };
  pods_ = std::make_unique<kubeapi::Informer<ApiPod>>(loop_, *client_, pc, decodeApiPod, ph);

  kubeapi::ReflectorConfig sc;
  sc.collectionPath = "/api/v1/services";
  kubeapi::Informer<api::Service>::Handlers sh;
  auto servicesChanged = [this](const auto&...) {
    if (hooks_.objectChanged) hooks_.objectChanged("", "");
  };
  sh.onAdd = servicesChanged;
  sh.onUpdate = servicesChanged;
  sh.onDelete = servicesChanged;
  sh.onSynced = [servicesChanged] { servicesChanged(); };
  services_ = std::make_unique<kubeapi::Informer<api::Service>>(loop_, *client_, sc,
                                                                api::decodeService, sh);

  // Cluster-wide, as the kubelet's runtimeclass informer; a change re-syncs the pods
  // waiting for one (a missing RuntimeClass keeps the sandbox from being created).
  kubeapi::ReflectorConfig rc;
  rc.collectionPath = "/apis/node.k8s.io/v1/runtimeclasses";
  kubeapi::Informer<api::RuntimeClass>::Handlers rh;
  rh.onAdd = servicesChanged;
  rh.onUpdate = servicesChanged;
  rh.onDelete = servicesChanged;
  runtimeClasses_ = std::make_unique<kubeapi::Informer<api::RuntimeClass>>(
      loop_, *client_, rc, api::decodeRuntimeClass, rh);

  auto objectChanged = [this](const std::string& ns, const std::string& name) {
    if (hooks_.objectChanged) hooks_.objectChanged(ns, name);
  };
  configMaps_ = std::make_unique<kubeapi::ObjectWatches<api::ConfigMap>>(
      loop_, *client_, "configmaps", api::decodeConfigMap, objectChanged);
  secrets_ = std::make_unique<kubeapi::ObjectWatches<api::Secret>>(
      loop_, *client_, "secrets", api::decodeSecret, objectChanged);
  // The Node itself, watched by name as the Node authorizer allows: its labels,
  // administrators' included, decide nodeSelector admission.
  kubeapi::ReflectorConfig nc;
  nc.collectionPath = "/api/v1/nodes";
  nc.fieldSelector = "metadata.name=" + cfg_.nodeName;
  // Its spec.podCIDRs are the pod network (kube-controller-manager's node IPAM sets
  // them shortly after registration).
  kubeapi::Informer<NodeObject>::Handlers nh;
  auto nodeSeen = [this](const std::shared_ptr<const NodeObject>& n) {
    if (hooks_.podCidrsChanged && n && !n->podCIDRs.empty()) hooks_.podCidrsChanged(n->podCIDRs);
  };
  nh.onAdd = nodeSeen;
  nh.onUpdate = [nodeSeen](const auto& oldNode, const auto& newNode) {
    if (!oldNode || oldNode->podCIDRs != newNode->podCIDRs) nodeSeen(newNode);
  };
  nodeObject_ =
      std::make_unique<kubeapi::Informer<NodeObject>>(loop_, *client_, nc, decodeNodeObject, nh);
  pods_->start();
  services_->start();
  runtimeClasses_->start();
  nodeObject_->start();
}

void ClusterConnection::onPodEvent(const std::shared_ptr<const ApiPod>& oldPod,
                                   const std::shared_ptr<const ApiPod>& newPod) {
  if (newPod) {
    status_->observeApiPod(newPod->state);
    if (newPod->isMirror) {
      const auto& md = newPod->pod->metadata;
      mirrors_->mirrorPodUpdated(
          {md.namespace_, md.name, md.uid, md.annotations, md.deletionTimestamp});
    }
  } else if (oldPod) {
    status_->observeApiPodDeleted(oldPod->state.uid);
    if (oldPod->isMirror) {
      const auto& md = oldPod->pod->metadata;
      mirrors_->mirrorPodDeleted(md.namespace_, md.name, md.uid);
    }
  }
  // Before the first list is complete the agent waits for onSynced.
  if (pods_ && pods_->hasSynced() && hooks_.podsChanged) hooks_.podsChanged();
}

void ClusterConnection::forEachApiPod(const std::function<void(const ApiPod&)>& fn) const {
  if (!pods_) return;
  pods_->forEach([&](const std::string&, const std::shared_ptr<const ApiPod>& p) { fn(*p); });
}

void ClusterConnection::acquireRefs(const api::Pod& pod) {
  const std::string& uid = pod.metadata.uid;
  if (refs_.count(uid) || !configMaps_) return;
  Refs r;
  r.ns = pod.metadata.namespace_;
  runtime::EnvReferences env = runtime::envReferences(pod);
  r.configMaps = env.configMaps;
  r.secrets = env.secrets;
  volumes::VolumeReferences vols = volumes::volumeReferences(pod);
  r.configMaps.insert(vols.configMaps.begin(), vols.configMaps.end());
  r.secrets.insert(vols.secrets.begin(), vols.secrets.end());
  for (const auto& s : runtime::pullSecretNames(pod)) r.secrets.insert(s);
  for (const auto& n : r.configMaps) configMaps_->acquire(r.ns, n);
  for (const auto& n : r.secrets) secrets_->acquire(r.ns, n);
  refs_.emplace(uid, std::move(r));
}

void ClusterConnection::podGone(const std::string& uid) {
  auto it = refs_.find(uid);
  if (it == refs_.end()) return;
  for (const auto& n : it->second.configMaps) configMaps_->release(it->second.ns, n);
  for (const auto& n : it->second.secrets) secrets_->release(it->second.ns, n);
  refs_.erase(it);
}

runtime::EnvSourcesPtr ClusterConnection::envSources(const api::Pod& pod) {
  auto s = std::make_shared<runtime::EnvSources>();
  if (!connected() || !pods_) return s;
  s->apiAvailable = true;
  acquireRefs(pod);
  const Refs& r = refs_.at(pod.metadata.uid);
  using CmWatches = kubeapi::ObjectWatches<api::ConfigMap>;
  using SecretWatches = kubeapi::ObjectWatches<api::Secret>;
  for (const auto& n : r.configMaps) {
    auto l = configMaps_->lookup(r.ns, n);
    if (l.state == CmWatches::State::kFound) s->configMaps[n] = l.object;
    if (l.state == CmWatches::State::kNotFound) s->configMaps[n] = nullptr;
  }
  for (const auto& n : r.secrets) {
    auto l = secrets_->lookup(r.ns, n);
    if (l.state == SecretWatches::State::kFound) s->secrets[n] = l.object;
    if (l.state == SecretWatches::State::kNotFound) s->secrets[n] = nullptr;
  }
  s->servicesSynced = services_->hasSynced();
  services_->forEach([&](const std::string&, const std::shared_ptr<const api::Service>& svc) {
    const auto& md = svc->metadata;
    if (md.namespace_ == pod.metadata.namespace_ ||
        (md.namespace_ == "default" && md.name == "kubernetes")) {
      s->services.push_back(svc);
    }
  });
  if (auto a = allocatable()) s->nodeAllocatable = a->resources;
  s->hostIPs = {nodeIP_};
  if (pod.spec.runtimeClassName && !pod.spec.runtimeClassName->empty()) {
    s->runtimeClass = runtimeClasses_->get(*pod.spec.runtimeClassName);
  }
  return s;
}

std::optional<pods::NodeAllocatable> ClusterConnection::allocatable() const {
  if (!node_ || !node_->lastStatus()) return std::nullopt;
  pods::NodeAllocatable a;
  for (const auto& [name, amount] : node_->lastStatus()->allocatable) {
    auto q = api::Quantity::parse(amount.str());
    if (q.ok()) a.resources[name] = *q;
  }
  a.maxPods = cfg_.maxPods;
  if (auto n = nodeObject_ ? nodeObject_->get(cfg_.nodeName) : nullptr) {
    a.labels = n->metadata.labels;
    return a;
  }
  // Until the Node is seen: the labels the agent registers it with.
  a.labels = cfg_.nodeLabels;
  a.labels["kubernetes.io/hostname"] =
      machine_.hostname.empty() ? cfg_.nodeName : machine_.hostname;
  a.labels["kubernetes.io/os"] = "linux";
  a.labels["kubernetes.io/arch"] = core::goArch();
  return a;
}

}  // namespace agent::cluster

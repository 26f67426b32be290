#include "agent/volumes/pod_volumes.h"

#include "agent/volumes/volume_plans.h"
#include "core/log.h"

namespace agent::volumes {

namespace {

bool isTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

constexpr char kNoApiServer[] = "cannot fetch it without an API server (static pod)";

}  // namespace

PodVolumes::PodVolumes(core::EventLoop& loop, core::WorkerPool& pool, std::string rootDir,
                       bool clusterMode)
    : loop_(loop), clusterMode_(clusterMode), manager_(loop, pool, {std::move(rootDir)}) {}

PodVolumes::~PodVolumes() = default;

void PodVolumes::setOnReady(std::function<void(const std::string& uid)> cb) {
  manager_.setOnReady(std::move(cb));
}

void PodVolumes::setOnEvent(::volumes::VolumeManager::OnEvent cb) {
  manager_.setOnEvent(std::move(cb));
}

void PodVolumes::update(const std::shared_ptr<const api::Pod>& pod) {
  const std::string& uid = pod->metadata.uid;
  Entry& e = pods_[uid];
  if (e.pod == pod) return;
  e.pod = pod;
  // A pod that already finished is not set up again (after an agent restart).
  if (isTerminalPhase(pod->statusPhase) && !manager_.ready(uid)) e.terminated = true;
  if (!e.terminated) recompute(uid, e);
}

void PodVolumes::refresh(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it != pods_.end() && it->second.pod && !it->second.terminated) recompute(uid, it->second);
}

void PodVolumes::refreshNamespace(const std::string& ns) {
  for (const auto& [uid, e] : pods_) {
    if (e.pod && !e.terminated && (ns.empty() || e.pod->metadata.namespace_ == ns)) {
      recompute(uid, e);
    }
  }
}

void PodVolumes::terminated(const std::string& uid) {
  Entry& e = pods_[uid];
  if (e.terminated) return;
  e.terminated = true;
  if (tokens_) tokens_->forgetPod(uid);
  manager_.removePod(uid, /*removePodDir=*/false);
}

void PodVolumes::gone(const std::string& uid) {
  pods_.erase(uid);
  if (tokens_) tokens_->forgetPod(uid);
  if (claims_) claims_->forgetPod(uid);
  manager_.removePod(uid, /*removePodDir=*/true);
}

::volumes::PodMountsPtr PodVolumes::mountsIfReady(const std::string& uid) const {
  if (!manager_.ready(uid)) return nullptr;
  return manager_.mounts(uid);
}

void PodVolumes::ensureClients() {
  if (tokens_ || !client_) return;
  kubeapi::ApiClient* c = client_();
  if (!c) return;
  auto changed = [this](const std::string& uid) { refresh(uid); };
  tokens_ = std::make_unique<TokenManager>(loop_, *c, changed);
  claims_ = std::make_unique<ClaimResolver>(loop_, *c, changed);
}

void PodVolumes::recompute(const std::string& uid, const Entry& e) {
  const api::Pod& pod = *e.pod;
  ensureClients();
  VolumeInputs in;
  if (sources_) in.sources = sources_(pod);
  VolumeReferences refs = volumeReferences(pod);
  const auto& md = pod.metadata;
  for (const TokenRequestSpec& spec : refs.tokens) {
    if (tokens_) {
      TokenLookup l = tokens_->get(md.namespace_, md.name, uid, spec);
      if (l.ready || !l.error.empty()) in.tokens[spec] = std::move(l);
    } else if (!clusterMode_) {
      in.tokens[spec] =
          TokenLookup{false, "", std::string("failed to fetch token: ") + kNoApiServer};
    }
  }
  for (const std::string& claim : refs.claims) {
    if (claims_) {
      ClaimLookup l = claims_->get(md.namespace_, claim, uid);
      if (l.state != ClaimLookup::State::kPending) in.claims[claim] = std::move(l);
    } else if (!clusterMode_) {
      ClaimLookup l;
      l.state = ClaimLookup::State::kFailed;
      l.error = "persistentVolumeClaim \"" + claim + "\": " + kNoApiServer;
      in.claims[claim] = std::move(l);
    }
  }
  manager_.setPod(uid, volumePlans(pod, in));
}

}  // namespace agent::volumes

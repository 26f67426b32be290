#include "agent/volumes/claim_resolver.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/volumes/token_manager.h"
#include "core/log.h"

namespace agent::volumes {
namespace {

using std::chrono::seconds;

constexpr core::Duration kRetryInitial = seconds(1);
// Short enough that a pod waiting for its claim to be bound starts soon after.
constexpr core::Duration kRetryMax = seconds(30);

std::string processingError(const std::string& ns, const std::string& claim,
                            const std::string& what) {
  return absl::StrCat("error processing PVC ", ns, "/", claim, ": ", what);
}

ClaimLookup failed(std::string error) {
  ClaimLookup out;
  out.state = ClaimLookup::State::kFailed;
  out.error = std::move(error);
  return out;
}

bool sameLookup(const ClaimLookup& a, const ClaimLookup& b) {
  return a.state == b.state && a.pvName == b.pvName && a.path == b.path && a.local == b.local &&
         a.hostPathType == b.hostPathType && a.pvReadOnly == b.pvReadOnly && a.error == b.error;
}

template <typename T>
absl::StatusOr<T> decodeBody(const std::string& body,
                             absl::StatusOr<T> (*decode)(const nlohmann::json&)) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("response is not JSON");
  return decode(j);
}

}  // namespace

std::string claimError(const std::string& ns, const std::string& claim,
                       const api::PersistentVolumeClaim& pvc) {
  // Pods that use a claim being deleted must not start (StorageObjectInUseProtection).
  if (pvc.metadata.deletionTimestamp) return processingError(ns, claim, "PVC is being deleted");
  if (pvc.phase != api::kClaimBound) return processingError(ns, claim, "PVC is not bound");
  if (pvc.volumeName.empty()) {
    return processingError(ns, claim, "PVC has empty pvc.Spec.VolumeName");
  }
  return "";
}

ClaimLookup volumeLookup(const std::string& ns, const std::string& claim,
                         const api::PersistentVolumeClaim& pvc, const api::PersistentVolume& pv) {
  const std::string& name = pvc.volumeName;
  if (!pv.claimRef) {
    return failed(processingError(
        ns, claim,
        absl::StrCat("found PV object ", name,
                     " but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the "
                     "claim")));
  }
  // The kubelet compares UIDs only: a PV pre-bound by name but not yet confirmed by the
  // binder (empty claimRef.uid) is not usable either.
  if (pv.claimRef->uid != pvc.metadata.uid) {
    return failed(processingError(
        ns, claim,
        absl::StrCat("found PV object ", name, " but its pv.Spec.ClaimRef.UID ", pv.claimRef->uid,
                     " does not point to claim.UID ", pvc.metadata.uid)));
  }
  if (pv.volumeMode == api::kVolumeModeBlock) {
    return failed(processingError(
        ns, claim,
        absl::StrCat("PersistentVolume ", name,
                     " has volumeMode Block: cubelet supports only Filesystem volumes")));
  }
  ClaimLookup out;
  out.pvName = name;
  if (pv.local) {
    out.state = ClaimLookup::State::kReady;
    out.local = true;
    out.path = pv.local->path;
    return out;
  }
  if (pv.hostPath) {
    out.state = ClaimLookup::State::kReady;
    out.path = pv.hostPath->path;
    out.hostPathType = pv.hostPath->type.value_or("");
    return out;
  }
  std::string source =
      pv.otherSources.empty() ? "no volume source" : absl::StrJoin(pv.otherSources, ", ");
  out = failed(processingError(
      ns, claim,
      absl::StrCat("PersistentVolume ", name, " uses ", source,
                   ": cubelet supports only local and hostPath PersistentVolumes")));
  out.pvName = name;
  return out;
}

struct ClaimResolver::Entry {
  explicit Entry(std::function<double()> random)
      : backoff(kRetryInitial, kRetryMax, 0.1, std::move(random)) {}

  std::string ns, claim, podUid, key;
  ClaimLookup lookup;
  bool inFlight = false;
  uint64_t seq = 0;      // of the fetch in flight (PVC then PV); older answers are dropped
  core::TimerPtr timer;  // the retry after a failure
  core::ExponentialBackoff backoff;
};

ClaimResolver::ClaimResolver(core::EventLoop& loop, kubeapi::ApiClient& client,
                             std::function<void(const std::string&)> onChange,
                             std::function<double()> random)
    : loop_(loop), client_(client), onChange_(std::move(onChange)), random_(std::move(random)) {}

ClaimResolver::~ClaimResolver() { *alive_ = false; }

ClaimLookup ClaimResolver::get(const std::string& ns, const std::string& claim,
                               const std::string& podUid) {
  std::string key = absl::StrCat(ns, "/", claim);
  PodEntries& entries = pods_[podUid];
  auto it = entries.find(key);
  if (it != entries.end()) return it->second->lookup;
  auto e = std::make_unique<Entry>(random_);
  e->ns = ns;
  e->claim = claim;
  e->podUid = podUid;
  e->key = key;
  Entry* raw = e.get();
  e->timer = loop_.createTimer([this, raw] { fetchClaim(*raw); });
  entries.emplace(key, std::move(e));
  fetchClaim(*raw);
  return raw->lookup;
}

void ClaimResolver::forgetPod(const std::string& podUid) { pods_.erase(podUid); }

size_t ClaimResolver::size() const {
  size_t n = 0;
  for (const auto& [uid, entries] : pods_) n += entries.size();
  return n;
}

ClaimResolver::Entry* ClaimResolver::find(const std::string& podUid, const std::string& key,
                                          uint64_t seq) {
  auto pod = pods_.find(podUid);
  if (pod == pods_.end()) return nullptr;
  auto it = pod->second.find(key);
  if (it == pod->second.end()) return nullptr;
  Entry* e = it->second.get();
  return e->inFlight && e->seq == seq ? e : nullptr;
}

void ClaimResolver::fetchClaim(Entry& e) {
  e.timer->disableTimer();
  e.inFlight = true;
  e.seq = ++nextSeq_;
  kubeapi::Request req;
  req.path = absl::StrCat("/api/v1/namespaces/", e.ns, "/persistentvolumeclaims/", e.claim);
  client_.send(std::move(req), [this, alive = alive_, podUid = e.podUid, key = e.key,
                                seq = e.seq](kubeapi::Response resp) {
    if (*alive) onClaim(podUid, key, seq, resp);
  });
}

void ClaimResolver::onClaim(const std::string& podUid, const std::string& key, uint64_t seq,
                            const kubeapi::Response& resp) {
  Entry* e = find(podUid, key, seq);
  if (e == nullptr) return;
  if (!resp.ok()) {
    return finish(podUid, *e,
                  failed(processingError(e->ns, e->claim,
                                         absl::StrCat("failed to fetch PVC from API server: ",
                                                      apiErrorMessage(resp)))));
  }
  auto pvc = decodeBody(resp.body, &api::decodePersistentVolumeClaim);
  if (!pvc.ok()) {
    return finish(podUid, *e,
                  failed(processingError(e->ns, e->claim,
                                         absl::StrCat("failed to fetch PVC from API server: ",
                                                      std::string(pvc.status().message())))));
  }
  if (std::string error = claimError(e->ns, e->claim, *pvc); !error.empty()) {
    return finish(podUid, *e, failed(std::move(error)));
  }
  kubeapi::Request req;
  req.path = absl::StrCat("/api/v1/persistentvolumes/", pvc->volumeName);
  client_.send(std::move(req), [this, alive = alive_, podUid, key, seq,
                                pvc = std::move(*pvc)](kubeapi::Response resp) {
    if (*alive) onVolume(podUid, key, seq, pvc, resp);
  });
}

void ClaimResolver::onVolume(const std::string& podUid, const std::string& key, uint64_t seq,
                             const api::PersistentVolumeClaim& pvc, const kubeapi::Response& resp) {
  Entry* e = find(podUid, key, seq);
  if (e == nullptr) return;
  auto fetchError = [&](const std::string& message) {
    return failed(processingError(
        e->ns, e->claim,
        absl::StrCat("failed to fetch PV ", pvc.volumeName, " from API server: ", message)));
  };
  if (!resp.ok()) return finish(podUid, *e, fetchError(apiErrorMessage(resp)));
  auto pv = decodeBody(resp.body, &api::decodePersistentVolume);
  if (!pv.ok()) return finish(podUid, *e, fetchError(std::string(pv.status().message())));
  finish(podUid, *e, volumeLookup(e->ns, e->claim, pvc, *pv));
}

void ClaimResolver::finish(const std::string& podUid, Entry& e, ClaimLookup result) {
  e.inFlight = false;
  bool changed = !sameLookup(e.lookup, result);
  e.lookup = std::move(result);
  if (e.lookup.state == ClaimLookup::State::kFailed) {
    core::Duration delay = e.backoff.nextDelay();
    if (changed) LOG_WARNING << e.lookup.error << " (retrying in " << delay.count() << " ms)";
    e.timer->enableTimer(delay);
  } else {
    e.backoff.reset();
    VLOG(2) << "PVC " << e.key << " of pod " << podUid << " resolved to PV " << e.lookup.pvName
            << " at " << e.lookup.path;
  }
  if (changed) onChange_(podUid);  // last: it may call back into get() or forgetPod()
}

}  // namespace agent::volumes

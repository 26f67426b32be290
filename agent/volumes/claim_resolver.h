// Follows a pod's PersistentVolumeClaim to its bound PersistentVolume (the kubelet's
// desired-state-of-world populator: getPVCExtractPV and getPVSpec), by API GETs driven
// by the loop. cubelet mounts only `local` and `hostPath` PersistentVolumes; any other
// source fails with a message saying so. A failed lookup is retried with backoff; a
// ready one is kept for the pod's life, as the kubelet keeps a mounted volume.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/api/storage_objects.h"
#include "agent/kubeapi/api_client.h"
#include "agent/volumes/volume_plans.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::volumes {

// The kubelet's checks, pure (the resolver applies them to what it fetched). Messages
// are the kubelet's, prefixed as its populator does: `error processing PVC ns/name: `.
// "" when the claim can be followed: bound, named volume, not being deleted.
std::string claimError(const std::string& ns, const std::string& claim,
                       const api::PersistentVolumeClaim& pvc);
// The lookup for a bound claim's volume: kReady with the path, or kFailed when the PV
// does not point back at the claim or is neither local nor hostPath.
ClaimLookup volumeLookup(const std::string& ns, const std::string& claim,
                         const api::PersistentVolumeClaim& pvc, const api::PersistentVolume& pv);

class ClaimResolver {
 public:
  // `onChange(podUid)`: a claim of that pod became ready, failed, or failed differently.
  // Runs on the loop.
  ClaimResolver(core::EventLoop& loop, kubeapi::ApiClient& client,
                std::function<void(const std::string& podUid)> onChange,
                std::function<double()> random = nullptr);
  ~ClaimResolver();
  ClaimResolver(const ClaimResolver&) = delete;
  ClaimResolver& operator=(const ClaimResolver&) = delete;

  // GET the PVC, check it is bound and not being deleted, then GET the PV and check it
  // points back at the claim and is local or hostPath. Pending until the first answer;
  // kFailed (re-fetched with backoff) or kReady (kept) after.
  ClaimLookup get(const std::string& ns, const std::string& claim, const std::string& podUid);
  void forgetPod(const std::string& podUid);
  // Claims tracked, over all pods.
  size_t size() const;

 private:
  struct Entry;
  using PodEntries = std::map<std::string, std::unique_ptr<Entry>>;  // by "ns/claim"

  void fetchClaim(Entry& e);
  void onClaim(const std::string& podUid, const std::string& key, uint64_t seq,
               const kubeapi::Response& resp);
  void onVolume(const std::string& podUid, const std::string& key, uint64_t seq,
                const api::PersistentVolumeClaim& pvc, const kubeapi::Response& resp);
  // Records the outcome of a fetch; retries a failure; tells onChange_ what changed.
  void finish(const std::string& podUid, Entry& e, ClaimLookup result);
  Entry* find(const std::string& podUid, const std::string& key, uint64_t seq);

  core::EventLoop& loop_;
  kubeapi::ApiClient& client_;
  std::function<void(const std::string&)> onChange_;
  std::function<double()> random_;
  std::map<std::string, PodEntries> pods_;  // by pod uid
  uint64_t nextSeq_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::volumes

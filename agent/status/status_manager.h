// The status manager: the one writer of pods/status (the kubelet's
// pkg/kubelet/status). The agent hands it every status it computes; the pods
// informer hands it what the API holds. It patches a pod's status only when the
// two differ, one request in flight per pod (a newer status waits, and only the
// latest is sent), retries with backoff, re-reads the pod on a conflict, and,
// once a deleted pod has stopped and its final status is in, deletes the pod
// object. Static pods report through their mirror pods. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "agent/api/pod_status.h"
#include "agent/kubeapi/api_client.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::status {

struct StatusManagerOptions {
  // Retry delays after a failed request (jittered, doubling, capped); the
  // kubelet retries within its 10 s sync period.
  core::Duration retryInitial = std::chrono::milliseconds(500);
  core::Duration retryMax = std::chrono::seconds(10);
  double retryJitter = 0.1;
  std::function<double()> random;  // [0, 1) for the jitter; tests make it fixed
};

// A pod as the agent knows it.
struct PodRef {
  std::string uid;  // the agent's UID; for a static pod its own, not the mirror's
  std::string namespace_;
  std::string name;       // a static pod's mirror pod has the same name and namespace
  bool isStatic = false;  // status goes to the mirror pod (see setMirrorUid)
};

// A pod as the API holds it, from the pods informer (mirror pods included).
struct ApiPodState {
  std::string uid;
  std::string namespace_;
  std::string name;
  std::string resourceVersion;     // orders observations; older ones are ignored
  bool deletionRequested = false;  // metadata.deletionTimestamp is set
  api::PodStatus status;
};

// An ApiPodState from a Pod object's JSON (a watch event's object, a GET answer):
// metadata and status decoded, errors naming the field.
absl::StatusOr<ApiPodState> decodeApiPodState(const nlohmann::json& pod);

class StatusManager {
 public:
  struct Counters {
    uint64_t patches = 0;   // PATCH requests sent
    uint64_t gets = 0;      // GET requests sent (no known API status, or a conflict)
    uint64_t deletes = 0;   // DELETE requests sent
    uint64_t failures = 0;  // requests answered with an error (retried or not)
  };

  StatusManager(core::EventLoop& loop, kubeapi::ApiClient& client,
                StatusManagerOptions options = {});
  ~StatusManager();
  StatusManager(const StatusManager&) = delete;
  StatusManager& operator=(const StatusManager&) = delete;

  // The agent computed `status` for `pod`. Kept fields (see status_merge.h) are
  // carried over from the last status, or from the API's; the result is what
  // knownStatus returns and what is written when it differs from the API's.
  void setPodStatus(const PodRef& pod, api::PodStatus status);

  // The status to compute the next one from (StatusInput::previous): the last
  // one set, else what the API holds for the pod (its mirror pod's, for a static
  // pod whose mirror UID is known). Null when neither is known. Valid until the
  // next call into the manager.
  const api::PodStatus* knownStatus(const std::string& uid) const;
  // What the API holds for the pod (its mirror pod's, for a static pod), with
  // the conditions other writers set (readiness gates). Null when not seen.
  const api::PodStatus* apiStatus(const std::string& uid) const;

  // A static pod's mirror pod has `mirrorUid` ("" when it has none, or it is
  // gone): its status is written there, with that UID as the precondition.
  // Nothing is written for a static pod before its mirror UID is known.
  void setMirrorUid(const std::string& staticUid, const std::string& mirrorUid);

  // The informer saw `pod` (added or updated). A status that differs from the
  // agent's is written again (the agent is the source of truth for its pods).
  void observeApiPod(ApiPodState pod);
  // The informer saw the pod with this UID deleted: nothing more is written to it.
  void observeApiPodDeleted(const std::string& uid);

  // Every container of the pod has stopped for good (the pod worker finished
  // terminating it). A phase that is not terminal yet becomes Failed, as the
  // kubelet's TerminatePod does. If the API pod has a deletionTimestamp and is
  // not a mirror pod, it is deleted (grace 0, UID precondition) once its final
  // status is in the API and no request is in flight; then onPodDeleted runs.
  void markTerminated(const std::string& uid);

  // Runs with the agent UID of a pod this manager deleted from the API (or found
  // already gone while deleting it).
  void setOnPodDeleted(std::function<void(const std::string& uid)> cb) {
    onPodDeleted_ = std::move(cb);
  }

  // The agent is done with the pod: drops everything about `uid` (an agent UID or
  // an API UID). An answer still in flight is ignored.
  void forget(const std::string& uid);

  const Counters& counters() const { return counters_; }

 private:
  struct Entry;
  struct ApiView {
    std::string namespace_;
    std::string name;
    std::string resourceVersion;
    bool deletionRequested = false;
    api::PodStatus status;
  };

  // The API UID the entry's status goes to ("" when there is none yet).
  std::string apiUidOf(const Entry& e) const;
  Entry* entryForApiUid(const std::string& apiUid);
  void sync(Entry& e);
  void sendGet(Entry& e, const std::string& apiUid);
  void sendPatch(Entry& e, const std::string& apiUid, std::string body, api::PodStatus sent);
  void sendDelete(Entry& e, const std::string& apiUid);
  void retryLater(Entry& e);
  // The API object the entry writes to is gone (404, or another UID now holds its name).
  void apiObjectGone(Entry& e, const std::string& apiUid);
  // Runs `fn` on the entry with `uid` if it is still the one with `id`.
  template <typename Fn>
  std::function<void(kubeapi::Response)> onAnswer(const Entry& e, Fn fn);

  core::EventLoop& loop_;
  kubeapi::ApiClient& client_;
  StatusManagerOptions options_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> pods_;  // by agent UID
  std::unordered_map<std::string, ApiView> api_;                  // by API UID
  std::unordered_map<std::string, std::string> mirrorOf_;         // static UID -> mirror UID
  std::unordered_map<std::string, std::string> staticOf_;         // mirror UID -> static UID
  std::function<void(const std::string&)> onPodDeleted_;
  Counters counters_;
  uint64_t nextId_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::status

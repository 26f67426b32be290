// Mirror pods: the API server's view of the agent's static pods (kubelet
// pkg/kubelet/pod/mirror_client.go and the mirror handling of syncPod and
// HandlePodCleanups). For every static pod the agent runs there is a pod of the
// same namespace/name in the API, made from the static pod's manifest, annotated
// kubernetes.io/config.mirror=<config.hash>, owned by the Node (NodeRestriction
// admits a node's mirror pod only with that owner reference) and bound to the node.
//
// The manager reconciles what the agent runs (setStaticPods), what the API holds
// (the mirror pods the agent's pods informer sees) and a periodic resync:
//  - no mirror pod                         -> create it;
//  - a mirror of another config.hash, or one being deleted
//                                          -> delete it (grace 0, uid precondition),
//                                             then create it anew once it is gone;
//  - a mirror pod without a static pod     -> delete it (grace 0, uid precondition),
//                                             once the static pods are known;
//  - create answered AlreadyExists         -> wait for the informer to show it.
// Nothing is sent before the Node's UID is known (after registration) and the
// informer's first list is in (setMirrorPods). At most one request per pod is in
// flight; failures are retried with jittered backoff.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "agent/kubeapi/api_client.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::mirror {

// Whether a pod from the API is a mirror pod (has kubernetes.io/config.mirror).
bool isMirrorPod(const std::map<std::string, std::string>& annotations);

struct StaticPodEntry {
  // The static pod as the agent runs it (name "<name>-<node>", namespace, the
  // kubernetes.io/config.hash/.source/.seen annotations).
  std::shared_ptr<const api::Pod> pod;
  // The static pod's manifest as compact JSON text: the mirror pod's body.
  std::shared_ptr<const std::string> manifestJson;
};

// A mirror pod as the pods informer sees it.
struct MirrorPodInfo {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::map<std::string, std::string> annotations;
  std::optional<std::string> deletionTimestamp;
};

struct MirrorOptions {
  std::string nodeName;
  core::Duration resyncInterval = std::chrono::seconds(60);
  core::Duration backoffInitial = std::chrono::seconds(1);
  core::Duration backoffMax = std::chrono::seconds(60);
  core::Duration requestTimeout = std::chrono::seconds(30);
  // Values in [0, 1) for the backoff jitter; a seeded generator by default.
  std::function<double()> random;
};

class MirrorPodManager {
 public:
  // Called when the UID of the mirror pod that matches a static pod changes
  // (a new mirror, or none: `uid` empty). The status manager resends the pod's
  // status to a new mirror.
  using MirrorChanged = std::function<void(const std::string& namespace_, const std::string& name,
                                           const std::string& uid)>;

  MirrorPodManager(core::EventLoop& loop, kubeapi::ApiClient& client, MirrorOptions opts);
  ~MirrorPodManager();
  MirrorPodManager(const MirrorPodManager&) = delete;
  MirrorPodManager& operator=(const MirrorPodManager&) = delete;

  // The Node's metadata.uid, once registered. Nothing is sent before, nor after
  // it is set back to "" (the Node is being deleted: no new mirror pods).
  void setNodeUid(std::string uid);

  // The whole set of static pods the agent runs (including ones still
  // terminating: their mirror stays until they are gone). Until the first call,
  // no mirror pod counts as orphaned.
  void setStaticPods(std::vector<StaticPodEntry> pods);

  // From the pods informer: the whole list after a (re)list, then each change.
  // Pods without the mirror annotation are ignored. Nothing is sent before the
  // first list, so that existing mirror pods are not created twice.
  void setMirrorPods(std::vector<MirrorPodInfo> pods);
  void mirrorPodUpdated(MirrorPodInfo pod);
  void mirrorPodDeleted(const std::string& namespace_, const std::string& name,
                        const std::string& uid);

  // The UID of the API's mirror pod of static pod namespace/name, when there is
  // one that matches the static pod's config.hash and is not being deleted.
  std::optional<std::string> mirrorUid(const std::string& namespace_,
                                       const std::string& name) const;

  void setOnMirrorChanged(MirrorChanged cb) { onMirrorChanged_ = std::move(cb); }

  // Reconciles every pod now (the periodic resync does this too).
  void resync();

 private:
  struct Observed {
    std::string uid;
    std::string hash;  // Its kubernetes.io/config.mirror.
    bool deleting = false;
  };
  struct Entry {
    std::string namespace_;
    std::string name;
    std::shared_ptr<const api::Pod> pod;  // Null: no static pod.
    std::shared_ptr<const std::string> manifestJson;
    std::string hash;  // The static pod's kubernetes.io/config.hash.
    std::optional<Observed> mirror;
    bool awaitingInformer = false;  // Create said AlreadyExists / delete left it in place.
    bool inFlight = false;
    std::optional<core::MonoTime> retryAt;
    std::unique_ptr<core::ExponentialBackoff> backoff;
    std::string reportedUid;
  };

  Entry& entryFor(const std::string& ns, const std::string& name);
  void sync(const std::string& key);
  void syncAll();
  void create(const std::string& key, Entry& e);
  void remove(const std::string& key, Entry& e, const std::string& uid);
  void onCreated(const std::string& key, const std::string& hash, const kubeapi::Request& req,
                 const kubeapi::Response& resp);
  void onDeleted(const std::string& key, const std::string& uid, const kubeapi::Request& req,
                 const kubeapi::Response& resp);
  void backOff(Entry& e);
  void armRetryTimer();
  void onRetryTimer();
  void notify(Entry& e);
  static std::string currentUid(const Entry& e);

  core::EventLoop& loop_;
  kubeapi::ApiClient& client_;
  MirrorOptions opts_;
  std::string nodeUid_;
  bool staticKnown_ = false;
  bool mirrorsKnown_ = false;
  std::map<std::string, Entry> entries_;  // By "namespace/name".
  // Mirror pods this manager deleted; stale informer updates about them are ignored.
  std::set<std::string> deletedUids_;
  core::TimerPtr retryTimer_;
  core::TimerPtr resyncTimer_;
  MirrorChanged onMirrorChanged_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The mirror pod's body for `pod` (see the file comment), for tests and logs.
absl::StatusOr<std::string> mirrorPodJson(const api::Pod& pod, const std::string& manifestJson,
                                          const std::string& nodeName, const std::string& nodeUid);

}  // namespace agent::mirror

#include "agent/status/status_manager.h"

#include <charconv>

#include "agent/api/pod_decode.h"
#include "agent/status/pod_status_compute.h"
#include "agent/status/status_merge.h"
#include "agent/status/status_patch.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::status {
namespace {

std::string podPath(const std::string& ns, const std::string& name) {
  return "/api/v1/namespaces/" + ns + "/pods/" + name;
}

std::optional<uint64_t> parseRv(const std::string& rv) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
  if (ec != std::errc() || end != rv.data() + rv.size() || rv.empty()) return std::nullopt;
  return v;
}

// resourceVersions are opaque to clients, but the API server's are etcd
// revisions: when both parse, a smaller one is an older object (a watch event
// that lags behind a PATCH answer).
bool olderThan(const std::string& rv, const std::string& known) {
  auto a = parseRv(rv);
  auto b = parseRv(known);
  return a && b && *a < *b;
}

}  // namespace

absl::StatusOr<ApiPodState> decodeApiPodState(const nlohmann::json& pod) {
  core::JsonField f(pod);
  RETURN_IF_ERROR(f.expectObject());
  api::ObjectMeta meta;
  RETURN_IF_ERROR(f["metadata"].get(meta));
  ApiPodState out;
  RETURN_IF_ERROR(f["status"].get(out.status));
  out.uid = meta.uid;
  out.namespace_ = meta.namespace_;
  out.name = meta.name;
  out.resourceVersion = meta.resourceVersion;
  out.deletionRequested = meta.deletionTimestamp.has_value();
  return out;
}

struct StatusManager::Entry {
  Entry(uint64_t id, const StatusManagerOptions& o)
      : id(id), backoff(o.retryInitial, o.retryMax, o.retryJitter, o.random) {}

  uint64_t id;
  PodRef ref;
  std::optional<api::PodStatus> status;  // the latest the agent set, after the kept fields
  bool terminated = false;               // markTerminated
  bool inFlight = false;
  bool gone = false;  // the API object is gone (or deleted by us): nothing more to write
  int conflicts = 0;  // 409s in a row
  core::TimerPtr retry;
  core::ExponentialBackoff backoff;
};

StatusManager::StatusManager(core::EventLoop& loop, kubeapi::ApiClient& client,
                             StatusManagerOptions options)
    : loop_(loop), client_(client), options_(std::move(options)) {}

StatusManager::~StatusManager() { *alive_ = false; }

template <typename Fn>
std::function<void(kubeapi::Response)> StatusManager::onAnswer(const Entry& e, Fn fn) {
  std::weak_ptr<bool> alive = alive_;
  return [this, alive, uid = e.ref.uid, id = e.id, fn = std::move(fn)](kubeapi::Response r) {
    auto a = alive.lock();
    if (!a || !*a) return;
    auto it = pods_.find(uid);
    if (it == pods_.end() || it->second->id != id) return;  // forgotten meanwhile
    it->second->inFlight = false;
    fn(*it->second, r);
  };
}

std::string StatusManager::apiUidOf(const Entry& e) const {
  if (!e.ref.isStatic) return e.ref.uid;
  auto it = mirrorOf_.find(e.ref.uid);
  return it == mirrorOf_.end() ? "" : it->second;
}

StatusManager::Entry* StatusManager::entryForApiUid(const std::string& apiUid) {
  std::string uid = apiUid;
  if (auto s = staticOf_.find(apiUid); s != staticOf_.end()) uid = s->second;
  auto it = pods_.find(uid);
  if (it == pods_.end() || apiUidOf(*it->second) != apiUid) return nullptr;
  return it->second.get();
}

void StatusManager::setPodStatus(const PodRef& pod, api::PodStatus status) {
  auto& slot = pods_[pod.uid];
  if (!slot) slot = std::make_unique<Entry>(nextId_++, options_);
  Entry& e = *slot;
  e.ref = pod;
  const api::PodStatus* old = e.status ? &*e.status : nullptr;
  if (!old) {
    auto v = api_.find(apiUidOf(e));
    if (v != api_.end()) old = &v->second.status;
  }
  std::string now = rfc3339(loop_.wallNow());
  preserveAndNormalize(old, status, now);
  if (e.terminated && !e.ref.isStatic) forceTerminalPhase(status, now);
  e.status = std::move(status);
  sync(e);
}

const api::PodStatus* StatusManager::knownStatus(const std::string& uid) const {
  if (auto it = pods_.find(uid); it != pods_.end() && it->second->status) {
    return &*it->second->status;
  }
  return apiStatus(uid);
}

const api::PodStatus* StatusManager::apiStatus(const std::string& uid) const {
  if (auto v = api_.find(uid); v != api_.end()) return &v->second.status;
  if (auto m = mirrorOf_.find(uid); m != mirrorOf_.end() && !m->second.empty()) {
    if (auto v = api_.find(m->second); v != api_.end()) return &v->second.status;
  }
  return nullptr;
}

void StatusManager::setMirrorUid(const std::string& staticUid, const std::string& mirrorUid) {
  auto old = mirrorOf_.find(staticUid);
  if (old != mirrorOf_.end()) {
    if (old->second == mirrorUid) return;
    staticOf_.erase(old->second);
  }
  mirrorOf_[staticUid] = mirrorUid;
  if (!mirrorUid.empty()) staticOf_[mirrorUid] = staticUid;
  if (auto it = pods_.find(staticUid); it != pods_.end()) sync(*it->second);
}

void StatusManager::observeApiPod(ApiPodState pod) {
  auto it = api_.find(pod.uid);
  if (it != api_.end() && olderThan(pod.resourceVersion, it->second.resourceVersion)) {
    VLOG(4) << "Ignoring stale status of pod " << pod.namespace_ << "/" << pod.name
            << " at resourceVersion " << pod.resourceVersion;
    it->second.deletionRequested = it->second.deletionRequested || pod.deletionRequested;
  } else {
    api_[pod.uid] = ApiView{pod.namespace_, pod.name, pod.resourceVersion, pod.deletionRequested,
                            std::move(pod.status)};
  }
  if (Entry* e = entryForApiUid(pod.uid)) sync(*e);
}

void StatusManager::observeApiPodDeleted(const std::string& uid) {
  api_.erase(uid);
  if (auto s = staticOf_.find(uid); s != staticOf_.end()) {
    mirrorOf_[s->second] = "";
    staticOf_.erase(s);
    return;
  }
  auto it = pods_.find(uid);
  if (it != pods_.end() && !it->second->ref.isStatic) {
    it->second->gone = true;
    it->second->retry.reset();
  }
}

void StatusManager::markTerminated(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) {
    LOG_WARNING << "Pod " << uid << " terminated before any status was set for it";
    return;
  }
  Entry& e = *it->second;
  e.terminated = true;
  if (e.status && !e.ref.isStatic) forceTerminalPhase(*e.status, rfc3339(loop_.wallNow()));
  sync(e);
}

void StatusManager::forget(const std::string& uid) {
  pods_.erase(uid);
  api_.erase(uid);
  if (auto m = mirrorOf_.find(uid); m != mirrorOf_.end()) {
    staticOf_.erase(m->second);
    mirrorOf_.erase(m);
  }
  if (auto s = staticOf_.find(uid); s != staticOf_.end()) {
    mirrorOf_[s->second] = "";
    staticOf_.erase(s);
  }
}

void StatusManager::sync(Entry& e) {
  if (e.gone || e.inFlight || (e.retry && e.retry->enabled())) return;
  std::string apiUid = apiUidOf(e);
  if (apiUid.empty()) return;  // a static pod without a mirror pod (yet)
  auto v = api_.find(apiUid);
  if (v == api_.end()) {
    // Nothing to diff against: read the pod, as the kubelet does before every patch.
    if (e.status) sendGet(e, apiUid);
    return;
  }
  const ApiView& view = v->second;
  if (e.status) {
    preserveFromApi(view.status, *e.status, rfc3339(loop_.wallNow()));
    api::PodStatus merged = mergeWithApiStatus(view.status, *e.status);
    if (auto body = podStatusPatch(apiUid, view.status, merged)) {
      sendPatch(e, apiUid, std::move(*body), std::move(merged));
      return;
    }
  }
  // The final status is in: a deleted pod that has stopped goes from the API.
  // Mirror pods are the mirror pod manager's to delete.
  if (e.terminated && view.deletionRequested && !e.ref.isStatic) sendDelete(e, apiUid);
}

void StatusManager::retryLater(Entry& e) {
  if (!e.retry) {
    Entry* ep = &e;  // the timer dies with the entry
    e.retry = loop_.createTimer([this, ep] { sync(*ep); });
  }
  e.retry->enableTimer(e.backoff.nextDelay());
}

void StatusManager::apiObjectGone(Entry& e, const std::string& apiUid) {
  bool deleting = false;
  if (auto v = api_.find(apiUid); v != api_.end()) deleting = v->second.deletionRequested;
  api_.erase(apiUid);
  if (e.ref.isStatic) {
    // The mirror pod went away; the mirror pod manager makes a new one.
    auto m = mirrorOf_.find(e.ref.uid);
    if (m != mirrorOf_.end() && m->second == apiUid) m->second.clear();
    staticOf_.erase(apiUid);
    return;
  }
  VLOG(3) << "Pod " << e.ref.namespace_ << "/" << e.ref.name << " (" << apiUid
          << ") does not exist on the server";
  e.gone = true;
  if (deleting && e.terminated && onPodDeleted_) {
    std::string uid = e.ref.uid;
    onPodDeleted_(uid);  // may forget the entry: nothing touches it after this
  }
}

void StatusManager::sendGet(Entry& e, const std::string& apiUid) {
  kubeapi::Request req;
  req.method = "GET";
  req.path = podPath(e.ref.namespace_, e.ref.name);
  e.inFlight = true;
  ++counters_.gets;
  auto done = [this, apiUid, req](Entry& e, const kubeapi::Response& r) {
    if (e.gone || apiUidOf(e) != apiUid) {
      sync(e);  // deleted, or a new mirror pod meanwhile: this answer is history
      return;
    }
    if (r.code == 404) {
      apiObjectGone(e, apiUid);
      return;
    }
    if (!r.ok()) {
      ++counters_.failures;
      LOG_WARNING << "Failed to get status for pod " << e.ref.namespace_ << "/" << e.ref.name
                  << ": " << r.describe(req);
      retryLater(e);
      return;
    }
    auto pod = decodeApiPodState(nlohmann::json::parse(r.body, nullptr, false));
    if (!pod.ok()) {
      ++counters_.failures;
      LOG_WARNING << "Pod " << e.ref.namespace_ << "/" << e.ref.name
                  << " from the API: " << pod.status().message();
      retryLater(e);
      return;
    }
    if (pod->uid != apiUid) {
      // Another pod holds the name now: the one this status was for is gone.
      VLOG(2) << "Pod " << e.ref.namespace_ << "/" << e.ref.name
              << " was deleted and then recreated, skipping status update";
      apiObjectGone(e, apiUid);
      return;
    }
    api_[apiUid] = ApiView{pod->namespace_, pod->name, pod->resourceVersion, pod->deletionRequested,
                           std::move(pod->status)};
    sync(e);
  };
  client_.send(req, onAnswer(e, std::move(done)));
}

void StatusManager::sendPatch(Entry& e, const std::string& apiUid, std::string body,
                              api::PodStatus sent) {
  kubeapi::Request req;
  req.method = "PATCH";
  req.path = podPath(e.ref.namespace_, e.ref.name) + "/status";
  req.contentType = kubeapi::kStrategicMergePatch;
  req.body = std::move(body);
  VLOG(3) << "Patch status for pod " << e.ref.namespace_ << "/" << e.ref.name << ": " << req.body;
  e.inFlight = true;
  ++counters_.patches;
  auto done = [this, apiUid, req, sent = std::move(sent)](Entry& e, const kubeapi::Response& r) {
    if (e.gone || apiUidOf(e) != apiUid) {
      sync(e);  // deleted, or a new mirror pod meanwhile: this answer is history
      return;
    }
    if (r.ok()) {
      e.backoff.reset();
      e.conflicts = 0;
      // The answer is the pod as it is now; without a usable one, assume the patch
      // did what it says.
      auto pod = decodeApiPodState(nlohmann::json::parse(r.body, nullptr, false));
      ApiView& view = api_[apiUid];
      if (pod.ok() && pod->uid == apiUid) {
        view = ApiView{pod->namespace_, pod->name, pod->resourceVersion, pod->deletionRequested,
                       std::move(pod->status)};
      } else {
        view.namespace_ = e.ref.namespace_;
        view.name = e.ref.name;
        view.status = sent;
      }
      sync(e);
      return;
    }
    ++counters_.failures;
    if (r.code == 404) {
      apiObjectGone(e, apiUid);
      return;
    }
    LOG_WARNING << "Failed to update status for pod " << e.ref.namespace_ << "/" << e.ref.name
                << ": " << r.describe(req);
    if (r.code == 409) {
      // The UID precondition failed or the pod changed under us: read it again.
      api_.erase(apiUid);
      if (e.conflicts++ == 0) {
        sendGet(e, apiUid);
        return;
      }
    }
    retryLater(e);
  };
  client_.send(req, onAnswer(e, std::move(done)));
}

void StatusManager::sendDelete(Entry& e, const std::string& apiUid) {
  kubeapi::Request req;
  req.method = "DELETE";
  req.path = podPath(e.ref.namespace_, e.ref.name);
  req.contentType = kubeapi::kJson;
  req.body = nlohmann::json{{"kind", "DeleteOptions"},
                            {"apiVersion", "v1"},
                            {"gracePeriodSeconds", 0},
                            {"preconditions", {{"uid", apiUid}}}}
                 .dump();
  e.inFlight = true;
  ++counters_.deletes;
  auto done = [this, apiUid, req](Entry& e, const kubeapi::Response& r) {
    if (e.gone) return;
    // 404: already gone; 409: the UID precondition failed, so the pod with this
    // UID is gone too and another holds the name.
    if (!r.ok() && r.code != 404 && r.code != 409) {
      ++counters_.failures;
      LOG_WARNING << "Failed to delete pod " << e.ref.namespace_ << "/" << e.ref.name << ": "
                  << r.describe(req);
      retryLater(e);
      return;
    }
    LOG_INFO << "Pod " << e.ref.namespace_ << "/" << e.ref.name
             << " fully terminated and removed from the API";
    api_.erase(apiUid);
    e.gone = true;
    e.retry.reset();
    if (onPodDeleted_) {
      std::string uid = e.ref.uid;
      onPodDeleted_(uid);  // may forget the entry: nothing touches it after this
    }
  };
  client_.send(req, onAnswer(e, std::move(done)));
}

}  // namespace agent::status

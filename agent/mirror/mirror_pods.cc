#include "agent/mirror/mirror_pods.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "agent/sources/static_pods.h"
#include "core/log.h"
#include "nlohmann/json.hpp"

namespace agent::mirror {
namespace {

using sources::kConfigHashAnnotation;
using sources::kConfigMirrorAnnotation;

std::string keyOf(const std::string& ns, const std::string& name) {
  return absl::StrCat(ns, "/", name);
}

std::string statusReason(const kubeapi::Response& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) {
    return j["reason"].get<std::string>();
  }
  return "";
}

std::string annotation(const std::map<std::string, std::string>& a, std::string_view key) {
  auto it = a.find(std::string(key));
  return it == a.end() ? std::string() : it->second;
}

}  // namespace

bool isMirrorPod(const std::map<std::string, std::string>& annotations) {
  return annotations.count(std::string(kConfigMirrorAnnotation)) > 0;
}

absl::StatusOr<std::string> mirrorPodJson(const api::Pod& pod, const std::string& manifestJson,
                                          const std::string& nodeName, const std::string& nodeUid) {
  const std::string what = absl::StrCat("mirror pod ", pod.metadata.namespace_, "/",
                                        pod.metadata.name, ": manifest JSON");
  nlohmann::json m = nlohmann::json::parse(manifestJson, nullptr, false);
  if (!m.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON object"));
  if (m.contains("spec") && !m["spec"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": spec: not an object"));
  }
  if (!m.contains("metadata") || !m["metadata"].is_object()) {
    m["metadata"] = nlohmann::json::object();
  }
  nlohmann::json& md = m["metadata"];
  // What the API server assigns or the manifest cannot meaningfully carry.
  for (const char* field :
       {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "generation", "generateName", "managedFields", "selfLink"}) {
    md.erase(field);
  }
  m["apiVersion"] = "v1";
  m["kind"] = "Pod";
  md["name"] = pod.metadata.name;
  md["namespace"] = pod.metadata.namespace_;
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [k, v] : pod.metadata.annotations) annotations[k] = v;
  annotations[std::string(kConfigMirrorAnnotation)] =
      annotation(pod.metadata.annotations, kConfigHashAnnotation);
  md["annotations"] = std::move(annotations);
  md["ownerReferences"] = nlohmann::json::array({{{"apiVersion", "v1"},
                                                  {"kind", "Node"},
                                                  {"name", nodeName},
                                                  {"uid", nodeUid},
                                                  {"controller", true}}});
  m["spec"]["nodeName"] = nodeName;
  m.erase("status");
  return m.dump();
}

MirrorPodManager::MirrorPodManager(core::EventLoop& loop, kubeapi::ApiClient& client,
                                   MirrorOptions opts)
    : loop_(loop), client_(client), opts_(std::move(opts)) {
  if (!opts_.random) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    opts_.random = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  retryTimer_ = loop_.createTimer([this] { onRetryTimer(); });
  resyncTimer_ = loop_.createTimer([this] {
    resync();
    resyncTimer_->enableTimer(opts_.resyncInterval);
  });
  resyncTimer_->enableTimer(opts_.resyncInterval);
}

MirrorPodManager::~MirrorPodManager() { *alive_ = false; }

MirrorPodManager::Entry& MirrorPodManager::entryFor(const std::string& ns,
                                                    const std::string& name) {
  auto [it, inserted] = entries_.try_emplace(keyOf(ns, name));
  if (inserted) {
    it->second.namespace_ = ns;
    it->second.name = name;
    it->second.backoff = std::make_unique<core::ExponentialBackoff>(
        opts_.backoffInitial, opts_.backoffMax, 0.2, opts_.random);
  }
  return it->second;
}

void MirrorPodManager::setNodeUid(std::string uid) {
  if (uid == nodeUid_) return;
  nodeUid_ = std::move(uid);
  syncAll();
}

void MirrorPodManager::setStaticPods(std::vector<StaticPodEntry> pods) {
  staticKnown_ = true;
  std::set<std::string> present;
  for (StaticPodEntry& sp : pods) {
    if (!sp.pod) continue;
    const api::ObjectMeta& md = sp.pod->metadata;
    Entry& e = entryFor(md.namespace_, md.name);
    e.hash = annotation(md.annotations, kConfigHashAnnotation);
    e.pod = std::move(sp.pod);
    e.manifestJson = std::move(sp.manifestJson);
    present.insert(keyOf(e.namespace_, e.name));
  }
  for (auto& [key, e] : entries_) {
    if (!present.count(key)) {
      e.pod.reset();
      e.manifestJson.reset();
      e.hash.clear();
    }
  }
  syncAll();
}

void MirrorPodManager::setMirrorPods(std::vector<MirrorPodInfo> pods) {
  // A fresh list is the truth: forget what earlier deletes told us.
  mirrorsKnown_ = true;
  deletedUids_.clear();
  std::map<std::string, Observed> seen;
  for (MirrorPodInfo& p : pods) {
    if (!isMirrorPod(p.annotations)) continue;
    entryFor(p.namespace_, p.name);
    seen[keyOf(p.namespace_, p.name)] = Observed{
        p.uid, annotation(p.annotations, kConfigMirrorAnnotation), p.deletionTimestamp.has_value()};
  }
  for (auto& [key, e] : entries_) {
    auto it = seen.find(key);
    if (it == seen.end()) {
      e.mirror.reset();
    } else {
      e.mirror = it->second;
    }
    e.awaitingInformer = false;
  }
  syncAll();
}

void MirrorPodManager::mirrorPodUpdated(MirrorPodInfo p) {
  if (deletedUids_.count(p.uid)) return;  // A late update about a pod deleted already.
  std::string key = keyOf(p.namespace_, p.name);
  if (!isMirrorPod(p.annotations)) {
    // Not (or no longer) a mirror pod: not ours to manage.
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.mirror && it->second.mirror->uid == p.uid) {
      it->second.mirror.reset();
      sync(key);
    }
    return;
  }
  Entry& e = entryFor(p.namespace_, p.name);
  e.mirror = Observed{p.uid, annotation(p.annotations, kConfigMirrorAnnotation),
                      p.deletionTimestamp.has_value()};
  e.awaitingInformer = false;
  sync(key);
}

void MirrorPodManager::mirrorPodDeleted(const std::string& ns, const std::string& name,
                                        const std::string& uid) {
  deletedUids_.erase(uid);
  std::string key = keyOf(ns, name);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.mirror && e.mirror->uid == uid) e.mirror.reset();
  e.awaitingInformer = false;
  sync(key);
}

std::optional<std::string> MirrorPodManager::mirrorUid(const std::string& ns,
                                                       const std::string& name) const {
  auto it = entries_.find(keyOf(ns, name));
  if (it == entries_.end()) return std::nullopt;
  std::string uid = currentUid(it->second);
  if (uid.empty()) return std::nullopt;
  return uid;
}

std::string MirrorPodManager::currentUid(const Entry& e) {
  if (!e.pod || !e.mirror || e.mirror->deleting || e.mirror->hash != e.hash) return "";
  return e.mirror->uid;
}

void MirrorPodManager::resync() {
  // Whatever we were waiting for the informer to show, ask the API again.
  for (auto& [key, e] : entries_) e.awaitingInformer = false;
  syncAll();
}

void MirrorPodManager::syncAll() {
  std::vector<std::string> keys;
  keys.reserve(entries_.size());
  for (const auto& [key, e] : entries_) keys.push_back(key);
  for (const std::string& key : keys) sync(key);
}

void MirrorPodManager::notify(Entry& e) {
  std::string uid = currentUid(e);
  if (uid == e.reportedUid) return;
  e.reportedUid = uid;
  if (onMirrorChanged_) onMirrorChanged_(e.namespace_, e.name, uid);
}

void MirrorPodManager::sync(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (!e.pod && !e.mirror && !e.inFlight) {
    std::string ns = e.namespace_, name = e.name, reported = e.reportedUid;
    entries_.erase(it);
    if (!reported.empty() && onMirrorChanged_) onMirrorChanged_(ns, name, "");
    return;
  }
  bool ready = !nodeUid_.empty() && mirrorsKnown_ && !e.inFlight &&
               !(e.retryAt && loop_.monotonicNow() < *e.retryAt);
  if (!ready) {
    notify(e);  // Last: the listener may call back into the manager.
    return;
  }
  e.retryAt.reset();
  if (e.pod) {
    if (e.mirror) {
      if (e.mirror->deleting || e.mirror->hash != e.hash) {
        // Semantically different from the static pod: replace it.
        remove(key, e, e.mirror->uid);
      }
    } else if (!e.awaitingInformer) {
      create(key, e);
    }
  } else if (e.mirror && staticKnown_) {
    remove(key, e, e.mirror->uid);
  }
  notify(e);
}

void MirrorPodManager::create(const std::string& key, Entry& e) {
  if (!e.manifestJson) {
    LOG_ERROR << "Failed creating a mirror pod for " << key << ": no manifest JSON";
    backOff(e);
    return;
  }
  absl::StatusOr<std::string> body =
      mirrorPodJson(*e.pod, *e.manifestJson, opts_.nodeName, nodeUid_);
  if (!body.ok()) {
    LOG_ERROR << "Failed creating a mirror pod for " << key << ": " << body.status().message();
    backOff(e);
    return;
  }
  kubeapi::Request req;
  req.method = "POST";
  req.path = absl::StrCat("/api/v1/namespaces/", e.namespace_, "/pods");
  req.body = std::move(*body);
  req.timeout = opts_.requestTimeout;
  VLOG(4) << "Creating a mirror pod for static pod " << key;
  e.inFlight = true;
  std::shared_ptr<bool> alive = alive_;
  client_.send(req, [this, alive, key, hash = e.hash, req](kubeapi::Response resp) {
    if (*alive) onCreated(key, hash, req, resp);
  });
}

void MirrorPodManager::onCreated(const std::string& key, const std::string& hash,
                                 const kubeapi::Request& req, const kubeapi::Response& resp) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.inFlight = false;
  if (resp.ok()) {
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    std::string uid;
    if (j.is_object() && j.contains("metadata") && j["metadata"].is_object() &&
        j["metadata"].contains("uid") && j["metadata"]["uid"].is_string()) {
      uid = j["metadata"]["uid"].get<std::string>();
    }
    e.backoff->reset();
    if (uid.empty()) {
      // Cannot tell which pod it is: let the informer show it.
      e.awaitingInformer = true;
    } else if (!deletedUids_.count(uid)) {
      e.mirror = Observed{uid, hash, false};
    }
    VLOG(2) << "Created mirror pod " << key << " uid " << uid;
  } else if (resp.transport.ok() && resp.code == 409 && statusReason(resp) == "AlreadyExists") {
    // Ours from before (the informer has not caught up) or a leftover: once the
    // informer shows it, it is kept or replaced.
    VLOG(2) << "Mirror pod " << key << " already exists; waiting for the informer";
    e.backoff->reset();
    e.awaitingInformer = true;
  } else {
    LOG_ERROR << "Failed creating a mirror pod for " << key << ": " << resp.describe(req);
    backOff(e);
  }
  sync(key);
}

void MirrorPodManager::remove(const std::string& key, Entry& e, const std::string& uid) {
  kubeapi::Request req;
  req.method = "DELETE";
  req.path = absl::StrCat("/api/v1/namespaces/", e.namespace_, "/pods/", e.name);
  req.body = nlohmann::json{{"kind", "DeleteOptions"},
                            {"apiVersion", "v1"},
                            {"gracePeriodSeconds", 0},
                            {"preconditions", {{"uid", uid}}}}
                 .dump();
  req.timeout = opts_.requestTimeout;
  VLOG(2) << "Deleting a mirror pod " << key << " uid " << uid;
  e.inFlight = true;
  std::shared_ptr<bool> alive = alive_;
  client_.send(req, [this, alive, key, uid, req](kubeapi::Response resp) {
    if (*alive) onDeleted(key, uid, req, resp);
  });
}

void MirrorPodManager::onDeleted(const std::string& key, const std::string& uid,
                                 const kubeapi::Request& req, const kubeapi::Response& resp) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.inFlight = false;
  // 404: gone already; 409: the uid precondition failed, so that pod is gone and
  // another holds the name (the informer will show it).
  bool gone = resp.ok() || (resp.transport.ok() && (resp.code == 404 || resp.code == 409));
  if (!gone) {
    LOG_ERROR << "Failed deleting a mirror pod " << key << ": " << resp.describe(req);
    backOff(e);
    sync(key);
    return;
  }
  e.backoff->reset();
  deletedUids_.insert(uid);
  if (e.mirror && e.mirror->uid == uid) e.mirror.reset();
  if (resp.ok()) {
    // With grace 0 the pod is gone at once, unless finalizers keep it: then
    // create again only once the informer shows it gone.
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    if (j.is_object() && j.contains("metadata") && j["metadata"].is_object() &&
        j["metadata"].contains("finalizers") && j["metadata"]["finalizers"].is_array() &&
        !j["metadata"]["finalizers"].empty()) {
      e.awaitingInformer = true;
    }
  } else if (resp.code == 409) {
    e.awaitingInformer = true;
  }
  sync(key);
}

void MirrorPodManager::backOff(Entry& e) {
  e.retryAt = loop_.monotonicNow() + e.backoff->nextDelay();
  armRetryTimer();
}

void MirrorPodManager::armRetryTimer() {
  std::optional<core::MonoTime> earliest;
  for (const auto& [key, e] : entries_) {
    if (e.retryAt && (!earliest || *e.retryAt < *earliest)) earliest = e.retryAt;
  }
  if (!earliest) {
    retryTimer_->disableTimer();
    return;
  }
  core::MonoTime now = loop_.monotonicNow();
  core::Duration after =
      *earliest > now ? std::chrono::ceil<core::Duration>(*earliest - now) : core::Duration(0);
  retryTimer_->enableTimer(after);
}

void MirrorPodManager::onRetryTimer() {
  core::MonoTime now = loop_.monotonicNow();
  std::vector<std::string> due;
  for (auto& [key, e] : entries_) {
    if (e.retryAt && *e.retryAt <= now) {
      e.retryAt.reset();
      due.push_back(key);
    }
  }
  for (const std::string& key : due) sync(key);
  armRetryTimer();
}

}  // namespace agent::mirror

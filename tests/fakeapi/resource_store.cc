#include "tests/fakeapi/resource_store.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "core/status.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/service_account_admission.h"

namespace cubelet::fakeapi {

using nlohmann::json;

namespace {

json& metaOf(json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  return obj["metadata"];
}

std::string str(const json& obj, const char* field) {
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// The etcd key upstream would report in a StorageError.
std::string registryKey(const ResourceInfo& r, const std::string& ns, const std::string& name) {
  std::string res = r.resource;
  if (r.group.empty() && r.resource == "nodes") res = "minions";
  if (r.group.empty() && r.resource == "services") res = "services/specs";
  return "/registry/" + res + "/" + (ns.empty() ? "" : ns + "/") + name;
}

absl::Status preconditionFailed(const ResourceInfo& r, const std::string& ns,
                                const std::string& name, const std::string& what) {
  return conflict(r, name,
                  "StorageError: invalid object, Code: 4, Key: " + registryKey(r, ns, name) +
                      ", ResourceVersion: 0, AdditionalErrorMsg: " + what);
}

absl::Status checkUidPrecondition(const ResourceInfo& r, const json& current,
                                  const std::string& uid) {
  const json& meta = current["metadata"];
  const std::string have = str(meta, "uid");
  if (uid.empty() || uid == have) return absl::OkStatus();
  return preconditionFailed(
      r, str(meta, "namespace"), str(meta, "name"),
      "Precondition failed: UID in precondition: " + uid + ", UID in object meta: " + have);
}

json stripRv(json obj) {
  metaOf(obj).erase("resourceVersion");
  return obj;
}

}  // namespace

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ResourceStore::ResourceStore(size_t historyLimit)
    : historyLimit_(std::max<size_t>(historyLimit, 1)), rng_(std::random_device{}()) {}

ResourceStore::~ResourceStore() { closeWatches(); }

std::string ResourceStore::prefix(const ResourceInfo& r) {
  return r.group + "/" + r.resource + "/";
}

std::string ResourceStore::key(const ResourceInfo& r, const std::string& ns,
                               const std::string& name) {
  return prefix(r) + ns + "/" + name;
}

std::string ResourceStore::newUid() {
  uint64_t a = rng_(), b = rng_();
  a = (a & ~0xF000ULL) | 0x4000ULL;                  // version 4
  b = (b & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                         b >> 48, b & 0xFFFFFFFFFFFFULL);
}

std::string ResourceStore::randomSuffix() {
  // k8s.io/apimachinery/pkg/util/rand.String: no vowels, no confusable characters.
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += kAlphabet[rng_() % (sizeof(kAlphabet) - 1)];
  return s;
}

absl::StatusOr<json> ResourceStore::create(const ResourceInfo& r, const std::string& ns, json obj,
                                           const WriteContext& ctx) {
  if (!obj.is_object()) return badRequest("the body of the request is not a JSON object");
  if (!str(obj, "kind").empty() && str(obj, "kind") != r.kind) {
    return badRequest("the API version in the data (" + str(obj, "apiVersion") +
                      ") does not match the expected API version (" + r.apiVersion() + ")");
  }
  obj["kind"] = r.kind;
  obj["apiVersion"] = r.apiVersion();
  json& meta = metaOf(obj);
  if (r.namespaced) {
    if (!str(meta, "namespace").empty() && str(meta, "namespace") != ns) {
      return badRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  for (const char* f : {"resourceVersion", "uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "selfLink", "generation"}) {
    meta.erase(f);
  }
  std::lock_guard lock(mu_);
  if (r.namespaced) {
    const ResourceInfo& nsInfo = *findResource("", "v1", "namespaces");
    const std::string nsKey = key(nsInfo, "", ns);
    if (!objects_.count(nsKey)) {
      if (!ctx.autoCreateNamespace) return notFound(nsInfo, ns);
      json nsObj = {{"kind", "Namespace"},
                    {"apiVersion", "v1"},
                    {"metadata",
                     {{"name", ns},
                      {"uid", newUid()},
                      {"creationTimestamp", rfc3339(std::chrono::system_clock::now())}}},
                    {"spec", {{"finalizers", {"kubernetes"}}}},
                    {"status", {{"phase", "Active"}}}};
      commitLocked(nsInfo, nsKey, std::move(nsObj), "ADDED", nullptr);
      publishNamespaceDefaultsLocked(ns);
    }
  }
  // Admission before the registry names and stores the object, as upstream.
  if (serviceAccounts_ && r.group.empty() && r.resource == "pods") {
    const ResourceInfo& sas = *findResource("", "v1", "serviceaccounts");
    ServiceAccountAdmissionEnv saEnv;
    saEnv.getServiceAccount = [&](const std::string& sa) -> const json* {
      auto it = objects_.find(key(sas, ns, sa));
      return it == objects_.end() ? nullptr : &it->second;
    };
    saEnv.randomSuffix = [this] { return randomSuffix(); };
    RETURN_IF_ERROR(admitServiceAccount(ns, obj, saEnv));
  }
  if (str(meta, "name").empty()) {
    if (str(meta, "generateName").empty()) {
      return invalid(r, "", "metadata.name: Required value: name or generateName is required");
    }
    meta["name"] = str(meta, "generateName") + randomSuffix();
  }
  const std::string name = str(meta, "name");
  const std::string k = key(r, r.namespaced ? ns : "", name);
  if (objects_.count(k)) return alreadyExists(r, name);
  WriteEnv env = ctx.env;
  env.allocateClusterIP = [this] { return "10.96.0." + std::to_string(nextServiceIp_++ % 250); };
  RETURN_IF_ERROR(prepareForCreate(r, obj, env));
  json& m = metaOf(obj);
  m["uid"] = newUid();
  m["creationTimestamp"] = rfc3339(std::chrono::system_clock::now());
  if (ctx.admit) RETURN_IF_ERROR(ctx.admit(nullptr, &obj));
  json created = commitLocked(r, k, std::move(obj), "ADDED", nullptr);
  if (r.group.empty() && r.resource == "namespaces") publishNamespaceDefaultsLocked(name);
  return created;
}

void ResourceStore::enableServiceAccounts(std::string caPem) {
  std::lock_guard lock(mu_);
  serviceAccounts_ = true;
  rootCaPem_ = std::move(caPem);
}

void ResourceStore::publishNamespaceDefaultsLocked(const std::string& ns) {
  if (!serviceAccounts_) return;
  for (json obj : namespaceDefaultObjects(ns, rootCaPem_)) {
    const ResourceInfo& r =
        *findResource("", "v1", obj["kind"] == "ServiceAccount" ? "serviceaccounts" : "configmaps");
    const std::string k = key(r, ns, obj["metadata"]["name"].get<std::string>());
    if (objects_.count(k)) continue;
    obj["metadata"]["uid"] = newUid();
    obj["metadata"]["creationTimestamp"] = rfc3339(std::chrono::system_clock::now());
    commitLocked(r, k, std::move(obj), "ADDED", nullptr);
  }
}

absl::StatusOr<json> ResourceStore::get(const ResourceInfo& r, const std::string& ns,
                                        const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(r, r.namespaced ? ns : "", name));
  if (it == objects_.end()) return notFound(r, name);
  return it->second;
}

absl::StatusOr<ListResult> ResourceStore::list(const ResourceInfo& r, const Selection& sel,
                                               int64_t limit,
                                               const std::string& continueToken) const {
  std::lock_guard lock(mu_);
  ListResult out;
  out.resourceVersion = rv_;
  std::string start = prefix(r) + (sel.ns.empty() ? "" : sel.ns + "/");
  const std::string end = start;
  if (!continueToken.empty()) {
    std::string raw;
    json tok;
    if (absl::Base64Unescape(continueToken, &raw)) tok = json::parse(raw, nullptr, false);
    if (!tok.is_object() || !tok.contains("rv") || !tok.contains("start")) {
      return badRequest(
          "continue key is not valid: incorrect encoded start resourceVersion (version "
          "meta.k8s.io/v1)");
    }
    out.resourceVersion = tok["rv"].get<int64_t>();
    start = tok["start"].get<std::string>();
  }
  for (auto it = objects_.lower_bound(start); it != objects_.end(); ++it) {
    if (it->first.compare(0, end.size(), end) != 0) break;
    if (!sel.matches(it->second)) continue;
    if (limit > 0 && static_cast<int64_t>(out.items.size()) >= limit) {
      ++out.remaining;
      if (out.continueToken.empty()) {
        out.continueToken = absl::Base64Escape(json{
            {"v", "meta.k8s.io/v1"},
            {"rv", out.resourceVersion},
            {"start", it->first}}.dump());
      }
      continue;
    }
    out.items.push_back(it->second);
  }
  return out;
}

absl::StatusOr<json> ResourceStore::update(const ResourceInfo& r, const std::string& ns,
                                           const std::string& name, const std::string& subresource,
                                           json obj, const WriteContext& ctx) {
  std::lock_guard lock(mu_);
  if (subresource == "token") return methodNotAllowed("PUT");
  return updateLocked(r, key(r, r.namespaced ? ns : "", name), subresource, std::move(obj), ctx);
}

absl::StatusOr<json> ResourceStore::patch(const ResourceInfo& r, const std::string& ns,
                                          const std::string& name, const std::string& subresource,
                                          const Mutation& mutate, const WriteContext& ctx) {
  std::lock_guard lock(mu_);
  if (subresource == "token") return methodNotAllowed("PATCH");
  const std::string k = key(r, r.namespaced ? ns : "", name);
  auto it = objects_.find(k);
  if (it == objects_.end()) return notFound(r, name);
  ASSIGN_OR_RETURN(json next, mutate(it->second));
  return updateLocked(r, k, subresource, std::move(next), ctx);
}

absl::StatusOr<json> ResourceStore::updateLocked(const ResourceInfo& r, const std::string& k,
                                                 const std::string& subresource, json obj,
                                                 const WriteContext& ctx) {
  auto it = objects_.find(k);
  const std::string urlName = k.substr(k.rfind('/') + 1);
  if (it == objects_.end()) return notFound(r, urlName);
  const json& cur = it->second;
  const json& curMeta = cur["metadata"];
  if (!obj.is_object()) return badRequest("the body of the request is not a JSON object");
  if (!str(obj, "kind").empty() && str(obj, "kind") != r.kind) {
    return badRequest("the kind of the object (" + str(obj, "kind") +
                      ") does not match the kind of the resource (" + r.kind + ")");
  }
  json& meta = metaOf(obj);
  if (!str(meta, "name").empty() && str(meta, "name") != urlName) {
    return badRequest("the name of the object (" + str(meta, "name") +
                      ") does not match the name on the URL (" + urlName + ")");
  }
  if (r.namespaced && !str(meta, "namespace").empty() &&
      str(meta, "namespace") != str(curMeta, "namespace")) {
    return badRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  }
  // The object's own UID is a precondition (rest.defaultUpdatedObjectInfo.Preconditions).
  RETURN_IF_ERROR(checkUidPrecondition(r, cur, str(meta, "uid")));
  const std::string rv = str(meta, "resourceVersion");
  if (!rv.empty() && rv != str(curMeta, "resourceVersion")) {
    int64_t parsed = 0;
    if (!absl::SimpleAtoi(rv, &parsed)) {
      return invalid(r, urlName,
                     "metadata.resourceVersion: Invalid value: \"" + rv +
                         "\": must be specified for an update");
    }
    return modifiedConflict(r, urlName);
  }
  prepareForUpdate(r, subresource, obj, cur);
  RETURN_IF_ERROR(validateUpdate(r, subresource, urlName, obj, cur));
  json& m = metaOf(obj);
  // System fields an update cannot change (rest.BeforeUpdate).
  for (const char* f :
       {"name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp"}) {
    if (curMeta.contains(f)) {
      m[f] = curMeta[f];
    } else {
      m.erase(f);
    }
  }
  if (curMeta.contains("deletionGracePeriodSeconds") && !m.contains("deletionGracePeriodSeconds")) {
    m["deletionGracePeriodSeconds"] = curMeta["deletionGracePeriodSeconds"];
  }
  obj["kind"] = r.kind;
  obj["apiVersion"] = r.apiVersion();
  // A write that changes nothing is not a write: no new resourceVersion, no event.
  if (stripRv(obj) == stripRv(cur)) return cur;
  if (ctx.admit) RETURN_IF_ERROR(ctx.admit(&cur, &obj));
  const json prev = cur;
  return commitLocked(r, k, std::move(obj), "MODIFIED", &prev);
}

absl::StatusOr<DeleteResult> ResourceStore::remove(const ResourceInfo& r, const std::string& ns,
                                                   const std::string& name,
                                                   const DeleteOptions& opts,
                                                   const WriteContext& ctx) {
  std::lock_guard lock(mu_);
  const std::string k = key(r, r.namespaced ? ns : "", name);
  auto it = objects_.find(k);
  if (it == objects_.end()) return notFound(r, name);
  json cur = it->second;
  if (opts.uid) RETURN_IF_ERROR(checkUidPrecondition(r, cur, *opts.uid));
  const std::string haveRv = str(cur["metadata"], "resourceVersion");
  if (opts.resourceVersion && *opts.resourceVersion != haveRv) {
    return preconditionFailed(
        r, r.namespaced ? ns : "", name,
        "Precondition failed: ResourceVersion in precondition: " + *opts.resourceVersion +
            ", ResourceVersion in object meta: " + haveRv);
  }
  if (ctx.admit) RETURN_IF_ERROR(ctx.admit(&cur, nullptr));
  auto answer = [&](const json& obj, bool removed) {
    DeleteResult res{obj, removed};
    if (!returnsDeletedObject(r)) {
      const json& m = obj["metadata"];
      json details = {{"name", str(m, "name")}, {"kind", r.resource}, {"uid", str(m, "uid")}};
      if (!r.group.empty()) details["group"] = r.group;
      res.body = {{"kind", "Status"},
                  {"apiVersion", "v1"},
                  {"metadata", json::object()},
                  {"status", "Success"},
                  {"details", details}};
    }
    return res;
  };
  // Graceful deletion (rest.BeforeDelete): the object stays with a deletionTimestamp
  // until a delete with grace 0 (the kubelet's, once the pod's containers are gone).
  std::optional<int64_t> grace = gracefulDeletePeriod(r, cur, opts.gracePeriodSeconds);
  if (grace) {
    json next = cur;
    json& m = next["metadata"];
    const auto now = std::chrono::system_clock::now();
    bool write = true;
    if (m.contains("deletionTimestamp")) {
      if (!m.contains("deletionGracePeriodSeconds")) {
        write = false;
        *grace = 0;
      } else {
        const int64_t existing = m["deletionGracePeriodSeconds"].get<int64_t>();
        if (!opts.gracePeriodSeconds || *opts.gracePeriodSeconds >= existing) {
          return answer(cur, false);  // pending; only a shorter grace period changes it
        }
        *grace = *opts.gracePeriodSeconds;
        // Same start, shorter period: now - (existing - requested) relative to the old stamp.
        std::tm tm{};
        const std::string ts = str(m, "deletionTimestamp");
        strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
        auto old = std::chrono::system_clock::from_time_t(timegm(&tm));
        m["deletionTimestamp"] = rfc3339(old - std::chrono::seconds(existing - *grace));
        m["deletionGracePeriodSeconds"] = *grace;
      }
    } else {
      m["deletionTimestamp"] = rfc3339(now + std::chrono::seconds(*grace));
      m["deletionGracePeriodSeconds"] = *grace;
      if (m.value("generation", int64_t{0}) > 0)
        m["generation"] = m["generation"].get<int64_t>() + 1;
    }
    if (write) {
      json updated = commitLocked(r, k, std::move(next), "MODIFIED", &cur);
      if (*grace > 0) return answer(updated, false);
      cur = std::move(updated);
    }
  }
  removeLocked(r, k);
  return answer(cur, true);
}

json ResourceStore::commitLocked(const ResourceInfo& r, const std::string& k, json obj,
                                 const std::string& type, const json* prev) {
  ++rv_;
  metaOf(obj)["resourceVersion"] = std::to_string(rv_);
  objects_[k] = obj;
  emitLocked(Event{rv_, type, &r, obj, prev ? *prev : json()});
  return obj;
}

void ResourceStore::removeLocked(const ResourceInfo& r, const std::string& k) {
  auto it = objects_.find(k);
  json last = std::move(it->second);
  objects_.erase(it);
  ++rv_;
  json deleted = last;
  metaOf(deleted)["resourceVersion"] = std::to_string(rv_);
  emitLocked(Event{rv_, "DELETED", &r, std::move(deleted), std::move(last)});
}

void ResourceStore::emitLocked(Event ev) {
  for (const auto& w : watchers_) {
    std::vector<std::string> lines;
    deliverLocked(*w, ev, lines);
    for (auto& l : lines) w->push(std::move(l));
  }
  history_.push_back(std::move(ev));
  while (history_.size() > historyLimit_) {
    compactedRv_ = history_.front().rv;
    history_.pop_front();
  }
  changed_.notify_all();
}

void ResourceStore::deliverLocked(const Watcher& w, const Event& ev,
                                  std::vector<std::string>& out) const {
  if (ev.info != &w.info()) return;
  // The cacher's view through a selector: an object that starts matching is ADDED,
  // one that stops matching is DELETED (with its previous content at the event's RV).
  const bool curPasses = ev.type != "DELETED" && w.selection().matches(ev.object);
  const bool oldPasses = !ev.prev.is_null() && w.selection().matches(ev.prev);
  if (curPasses && oldPasses) {
    out.push_back(encodeWatchEvent("MODIFIED", ev.object));
  } else if (curPasses) {
    out.push_back(encodeWatchEvent("ADDED", ev.object));
  } else if (oldPasses) {
    json old = ev.prev;
    old["metadata"]["resourceVersion"] = std::to_string(ev.rv);
    out.push_back(encodeWatchEvent("DELETED", old));
  }
}

absl::StatusOr<WatcherPtr> ResourceStore::watch(const ResourceInfo& r, Selection sel,
                                                const std::string& since) {
  int64_t from = 0;
  if (!since.empty() && (!absl::SimpleAtoi(since, &from) || from < 0)) {
    return badRequest("invalid resource version: " + since);
  }
  auto w = std::make_shared<Watcher>(r, std::move(sel));
  std::lock_guard lock(mu_);
  if (from == 0) {
    const std::string p = prefix(r);
    for (auto it = objects_.lower_bound(p); it != objects_.end(); ++it) {
      if (it->first.compare(0, p.size(), p) != 0) break;
      if (w->selection().matches(it->second)) w->push(encodeWatchEvent("ADDED", it->second));
    }
  } else if (from < compactedRv_) {
    json status = statusObject(expired("too old resource version: " + std::to_string(from) + " (" +
                                       std::to_string(compactedRv_) + ")"));
    w->close(encodeWatchEvent("ERROR", status));
    return w;
  } else {
    for (const auto& ev : history_) {
      if (ev.rv <= from) continue;
      std::vector<std::string> lines;
      deliverLocked(*w, ev, lines);
      for (auto& l : lines) w->push(std::move(l));
    }
  }
  watchers_.push_back(w);
  return w;
}

void ResourceStore::unwatch(const WatcherPtr& w) {
  w->close();
  std::lock_guard lock(mu_);
  watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), w), watchers_.end());
}

void ResourceStore::bookmark(const WatcherPtr& w) {
  std::lock_guard lock(mu_);
  json obj = {{"kind", w->info().kind},
              {"apiVersion", w->info().apiVersion()},
              {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
  w->push(encodeWatchEvent("BOOKMARK", obj));
}

void ResourceStore::compactHistory() {
  std::lock_guard lock(mu_);
  history_.clear();
  compactedRv_ = rv_;
}

void ResourceStore::closeWatches() {
  std::vector<WatcherPtr> ws;
  {
    std::lock_guard lock(mu_);
    ws.swap(watchers_);
  }
  for (const auto& w : ws) w->close();
}

int64_t ResourceStore::currentResourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

void ResourceStore::waitForWrite(int64_t afterRv,
                                 std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  changed_.wait_until(lock, deadline, [&] { return rv_ > afterRv; });
}

bool ResourceStore::nodeReferences(const std::string& node, const std::string& resource,
                                   const std::string& ns, const std::string& name) const {
  const ResourceInfo& pods = *findResource("", "v1", "pods");
  std::lock_guard lock(mu_);
  if (resource == "persistentvolumes") {
    // The graph's pv -> pvc -> pod edges: a PV bound (spec.volumeName) to a claim
    // that a pod on the node uses, in any namespace.
    const ResourceInfo& pvcs = *findResource("", "v1", "persistentvolumeclaims");
    const std::string p = prefix(pods);
    for (auto it = objects_.lower_bound(p); it != objects_.end(); ++it) {
      if (it->first.compare(0, p.size(), p) != 0) break;
      const json& pod = it->second;
      if (pod.value("spec", json::object()).value("nodeName", "") != node) continue;
      const std::string podNs = pod["metadata"].value("namespace", "");
      for (const auto& claim : podReferencedNames(pod, "persistentvolumeclaims")) {
        auto c = objects_.find(key(pvcs, podNs, claim));
        if (c != objects_.end() &&
            c->second.value("spec", json::object()).value("volumeName", "") == name) {
          return true;
        }
      }
    }
    return false;
  }
  const std::string p = prefix(pods) + ns + "/";
  for (auto it = objects_.lower_bound(p); it != objects_.end(); ++it) {
    if (it->first.compare(0, p.size(), p) != 0) break;
    const json& pod = it->second;
    if (pod.value("spec", json::object()).value("nodeName", "") != node) continue;
    if (podReferences(pod, resource, name)) return true;
  }
  return false;
}

std::optional<std::string> ResourceStore::podNodeName(const std::string& ns,
                                                      const std::string& name) const {
  const ResourceInfo& pods = *findResource("", "v1", "pods");
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(pods, ns, name));
  if (it == objects_.end()) return std::nullopt;
  return it->second.value("spec", json::object()).value("nodeName", "");
}

}  // namespace cubelet::fakeapi

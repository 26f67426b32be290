#include "agent/node/node_lease.h"

#include <ctime>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/api/pod_decode.h"
#include "core/json_decode.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::node {
namespace {

using nlohmann::json;

// The lease controller's maxUpdateRetries: conflicts in a row before backing off.
constexpr int kMaxConflicts = 5;
// wait.JitterUntil(sync, renewInterval, 0.04, ...).
constexpr double kRenewJitter = 0.04;

std::string leasesPath() {
  return absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/", kNodeLeaseNamespace, "/leases");
}

}  // namespace

std::string formatMicroTime(core::WallTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = us / 1000000;
  int64_t frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return absl::StrFormat("%s.%06dZ", buf, frac);
}

json Lease::toJson() const {
  json meta = {{"name", metadata.name}, {"namespace", metadata.namespace_}};
  if (!metadata.uid.empty()) meta["uid"] = metadata.uid;
  if (!metadata.resourceVersion.empty()) meta["resourceVersion"] = metadata.resourceVersion;
  if (!metadata.labels.empty()) meta["labels"] = metadata.labels;
  if (!metadata.annotations.empty()) meta["annotations"] = metadata.annotations;
  if (!metadata.ownerReferences.empty()) {
    json refs = json::array();
    for (const auto& r : metadata.ownerReferences) {
      json rj = {{"apiVersion", r.apiVersion}, {"kind", r.kind}, {"name", r.name}, {"uid", r.uid}};
      if (r.controller) rj["controller"] = *r.controller;
      refs.push_back(std::move(rj));
    }
    meta["ownerReferences"] = std::move(refs);
  }
  json spec = json::object();
  if (holderIdentity) spec["holderIdentity"] = *holderIdentity;
  if (leaseDurationSeconds) spec["leaseDurationSeconds"] = *leaseDurationSeconds;
  if (acquireTime) spec["acquireTime"] = *acquireTime;
  if (renewTime) spec["renewTime"] = *renewTime;
  if (leaseTransitions) spec["leaseTransitions"] = *leaseTransitions;
  if (strategy) spec["strategy"] = *strategy;
  if (preferredHolder) spec["preferredHolder"] = *preferredHolder;
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", std::move(meta)},
          {"spec", std::move(spec)}};
}

absl::StatusOr<Lease> decodeLease(const json& j) {
  Lease l;
  core::JsonField root(j);
  RETURN_IF_ERROR(root.expectObject());
  RETURN_IF_ERROR(root["metadata"].get(l.metadata));
  core::JsonField spec = root["spec"];
  RETURN_IF_ERROR(core::decodeObject(
      spec, "holderIdentity", l.holderIdentity, "leaseDurationSeconds", l.leaseDurationSeconds,
      "acquireTime", l.acquireTime, "renewTime", l.renewTime, "leaseTransitions",
      l.leaseTransitions, "strategy", l.strategy, "preferredHolder", l.preferredHolder));
  return l;
}

NodeLease::NodeLease(core::EventLoop& loop, kubeapi::ApiClient& api, NodeLeaseOptions opts)
    : loop_(loop),
      api_(api),
      opts_(std::move(opts)),
      random_(opts_.random),
      backoff_(std::chrono::milliseconds(200), std::chrono::seconds(7), 0.0) {
  if (opts_.renewInterval.count() <= 0) {
    opts_.renewInterval = std::chrono::milliseconds(opts_.leaseDurationSeconds * 250);
  }
  if (!random_) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  timer_ = loop_.createTimer([this] { run(nextStep_); });
}

NodeLease::~NodeLease() { *alive_ = false; }

std::string NodeLease::path() const { return absl::StrCat(leasesPath(), "/", opts_.nodeName); }

void NodeLease::start() {
  if (started_) return;
  started_ = true;
  run(Step::kEnsure);
}

kubeapi::Request NodeLease::request(std::string method, std::string path, std::string body) const {
  kubeapi::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  r.timeout = opts_.requestTimeout;
  return r;
}

void NodeLease::run(Step step) {
  if (step == Step::kUpdate && latest_) {
    update(*latest_);
  } else {
    ensure();
  }
}

Lease NodeLease::renewed(Lease base) const {
  if (base.metadata.name.empty()) {
    base.metadata.name = opts_.nodeName;
    base.metadata.namespace_ = kNodeLeaseNamespace;
    base.holderIdentity = opts_.nodeName;
    base.leaseDurationSeconds = opts_.leaseDurationSeconds;
  }
  base.renewTime = formatMicroTime(loop_.wallNow());
  if (!nodeUid_.empty() && base.metadata.ownerReferences.empty()) {
    base.metadata.ownerReferences.push_back(api::OwnerReference{.apiVersion = "v1",
                                                                .kind = "Node",
                                                                .name = opts_.nodeName,
                                                                .uid = nodeUid_,
                                                                .controller = std::nullopt});
  }
  return base;
}

void NodeLease::ensure() {
  kubeapi::Request req = request("GET", path());
  std::weak_ptr<bool> alive = alive_;
  api_.send(req, [this, alive, req](kubeapi::Response resp) {
    if (alive.expired()) return;
    if (resp.transport.ok() && resp.code == 404) {
      create();
      return;
    }
    if (!resp.ok()) {
      failed(Step::kEnsure, resp.describe(req));
      return;
    }
    json j = json::parse(resp.body, nullptr, false);
    auto lease = decodeLease(j);
    if (!lease.ok()) {
      failed(Step::kEnsure, absl::StrCat("GET ", req.path, ": ", lease.status().message()));
      return;
    }
    latest_ = *lease;
    update(std::move(*lease));
  });
}

void NodeLease::create() {
  kubeapi::Request req = request("POST", leasesPath(), renewed(Lease{}).toJson().dump());
  std::weak_ptr<bool> alive = alive_;
  api_.send(req, [this, alive, req](kubeapi::Response resp) {
    if (alive.expired()) return;
    if (!resp.ok()) {
      failed(Step::kEnsure, resp.describe(req));
      return;
    }
    succeeded(resp, "POST");
  });
}

void NodeLease::update(Lease base) {
  kubeapi::Request req = request("PUT", path(), renewed(std::move(base)).toJson().dump());
  std::weak_ptr<bool> alive = alive_;
  api_.send(req, [this, alive, req](kubeapi::Response resp) {
    if (alive.expired()) return;
    if (resp.ok()) {
      succeeded(resp, "PUT");
      return;
    }
    if (resp.transport.ok() && resp.code == 409 && ++conflicts_ < kMaxConflicts) {
      // Someone else wrote it: fetch the current version and renew that.
      VLOG(2) << "lease " << path() << " changed on the server; refreshing it";
      ensure();
      return;
    }
    if (resp.transport.ok() && resp.code == 404) {
      latest_.reset();
      create();
      return;
    }
    failed(resp.code == 409 ? Step::kEnsure : Step::kUpdate, resp.describe(req));
  });
}

void NodeLease::succeeded(const kubeapi::Response& resp, const char* what) {
  json j = json::parse(resp.body, nullptr, false);
  auto lease = decodeLease(j);
  if (!lease.ok()) {
    failed(Step::kEnsure,
           absl::StrCat(what, " ", path(), ": response: ", lease.status().message()));
    return;
  }
  latest_ = std::move(*lease);
  conflicts_ = 0;
  backoff_.reset();
  nextStep_ = Step::kUpdate;
  auto jitter =
      std::chrono::duration_cast<core::Duration>(opts_.renewInterval * (kRenewJitter * random_()));
  timer_->enableTimer(opts_.renewInterval + jitter);
}

void NodeLease::failed(Step retry, const std::string& why) {
  conflicts_ = 0;
  core::Duration delay = backoff_.nextDelay();
  LOG_ERROR << "failed to renew lease " << kNodeLeaseNamespace << "/" << opts_.nodeName << ": "
            << why << "; retrying in " << delay.count() << "ms";
  nextStep_ = retry;
  timer_->enableTimer(delay);
}

}  // namespace agent::node

#include "agent/node/node_status_manager.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace agent::node {
namespace {

// The kubelet runs syncNodeStatus with wait.JitterUntil(..., 0.04, sliding).
constexpr double kTickJitter = 0.04;

std::function<double()> defaultRandom() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
}

}  // namespace

NodeStatusManager::NodeStatusManager(core::EventLoop& loop, kubeapi::ApiClient& api,
                                     NodeStatusManagerOptions opts,
                                     RuntimeFactsProvider runtimeFacts)
    : loop_(loop),
      api_(api),
      opts_(std::move(opts)),
      runtimeFacts_(std::move(runtimeFacts)),
      registrar_(api, opts_.config, opts_.machine.architecture, opts_.requestTimeout),
      random_(opts_.random ? opts_.random : defaultRandom()),
      // registerWithAPIServer's steps: doubling up to 7 s between attempts.
      registerBackoff_(std::chrono::milliseconds(200), std::chrono::seconds(7), 0.0) {
  timer_ = loop_.createTimer([this] {
    if (!registered_ && opts_.registerNode) {
      attemptRegistration();
    } else {
      tick();
    }
  });
}

NodeStatusManager::~NodeStatusManager() { *alive_ = false; }

void NodeStatusManager::start() {
  if (started_) return;
  started_ = true;
  if (opts_.registerNode) {
    attemptRegistration();
  } else {
    tick();
  }
}

void NodeStatusManager::syncNow() {
  if (!started_ || (opts_.registerNode && !registered_)) return;
  if (busy_) {
    syncPending_ = true;
    return;
  }
  timer_->disableTimer();
  tick();
}

void NodeStatusManager::computeThen(std::function<void(const NodeStatus&)> next) {
  std::weak_ptr<bool> alive = alive_;
  runtimeFacts_([this, alive, next = std::move(next)](RuntimeFacts facts) {
    if (alive.expired()) return;
    core::WallTime now = loop_.wallNow();
    // The runtime's type is learned once, as the kubelet's runtime manager keeps it.
    if (facts.runtimeName.empty() && lastFacts_) facts.runtimeName = lastFacts_->runtimeName;
    observeRuntime(health_, facts, now);
    lastFacts_ = std::move(facts);
    NodeStatusInput in;
    in.config = &opts_.config;
    in.machine = &opts_.machine;
    in.runtime = &*lastFacts_;
    in.health = health_;
    if (extraErrors_) in.otherErrors = extraErrors_();
    if (pressure_) in.pressure = pressure_();
    in.previous = lastComputed_ ? &*lastComputed_ : nullptr;
    in.now = now;
    lastComputed_ = computeNodeStatus(in);
    next(*lastComputed_);
  });
}

void NodeStatusManager::attemptRegistration() {
  busy_ = true;
  std::weak_ptr<bool> alive = alive_;
  computeThen([this, alive](const NodeStatus& status) {
    registrar_.tryRegister(status, [this, alive, status](absl::StatusOr<std::string> uid) {
      if (alive.expired()) return;
      if (!uid.ok()) {
        core::Duration delay = registerBackoff_.nextDelay();
        LOG_ERROR << "unable to register node " << opts_.config.nodeName
                  << " with the API server: " << uid.status().message() << "; retrying in "
                  << delay.count() << "ms";
        busy_ = false;
        timer_->enableTimer(delay);
        return;
      }
      registered_ = true;
      registerBackoff_.reset();
      learnUid(*uid);
      // As syncNodeStatus: the status update follows registration at once. What the
      // server holds is not known (an adopted Node has an old status), so it is sent.
      lastSent_.reset();
      maybeSend(status);
    });
  });
}

void NodeStatusManager::tick() {
  busy_ = true;
  computeThen([this](const NodeStatus& s) { maybeSend(s); });
}

void NodeStatusManager::maybeSend(const NodeStatus& s) {
  bool changed = !lastSent_ || statusChanged(*lastSent_, s);
  bool due = loop_.monotonicNow() - lastSentAt_ >= opts_.reportFrequency;
  if (!changed && !due) {
    VLOG(5) << "node status unchanged; not sending";
    roundDone();
    return;
  }
  sendPatch(s, 0);
}

void NodeStatusManager::sendPatch(NodeStatus s, int attempt) {
  kubeapi::Request req;
  req.method = "PATCH";
  req.path = nodePath(opts_.config.nodeName) + "/status";
  req.contentType = kubeapi::kStrategicMergePatch;
  req.body = nlohmann::json{{"status", s.toJson()}}.dump();
  req.timeout = opts_.requestTimeout;
  std::weak_ptr<bool> alive = alive_;
  api_.send(req, [this, alive, req, s = std::move(s), attempt](kubeapi::Response resp) mutable {
    if (alive.expired()) return;
    if (resp.ok()) {
      ++sends_;
      lastSent_ = std::move(s);
      lastSentAt_ = loop_.monotonicNow();
      auto uid = uidFromBody(resp.body, "PATCH " + req.path);
      if (uid.ok()) learnUid(*uid);
      roundDone();
      return;
    }
    LOG_ERROR << "error updating node status, "
              << (attempt + 1 < opts_.updateRetries ? "will retry"
                                                    : "giving up until the next update")
              << ": " << resp.describe(req);
    if (attempt + 1 < opts_.updateRetries) {
      sendPatch(std::move(s), attempt + 1);
      return;
    }
    roundDone();
  });
}

void NodeStatusManager::roundDone() {
  busy_ = false;
  if (syncPending_) {
    syncPending_ = false;
    tick();
    return;
  }
  armTick();
}

void NodeStatusManager::armTick() {
  auto base = opts_.updateFrequency;
  auto jitter = std::chrono::duration_cast<core::Duration>(base * (kTickJitter * random_()));
  timer_->enableTimer(base + jitter);
}

void NodeStatusManager::learnUid(const std::string& uid) {
  if (uid.empty() || uid == uid_) return;
  if (!uid_.empty()) {
    LOG_WARNING << "node " << opts_.config.nodeName << " has a new uid " << uid << " (was " << uid_
                << ")";
  }
  uid_ = uid;
  if (uidCallback_) uidCallback_(uid_);
}

}  // namespace agent::node

#include "agent/events/event_recorder.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "nlohmann/json.hpp"

namespace agent::events {
namespace {

void logEvent(const ObjectRef& o, std::string_view type, std::string_view reason,
              std::string_view message) {
  // The kubelet's broadcaster logs every event at V(3) in this shape.
  VLOG(3) << "\"Event occurred\" object=\""
          << (o.namespace_.empty() ? o.name : absl::StrCat(o.namespace_, "/", o.name))
          << "\" fieldPath=\"" << o.fieldPath << "\" kind=\"" << o.kind << "\" apiVersion=\""
          << o.apiVersion << "\" type=\"" << type << "\" reason=\"" << reason
          << "\" message=" << nlohmann::json(std::string(message)).dump();
}

std::string describe(const Event& e) {
  return absl::StrCat(e.namespace_, "/", e.name, " (", e.involved.kind, " ", e.involved.namespace_,
                      e.involved.namespace_.empty() ? "" : "/", e.involved.name, " ", e.reason,
                      ")");
}

// Whether the API's answer is worth another try: no answer at all, throttled, or
// a server-side failure. Anything else would be refused again the same way.
bool retryable(const kubeapi::Response& r) {
  return !r.transport.ok() || r.code == 429 || r.code >= 500;
}

std::string statusReason(const kubeapi::Response& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) {
    return j["reason"].get<std::string>();
  }
  return "";
}

}  // namespace

std::string_view typeName(EventType t) { return t == EventType::kWarning ? kWarning : kNormal; }

void LogOnlyEventRecorder::record(const ObjectRef& involved, EventType type,
                                  std::string_view reason, std::string_view message) {
  logEvent(involved, typeName(type), reason, message);
}

std::string eventJson(const Event& e) {
  nlohmann::json involved = nlohmann::json::object();
  auto put = [&](const char* field, const std::string& v) {
    if (!v.empty()) involved[field] = v;  // omitempty, as Go marshals ObjectReference.
  };
  const ObjectRef& o = e.involved;
  put("kind", o.kind);
  put("namespace", o.namespace_);
  put("name", o.name);
  put("uid", o.uid);
  put("apiVersion", o.apiVersion);
  put("resourceVersion", o.resourceVersion);
  put("fieldPath", o.fieldPath);

  nlohmann::json source = {{"component", e.sourceComponent}};
  if (!e.sourceHost.empty()) source["host"] = e.sourceHost;

  nlohmann::json j = {
      {"kind", "Event"},
      {"apiVersion", "v1"},
      {"metadata", {{"name", e.name}, {"namespace", e.namespace_}}},
      {"involvedObject", std::move(involved)},
      {"reason", e.reason},
      {"message", e.message},
      {"source", std::move(source)},
      {"firstTimestamp", formatTime(e.firstTimestamp)},
      {"lastTimestamp", formatTime(e.lastTimestamp)},
      {"count", e.count},
      {"type", e.type},
      {"eventTime", nullptr},
      {"reportingComponent", e.reportingComponent},
      {"reportingInstance", e.reportingInstance},
  };
  return j.dump();
}

ApiEventRecorder::ApiEventRecorder(core::EventLoop& loop, kubeapi::ApiClient& client,
                                   RecorderOptions opts)
    : loop_(loop), client_(client), opts_(std::move(opts)), correlator_(opts_.correlator) {
  if (!opts_.random) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    opts_.random = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  std::weak_ptr<bool> alive = alive_;
  retryTimer_ = loop_.createTimer([this, alive] {
    if (alive.lock() && current_ && !requestPending_) attempt();
  });
}

ApiEventRecorder::~ApiEventRecorder() { *alive_ = false; }

void ApiEventRecorder::record(const ObjectRef& involved, EventType type, std::string_view reason,
                              std::string_view message) {
  if (!loop_.isLoopThread()) {
    std::shared_ptr<bool> alive = alive_;
    loop_.post([this, alive, involved, type, reason = std::string(reason),
                message = std::string(message)] {
      if (*alive) record(involved, type, reason, message);
    });
    return;
  }
  logEvent(involved, typeName(type), reason, message);
  core::WallTime now = loop_.wallNow();
  Event e;
  e.name = correlator_.eventName(involved.name, now);
  // Events live in their object's namespace; a cluster-scoped object's in "default".
  e.namespace_ = involved.namespace_.empty() ? "default" : involved.namespace_;
  e.involved = involved;
  e.reason = std::string(reason);
  e.message = std::string(message);
  e.type = std::string(typeName(type));
  e.sourceComponent = opts_.component;
  e.sourceHost = opts_.nodeName;
  e.firstTimestamp = now;
  e.lastTimestamp = now;
  e.count = 1;
  e.reportingComponent = opts_.component;
  e.reportingInstance = opts_.nodeName;
  enqueue(std::move(e));
}

void ApiEventRecorder::enqueue(Event e) {
  if (opts_.maxQueued > 0 && queue_.size() >= opts_.maxQueued) {
    LOG_ERROR << "Unable to record event: too many queued events (" << opts_.maxQueued
              << "), dropped event " << describe(queue_.front());
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(std::move(e));
  schedulePump();
}

void ApiEventRecorder::schedulePump() {
  if (pumpScheduled_ || current_) return;
  pumpScheduled_ = true;
  std::shared_ptr<bool> alive = alive_;
  loop_.post([this, alive] {
    if (!*alive) return;
    pumpScheduled_ = false;
    pump();
  });
}

void ApiEventRecorder::pump() {
  while (!current_ && !queue_.empty()) {
    Event e = std::move(queue_.front());
    queue_.pop_front();
    CorrelateResult result =
        correlator_.correlate(std::move(e), loop_.wallNow(), loop_.monotonicNow());
    if (result.skip) {
      VLOG(4) << "Event filtered by the spam filter: too many events about this object";
      continue;
    }
    current_ = InFlight{std::move(result), 0};
    attempt();
  }
}

void ApiEventRecorder::attempt() {
  const Event& e = current_->result.event;
  if (!current_->result.patch) {
    sendCreate();
    return;
  }
  kubeapi::Request req;
  req.method = "PATCH";
  req.path = absl::StrCat("/api/v1/namespaces/", e.namespace_, "/events/", e.name);
  req.body = *current_->result.patch;
  req.contentType = kubeapi::kStrategicMergePatch;
  req.timeout = opts_.requestTimeout;
  requestPending_ = true;
  std::shared_ptr<bool> alive = alive_;
  client_.send(req, [this, alive, req](kubeapi::Response resp) {
    if (*alive) onAnswer(req, resp, /*wasPatch=*/true);
  });
}

void ApiEventRecorder::sendCreate() {
  const Event& e = current_->result.event;
  kubeapi::Request req;
  req.method = "POST";
  req.path = absl::StrCat("/api/v1/namespaces/", e.namespace_, "/events");
  req.body = eventJson(e);
  req.timeout = opts_.requestTimeout;
  requestPending_ = true;
  std::shared_ptr<bool> alive = alive_;
  client_.send(req, [this, alive, req](kubeapi::Response resp) {
    if (*alive) onAnswer(req, resp, /*wasPatch=*/false);
  });
}

void ApiEventRecorder::onAnswer(const kubeapi::Request& req, const kubeapi::Response& resp,
                                bool wasPatch) {
  requestPending_ = false;
  if (!current_) return;
  if (resp.ok()) {
    VLOG(5) << "Wrote event " << describe(current_->result.event);
    finishCurrent();
    return;
  }
  if (wasPatch && resp.transport.ok() && resp.code == 404) {
    // The event expired (events have a TTL) or was deleted: write it anew, under
    // the same name and with the count it has reached.
    sendCreate();
    return;
  }
  const Event& e = current_->result.event;
  if (!retryable(resp)) {
    if (resp.code == 409 && statusReason(resp) == "AlreadyExists") {
      VLOG(5) << "Server rejected event " << describe(e) << ": " << resp.describe(req)
              << " (will not retry!)";
    } else {
      LOG_ERROR << "Server rejected event " << describe(e) << ": " << resp.describe(req)
                << " (will not retry!)";
    }
    ++dropped_;
    finishCurrent();
    return;
  }
  ++current_->tries;
  if (current_->tries >= opts_.maxTries) {
    LOG_ERROR << "Unable to write event " << describe(e) << ": " << resp.describe(req)
              << " (retry limit exceeded!)";
    ++dropped_;
    finishCurrent();
    return;
  }
  core::Duration delay = opts_.retryInterval;
  if (current_->tries == 1) {
    delay = std::chrono::duration_cast<core::Duration>(delay * opts_.random());
  }
  LOG_ERROR << "Unable to write event " << describe(e) << ": " << resp.describe(req)
            << " (may retry after " << delay.count() << "ms)";
  retryTimer_->enableTimer(delay);
}

void ApiEventRecorder::finishCurrent() {
  current_.reset();
  schedulePump();
}

}  // namespace agent::events

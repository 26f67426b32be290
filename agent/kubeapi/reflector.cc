#include "agent/kubeapi/reflector.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace agent::kubeapi {
namespace {

// How long a watch must have lived to count as healthy when it ends without events.
constexpr core::Duration kMinHealthyWatch = std::chrono::seconds(1);

std::string stringAt(const nlohmann::json& j, const char* a, const char* b) {
  if (!j.is_object()) return "";
  auto ia = j.find(a);
  if (ia == j.end() || !ia->is_object()) return "";
  auto ib = ia->find(b);
  if (ib == ia->end() || !ib->is_string()) return "";
  return ib->get<std::string>();
}

std::string keyOf(const nlohmann::json& obj) {
  return objectKey(stringAt(obj, "metadata", "namespace"), stringAt(obj, "metadata", "name"));
}

}  // namespace

std::string objectKey(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  return absl::StrCat(std::string(ns), "/", std::string(name));
}

Reflector::Reflector(core::EventLoop& loop, ApiClient& client, ReflectorConfig config,
                     ReflectorSink& sink)
    : loop_(loop),
      client_(client),
      config_(std::move(config)),
      sink_(sink),
      backoff_(config_.initialBackoff, config_.maxBackoff, 0.2, config_.random),
      random_(config_.random) {
  name_ = config_.collectionPath;
  std::string sel = selectorQuery();
  if (!sel.empty()) name_ += "?" + sel.substr(1);
  if (!random_) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  timer_ = loop_.createTimer([this] {
    stopWatch();
    if (next_ == Next::kList) {
      list();
    } else {
      watch();
    }
  });
}

Reflector::~Reflector() { *alive_ = false; }

void Reflector::start() {
  if (started_) return;
  started_ = true;
  list();
}

std::string Reflector::selectorQuery() const {
  std::string q;
  if (!config_.fieldSelector.empty()) q += "&fieldSelector=" + escapeQuery(config_.fieldSelector);
  if (!config_.labelSelector.empty()) q += "&labelSelector=" + escapeQuery(config_.labelSelector);
  return q;
}

void Reflector::stopWatch() {
  stream_.reset();
  ++requestGeneration_;
}

void Reflector::schedule(Next next, core::Duration after) {
  next_ = next;
  timer_->enableTimer(after);
}

void Reflector::retryLater(Next next, const std::string& why) {
  core::Duration d = backoff_.nextDelay();
  LOG_WARNING << name_ << ": " << why << "; " << (next == Next::kList ? "relisting" : "re-watching")
              << " in " << d.count() << "ms";
  schedule(next, d);
}

void Reflector::list() {
  stopWatch();
  timer_->disableTimer();
  continue_.clear();
  auto alive = alive_;
  sink_.listBegin();
  if (!*alive) return;
  requestPage();
}

void Reflector::requestPage() {
  Request req;
  req.method = "GET";
  req.timeout = config_.requestTimeout;
  // Query parameters in the order client-go's url.Values.Encode() sorts them.
  std::string q;
  if (!continue_.empty()) q += "&continue=" + escapeQuery(continue_);
  q += selectorQuery();
  q += absl::StrCat("&limit=", config_.pageSize);
  if (continue_.empty()) {
    // client-go: "0" (any version, from the API server's cache) for the first
    // list, the last seen version afterwards, the latest ("") after a 410.
    std::string rv = rvExpired_ ? "" : (resourceVersion_.empty() ? "0" : resourceVersion_);
    if (!rv.empty()) q += "&resourceVersion=" + escapeQuery(rv);
  }
  req.path = absl::StrCat(config_.collectionPath, "?", q.substr(1));
  uint64_t gen = ++requestGeneration_;
  auto alive = alive_;
  client_.send(req, [this, alive, gen, req](Response resp) {
    if (!*alive || gen != requestGeneration_) return;
    onPage(req, resp);
  });
}

void Reflector::onPage(const Request& req, const Response& resp) {
  auto alive = alive_;
  if (!resp.ok()) {
    sink_.listAborted();
    if (!*alive) return;
    if (resp.transport.ok() && resp.code == 410 && (!rvExpired_ || !continue_.empty())) {
      // The continue token (or the version asked for) is too old: start over
      // from the latest.
      LOG_INFO << name_ << ": list expired (410 Gone); listing again from the latest version";
      rvExpired_ = true;
      schedule(Next::kList, core::Duration::zero());
      return;
    }
    if (resp.code == 401 || resp.code == 403) {
      LOG_ERROR << name_ << ": list as " << client_.identity()
                << " refused: " << resp.describe(req);
    }
    retryLater(Next::kList, "list failed: " + resp.describe(req));
    return;
  }
  std::string pageVersion;
  {
    nlohmann::json page = nlohmann::json::parse(resp.body, nullptr, false);
    auto items = page.is_object() ? page.find("items") : page.end();
    if (page.is_discarded() || !page.is_object() ||
        (items != page.end() && !items->is_array() && !items->is_null())) {
      sink_.listAborted();
      if (!*alive) return;
      retryLater(Next::kList, "list answer is not a JSON list");
      return;
    }
    if (items != page.end() && items->is_array()) {
      for (nlohmann::json& item : *items) {
        sink_.listItem(keyOf(item), stringAt(item, "metadata", "resourceVersion"), item);
        if (!*alive) return;
        item = nullptr;  // free each object as soon as it is decoded
      }
    }
    pageVersion = stringAt(page, "metadata", "resourceVersion");
    continue_ = stringAt(page, "metadata", "continue");
  }
  if (!continue_.empty()) {
    requestPage();
    return;
  }
  if (!pageVersion.empty()) resourceVersion_ = pageVersion;
  rvExpired_ = false;
  ++lists_;
  backoff_.reset();
  sink_.listDone();
  if (!*alive) return;
  VLOG(2) << name_ << ": listed at resourceVersion " << resourceVersion_;
  watch();
}

void Reflector::watch() {
  stopWatch();
  Request req;
  req.method = "GET";
  req.timeout = config_.requestTimeout;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config_.minWatchTimeout).count();
  int64_t timeoutSeconds = static_cast<int64_t>(static_cast<double>(seconds) * (1.0 + random_()));
  std::string q = "allowWatchBookmarks=true" + selectorQuery();
  q += "&resourceVersion=" + escapeQuery(resourceVersion_);
  q += absl::StrCat("&timeoutSeconds=", timeoutSeconds, "&watch=true");
  req.path = absl::StrCat(config_.collectionPath, "?", q);
  streamClosing_ = false;
  streamHealthy_ = false;
  streamStarted_ = loop_.monotonicNow();
  uint64_t gen = requestGeneration_;
  auto alive = alive_;
  stream_ = client_.stream(
      req,
      [this, alive, gen](std::string_view line) {
        if (!*alive || gen != requestGeneration_) return;
        onWatchLine(line);
      },
      [this, alive, gen, req](Response resp) {
        if (!*alive || gen != requestGeneration_) return;
        onWatchEnd(req, resp);
      });
}

void Reflector::onWatchLine(std::string_view line) {
  if (streamClosing_) return;
  nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
  if (event.is_discarded() || !event.is_object() || !event.contains("type") ||
      !event["type"].is_string()) {
    LOG_WARNING << name_ << ": skipping a watch line that is not an event: "
                << std::string(line.substr(0, 200));
    return;
  }
  const std::string type = event["type"].get<std::string>();
  static const nlohmann::json kNull;
  auto objIt = event.find("object");
  const nlohmann::json& obj = objIt != event.end() ? *objIt : kNull;
  if (type == "BOOKMARK") {
    std::string rv = stringAt(obj, "metadata", "resourceVersion");
    if (!rv.empty()) resourceVersion_ = rv;
    streamHealthy_ = true;
    return;
  }
  if (type == "ERROR") {
    // A Status object; 410 means our resourceVersion is older than the server keeps.
    int64_t code = obj.is_object() && obj.contains("code") && obj["code"].is_number_integer()
                       ? obj["code"].get<int64_t>()
                       : 0;
    std::string message = obj.is_object() && obj.contains("message") && obj["message"].is_string()
                              ? obj["message"].get<std::string>()
                              : obj.dump();
    streamClosing_ = true;
    if (code == 410) {
      LOG_INFO << name_ << ": watch expired (410 Gone: " << message << "); relisting";
      rvExpired_ = true;
      schedule(Next::kList, core::Duration::zero());
      return;
    }
    if (code == 401 || code == 403) {
      LOG_ERROR << name_ << ": watch as " << client_.identity() << " refused: " << code << " "
                << message;
    }
    retryLater(Next::kWatch, absl::StrCat("watch error ", code, ": ", message));
    return;
  }
  WatchEventType t;
  if (type == "ADDED") {
    t = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    t = WatchEventType::kModified;
  } else if (type == "DELETED") {
    t = WatchEventType::kDeleted;
  } else {
    LOG_WARNING << name_ << ": skipping a watch event of unknown type \"" << type << "\"";
    return;
  }
  std::string rv = stringAt(obj, "metadata", "resourceVersion");
  if (!rv.empty()) resourceVersion_ = rv;
  streamHealthy_ = true;
  sink_.watchEvent(t, keyOf(obj), rv, obj);
}

void Reflector::onWatchEnd(const Request& req, const Response& resp) {
  // The stream is dropped by the timer callback, not inside its own callback.
  if (streamClosing_) return;
  streamClosing_ = true;
  if (resp.ok()) {
    // The server's timeoutSeconds ran out (or it closed the watch): resume.
    if (streamHealthy_ || loop_.monotonicNow() - streamStarted_ >= kMinHealthyWatch) {
      backoff_.reset();
      VLOG(3) << name_ << ": watch ended; re-watching from " << resourceVersion_;
      schedule(Next::kWatch, core::Duration::zero());
    } else {
      retryLater(Next::kWatch, "watch ended at once");
    }
    return;
  }
  if (resp.transport.ok() && resp.code == 410) {
    LOG_INFO << name_ << ": watch from resourceVersion " << resourceVersion_
             << " expired (410 Gone); relisting";
    rvExpired_ = true;
    schedule(Next::kList, core::Duration::zero());
    return;
  }
  if (resp.code == 401 || resp.code == 403) {
    LOG_ERROR << name_ << ": watch as " << client_.identity() << " refused: " << resp.describe(req);
  }
  if (streamHealthy_) backoff_.reset();
  retryLater(Next::kWatch, "watch failed: " + resp.describe(req));
}

}  // namespace agent::kubeapi

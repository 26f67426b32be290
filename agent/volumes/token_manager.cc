#include "agent/volumes/token_manager.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/go_quote.h"
#include "core/json_decode.h"
#include "core/log.h"

namespace agent::volumes {
namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

constexpr core::Duration kRetryInitial = seconds(1);
constexpr core::Duration kRetryMax = seconds(60);

// An RFC 3339 time as metav1.Time marshals it ("2024-01-01T01:00:00Z"); fractional
// seconds and numeric offsets are accepted too.
std::optional<core::WallTime> parseRfc3339(const std::string& s) {
  int y, mo, d, h, mi, sec, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) !=
          6 ||
      consumed != 19) {
    return std::nullopt;
  }
  size_t i = 19;
  int64_t nanos = 0;
  if (i < s.size() && s[i] == '.') {
    int64_t scale = 100000000;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10)
      nanos += (s[i] - '0') * scale;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t epoch = static_cast<int64_t>(timegm(&tm)) - offset;
  return core::WallTime(
      duration_cast<core::WallTime::duration>(seconds(epoch) + std::chrono::nanoseconds(nanos)));
}

struct IssuedToken {
  std::string token;
  core::WallTime expiration;
  std::optional<int64_t> expirationSeconds;  // the effective TTL (spec.expirationSeconds)
};

absl::StatusOr<IssuedToken> decodeTokenResponse(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("TokenRequest response is not a JSON object");
  }
  core::JsonField root(j);
  IssuedToken out;
  std::string expiration;
  absl::Status s =
      core::decodeObject(root["status"], "token", out.token, "expirationTimestamp", expiration);
  if (s.ok()) s = core::decodeObject(root["spec"], "expirationSeconds", out.expirationSeconds);
  if (!s.ok()) return s;
  if (out.token.empty()) return root["status"]["token"].error("Required value");
  auto exp = parseRfc3339(expiration);
  if (!exp) {
    return root["status"]["expirationTimestamp"].error(
        absl::StrCat("not an RFC 3339 time: ", core::goQuote(expiration)));
  }
  out.expiration = *exp;
  return out;
}

std::function<double()> defaultRandom() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
}

}  // namespace

std::string apiErrorMessage(const kubeapi::Response& resp) {
  if (!resp.transport.ok()) return std::string(resp.transport.message());
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (j.is_object() && j.value("kind", "") == "Status" && j.contains("message") &&
      j["message"].is_string() && !j["message"].get<std::string>().empty()) {
    return j["message"].get<std::string>();
  }
  // client-go's words for answers without a usable Status.
  if (resp.code == 404) return "the server could not find the requested resource";
  return absl::StrCat("the server responded with the status code ", resp.code,
                      " but did not return more information");
}

std::string tokenCacheKey(const std::string& ns, const std::string& podName,
                          const std::string& podUid, const TokenRequestSpec& spec) {
  // fmt.Sprintf("%q/%q/%#v/%#v/%#v", name, namespace, audiences, exp, boundObjectRef)
  std::string audiences = spec.audience.empty()
                              ? "[]string(nil)"
                              : absl::StrCat("[]string{", core::goQuote(spec.audience), "}");
  return absl::StrCat(core::goQuote(spec.serviceAccount), "/", core::goQuote(ns), "/", audiences,
                      "/", spec.expirationSeconds,
                      "/v1.BoundObjectReference{Kind:\"Pod\", APIVersion:\"v1\", Name:",
                      core::goQuote(podName), ", UID:", core::goQuote(podUid), "}");
}

std::string tokenRequestBody(const std::string& podName, const std::string& podUid,
                             const TokenRequestSpec& spec) {
  nlohmann::json tokenSpec = {
      {"expirationSeconds", spec.expirationSeconds},
      {"boundObjectRef",
       {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", podName}, {"uid", podUid}}},
  };
  // An empty audience means the API server's default audiences: the field is omitted.
  if (!spec.audience.empty()) tokenSpec["audiences"] = nlohmann::json::array({spec.audience});
  nlohmann::json body = {
      {"kind", "TokenRequest"},
      {"apiVersion", "authentication.k8s.io/v1"},
      {"spec", std::move(tokenSpec)},
  };
  return body.dump();
}

struct TokenManager::Entry {
  explicit Entry(std::function<double()> random)
      : backoff(kRetryInitial, kRetryMax, 0.1, std::move(random)) {}

  std::string ns, podName, podUid, key;
  TokenRequestSpec spec;
  bool inFlight = false;
  uint64_t seq = 0;  // of the request in flight; answers to older ones are dropped
  bool hasToken = false;
  std::string token;
  core::WallTime expiration{};
  int64_t ttlSeconds = 0;
  // What get() reports instead of a token: set when there is no valid token left.
  std::string error;
  int refreshFailures = 0;  // in a row, to log an outage once rather than every retry
  core::TimerPtr timer;     // the refresh, or the retry after a failure
  core::ExponentialBackoff backoff;
};

TokenManager::TokenManager(core::EventLoop& loop, kubeapi::ApiClient& client,
                           std::function<void(const std::string&)> onChange,
                           std::function<double()> random)
    : loop_(loop),
      client_(client),
      onChange_(std::move(onChange)),
      random_(random ? std::move(random) : defaultRandom()) {}

TokenManager::~TokenManager() { *alive_ = false; }

TokenLookup TokenManager::get(const std::string& ns, const std::string& podName,
                              const std::string& podUid, const TokenRequestSpec& spec) {
  std::string key = tokenCacheKey(ns, podName, podUid, spec);
  PodEntries& entries = pods_[podUid];
  auto it = entries.find(key);
  if (it == entries.end()) {
    auto e = std::make_unique<Entry>(random_);
    e->ns = ns;
    e->podName = podName;
    e->podUid = podUid;
    e->key = key;
    e->spec = spec;
    Entry* raw = e.get();
    e->timer = loop_.createTimer([this, raw] { request(*raw); });
    entries.emplace(key, std::move(e));
    request(*raw);
    return TokenLookup{};
  }
  const Entry& e = *it->second;
  TokenLookup out;
  if (!e.error.empty()) {
    out.error = e.error;
  } else if (e.hasToken) {
    out.ready = true;
    out.token = e.token;
  }
  return out;
}

void TokenManager::forgetPod(const std::string& podUid) { pods_.erase(podUid); }

size_t TokenManager::size() const {
  size_t n = 0;
  for (const auto& [uid, entries] : pods_) n += entries.size();
  return n;
}

TokenManager::Entry* TokenManager::find(const std::string& podUid, const std::string& key) {
  auto pod = pods_.find(podUid);
  if (pod == pods_.end()) return nullptr;
  auto it = pod->second.find(key);
  return it == pod->second.end() ? nullptr : it->second.get();
}

void TokenManager::request(Entry& e) {
  e.timer->disableTimer();
  e.inFlight = true;
  e.seq = ++nextSeq_;
  kubeapi::Request req;
  req.method = "POST";
  req.path = absl::StrCat("/api/v1/namespaces/", e.ns, "/serviceaccounts/", e.spec.serviceAccount,
                          "/token");
  req.body = tokenRequestBody(e.podName, e.podUid, e.spec);
  VLOG(2) << "TokenRequest for pod " << e.ns << "/" << e.podName << ": " << e.key;
  client_.send(std::move(req), [this, alive = alive_, podUid = e.podUid, key = e.key,
                                seq = e.seq](kubeapi::Response resp) {
    if (*alive) onResponse(podUid, key, seq, resp);
  });
}

void TokenManager::onResponse(const std::string& podUid, const std::string& key, uint64_t seq,
                              const kubeapi::Response& resp) {
  Entry* e = find(podUid, key);
  if (e == nullptr || !e->inFlight || e->seq != seq) return;  // pod forgotten meanwhile
  e->inFlight = false;
  std::string failure;
  if (resp.ok()) {
    auto issued = decodeTokenResponse(resp.body);
    if (issued.ok()) {
      e->hasToken = true;
      e->token = std::move(issued->token);
      e->expiration = issued->expiration;
      if (issued->expirationSeconds) {
        e->ttlSeconds = *issued->expirationSeconds;
      } else {
        // The API server always fills it in; without it the kubelet would never refresh.
        LOG_WARNING << "TokenRequest response for " << key
                    << " has no spec.expirationSeconds; assuming the requested "
                    << e->spec.expirationSeconds;
        e->ttlSeconds = e->spec.expirationSeconds;
      }
      e->error.clear();
      e->refreshFailures = 0;
      e->backoff.reset();
      scheduleRefresh(*e);
      onChange_(podUid);  // last: it may call back into get() or forgetPod()
      return;
    }
    failure = absl::StrCat("decoding TokenRequest response: ", issued.status().message());
  } else {
    failure = apiErrorMessage(resp);
  }

  std::string error;
  if (!e->hasToken) {
    error = absl::StrCat("failed to fetch token: ", failure);
  } else if (loop_.wallNow() > e->expiration) {
    error = absl::StrCat("token ", key, " expired and refresh failed: ", failure);
  } else if (e->refreshFailures == 0) {
    LOG_WARNING << "Couldn't update token " << key << ": " << failure;
  } else {
    VLOG(2) << "Couldn't update token " << key << ": " << failure;
  }
  ++e->refreshFailures;
  bool changed = error != e->error;
  e->error = std::move(error);
  scheduleRetry(*e);
  if (changed) onChange_(podUid);
}

void TokenManager::scheduleRefresh(Entry& e) {
  // requiresRefresh: now after iat + maxTTL - jitter, or after exp - 20 % TTL - jitter,
  // with the jitter a whole number of seconds below 10.
  auto jitter = seconds(static_cast<int64_t>(random_() * kTokenMaxJitterSeconds));
  core::WallTime iat = e.expiration - seconds(e.ttlSeconds);
  core::WallTime byMaxTTL = iat + kTokenMaxTTL - jitter;
  core::WallTime byTTL = e.expiration - seconds(e.ttlSeconds * 20 / 100) - jitter;
  core::WallTime at = std::min(byMaxTTL, byTTL);
  // A floor against a request loop when the server hands out tokens that are already
  // due (tiny TTLs, a clock far behind the server's).
  auto delay =
      std::max<core::Duration>(duration_cast<core::Duration>(at - loop_.wallNow()), seconds(1));
  e.timer->enableTimer(delay);
}

void TokenManager::scheduleRetry(Entry& e) {
  core::Duration delay = e.backoff.nextDelay();
  core::WallTime now = loop_.wallNow();
  if (e.hasToken && now <= e.expiration) {
    // Try again no later than just after expiry, so that an outage is reported when the
    // old token stops being valid rather than up to a whole backoff period later.
    auto untilExpired = duration_cast<core::Duration>(e.expiration - now) + core::Duration(1);
    delay = std::min(delay, untilExpired);
  }
  e.timer->enableTimer(delay);
}

}  // namespace agent::volumes

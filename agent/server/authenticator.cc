#include "agent/server/authenticator.h"

#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/server/review_webhook.h"
#include "core/log.h"

namespace agent::server {

using nlohmann::json;

namespace {

constexpr char kTokenReviewPath[] = "/apis/authentication.k8s.io/v1/tokenreviews";
constexpr char kBearerProtocolPrefix[] = "base64url.bearer.authorization.k8s.io.";

std::string sha256(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

// k8s.io/apiserver's AuthenticatedGroupAdder.
void addAuthenticatedGroup(UserInfo& u) {
  if (u.name == kAnonymousUser) return;
  for (const auto& g : u.groups) {
    if (g == kAuthenticatedGroup || g == kUnauthenticatedGroup) return;
  }
  u.groups.push_back(kAuthenticatedGroup);
}

// utilerrors.NewAggregate's message.
absl::Status aggregate(const std::vector<absl::Status>& errs) {
  if (errs.size() == 1) return errs[0];
  std::vector<std::string> msgs;
  for (const auto& e : errs) msgs.emplace_back(e.message());
  return absl::InvalidArgumentError("[" + absl::StrJoin(msgs, ", ") + "]");
}

// status.user of a TokenReview.
absl::StatusOr<UserInfo> reviewedUser(const json& u) {
  UserInfo out;
  if (!u.is_object()) return out;
  try {
    out.name = u.value("username", "");
    out.uid = u.value("uid", "");
    if (auto g = u.find("groups"); g != u.end() && g->is_array()) {
      for (const auto& x : *g) out.groups.push_back(x.get<std::string>());
    }
    if (auto e = u.find("extra"); e != u.end() && e->is_object()) {
      for (const auto& [k, v] : e->items()) {
        auto& vals = out.extra[k];
        if (v.is_array()) {
          for (const auto& x : v) vals.push_back(x.get<std::string>());
        }
      }
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(std::string("TokenReview status.user: ") + e.what());
  }
  return out;
}

}  // namespace

std::optional<std::string> bearerToken(const HttpRequest& req) {
  auto it = req.headers.find("authorization");
  if (it == req.headers.end()) return std::nullopt;
  std::string auth(absl::StripAsciiWhitespace(it->second));
  if (auth.empty()) return std::nullopt;
  // strings.SplitN(auth, " ", 3): a doubled space leaves an empty token.
  std::vector<std::string> parts = absl::StrSplit(auth, absl::MaxSplits(' ', 2));
  if (parts.size() < 2 || absl::AsciiStrToLower(parts[0]) != "bearer") return std::nullopt;
  if (parts[1].empty()) return std::nullopt;
  return parts[1];
}

absl::StatusOr<std::optional<std::string>> webSocketBearerToken(const HttpRequest& req) {
  auto header = [&](const char* name) {
    auto it = req.headers.find(name);
    return it == req.headers.end() ? std::string() : absl::AsciiStrToLower(it->second);
  };
  // wsstream.IsWebSocketRequest.
  bool connectionUpgrade = false;
  for (absl::string_view tok : absl::StrSplit(header("connection"), ',')) {
    if (absl::StripAsciiWhitespace(tok) == "upgrade") connectionUpgrade = true;
  }
  if (!connectionUpgrade || header("upgrade") != "websocket") return std::nullopt;
  auto it = req.headers.find("sec-websocket-protocol");
  if (it == req.headers.end()) return std::nullopt;
  std::optional<std::string> token;
  int others = 0;
  for (absl::string_view p : absl::StrSplit(it->second, ',')) {
    p = absl::StripAsciiWhitespace(p);
    if (!absl::StartsWith(p, kBearerProtocolPrefix)) {
      ++others;
      continue;
    }
    if (token) {
      return absl::InvalidArgumentError("multiple base64.bearer.authorization tokens specified");
    }
    absl::string_view enc = p.substr(sizeof(kBearerProtocolPrefix) - 1);
    std::string dec;
    if (absl::StrContains(enc, '=') || !absl::WebSafeBase64Unescape(enc, &dec)) {
      return absl::InvalidArgumentError("invalid base64.bearer.authorization token encoding");
    }
    token = std::move(dec);
  }
  if (!token || token->empty()) return std::nullopt;
  // One other subprotocol must remain to be echoed back to the client.
  if (others == 0) return absl::InvalidArgumentError("missing additional subprotocol");
  return token;
}

struct Authenticator::Impl : std::enable_shared_from_this<Impl> {
  // A TokenReview's outcome: a user, no user (unknown token), or an error.
  using TokenResult = absl::StatusOr<std::optional<UserInfo>>;
  using TokenCallback = std::function<void(TokenResult)>;

  Impl(const config::Authentication& c, kubeapi::ApiClient* a, core::EventLoop& l, Options o)
      : cfg(c), opts(o) {
    if (a == nullptr) return;
    ReviewWebhook<std::optional<UserInfo>>::Settings s;
    s.name = "TokenReview webhook";
    s.path = kTokenReviewPath;
    s.timeout = o.timeout;
    s.retry = o.retry;
    s.maxCacheEntries = o.maxCacheEntries;
    s.parse = &parseReview;
    // Known and unknown tokens alike (cacheErrs = false: errors are not).
    s.ttl = [ttl = c.webhookCacheTTL](const std::optional<UserInfo>&) { return ttl; };
    webhook = std::make_shared<ReviewWebhook<std::optional<UserInfo>>>(a, l, o.clock ? *o.clock : l,
                                                                       std::move(s));
  }

  // The rest of the union after a token authenticator found nobody.
  using Next = std::function<void(std::vector<absl::Status> errs, Callback done)>;

  void authenticate(const HttpRequest& req, Callback done) {
    std::vector<absl::Status> errs;
    // x509 (only when a client CA is configured: otherwise the server asks for no
    // certificate).
    if (!cfg.clientCAFile.empty() && req.peer) {
      if (!req.peer->verified) {
        errs.push_back(absl::InvalidArgumentError(
            "verifying certificate failed: x509: certificate signed by unknown authority "
            "or not valid now"));
      } else if (!req.peer->commonName.empty()) {
        UserInfo u;
        u.name = req.peer->commonName;
        u.groups = req.peer->organizations;
        addAuthenticatedGroup(u);
        done(std::optional<UserInfo>(std::move(u)));
        return;
      }
    }
    if (!cfg.webhookEnabled) {
      finish(std::move(errs), std::move(done));
      return;
    }
    // Bearer token, then the WebSocket subprotocol token.
    std::optional<std::string> bearer = bearerToken(req);
    auto ws = webSocketBearerToken(req);
    Next afterBearer = [self = weak_from_this(), ws = std::move(ws)](std::vector<absl::Status> errs,
                                                                     Callback done) {
      auto s = self.lock();
      if (!s) return;
      if (!ws.ok()) {
        errs.push_back(ws.status());
        s->finish(std::move(errs), std::move(done));
        return;
      }
      if (!ws->has_value()) {
        s->finish(std::move(errs), std::move(done));
        return;
      }
      s->reviewToken(**ws,
                     [self, errs = std::move(errs), done = std::move(done)](TokenResult r) mutable {
                       auto s = self.lock();
                       if (!s) return;
                       s->tokenDone(std::move(r), std::move(errs), std::move(done), nullptr);
                     });
    };
    if (!bearer) {
      afterBearer(std::move(errs), std::move(done));
      return;
    }
    reviewToken(*bearer, [self = weak_from_this(), errs = std::move(errs), done = std::move(done),
                          next = std::move(afterBearer)](TokenResult r) mutable {
      auto s = self.lock();
      if (!s) return;
      s->tokenDone(std::move(r), std::move(errs), std::move(done), &next);
    });
  }

  // A token authenticator's answer: a user ends the union; otherwise its error (or
  // "invalid bearer token") joins `errs` and `next` (if any) runs.
  void tokenDone(TokenResult r, std::vector<absl::Status> errs, Callback done, const Next* next) {
    if (r.ok() && r->has_value()) {
      UserInfo u = **r;
      addAuthenticatedGroup(u);
      done(std::optional<UserInfo>(std::move(u)));
      return;
    }
    errs.push_back(r.ok() ? absl::InvalidArgumentError("invalid bearer token") : r.status());
    if (next) {
      (*next)(std::move(errs), std::move(done));
    } else {
      finish(std::move(errs), std::move(done));
    }
  }

  void finish(std::vector<absl::Status> errs, Callback done) {
    if (!errs.empty()) {
      done(aggregate(errs));
    } else if (cfg.anonymousEnabled) {
      done(std::optional<UserInfo>(UserInfo{kAnonymousUser, "", {kUnauthenticatedGroup}, {}}));
    } else {
      done(std::optional<UserInfo>());
    }
  }

  // The cached token authenticator around the TokenReview webhook.
  void reviewToken(const std::string& token, TokenCallback cb) {
    if (!webhook) {
      cb(std::optional<UserInfo>());
      return;
    }
    json body = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", {{"token", token}}}};
    webhook->review(sha256(token), body.dump(),
                    [cb = std::move(cb)](const TokenResult& r) { cb(r); });
  }

  static TokenResult parseReview(const kubeapi::Response& r) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return absl::UnavailableError("TokenReview webhook: the answer is not a JSON object");
    }
    json status = body.value("status", json::object());
    if (!status.is_object()) status = json::object();
    if (!status.value("authenticated", false)) {
      std::string err = status.contains("error") && status["error"].is_string()
                            ? status["error"].get<std::string>()
                            : "";
      if (!err.empty()) return absl::InvalidArgumentError(err);
      return std::optional<UserInfo>();
    }
    auto u = reviewedUser(status.value("user", json::object()));
    if (!u.ok()) return u.status();
    return std::optional<UserInfo>(*std::move(u));
  }

  const config::Authentication cfg;
  const Options opts;
  // Keyed by the token's SHA-256; null without an API client.
  std::shared_ptr<ReviewWebhook<std::optional<UserInfo>>> webhook;
};

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::create(
    const config::Authentication& cfg, kubeapi::ApiClient* api, core::EventLoop& loop,
    Options opts) {
  if (cfg.webhookEnabled && api == nullptr) {
    return absl::InvalidArgumentError(
        "authentication.webhook.enabled: no client provided, cannot use webhook authentication "
        "(no API server: standalone mode)");
  }
  if (!cfg.webhookEnabled && cfg.clientCAFile.empty() && !cfg.anonymousEnabled) {
    return absl::InvalidArgumentError(
        "authentication: No authentication method configured (x509.clientCAFile, "
        "webhook.enabled and anonymous.enabled are all unset)");
  }
  if (opts.maxCacheEntries == 0) opts.maxCacheEntries = 1;
  return std::unique_ptr<Authenticator>(
      new Authenticator(std::make_shared<Impl>(cfg, api, loop, opts)));
}

Authenticator::~Authenticator() = default;

void Authenticator::authenticate(const HttpRequest& req, Callback done) {
  impl_->authenticate(req, std::move(done));
}

size_t Authenticator::cachedTokens() const { return impl_->webhook ? impl_->webhook->cached() : 0; }

}  // namespace agent::server

// TokenRequest (serviceaccounts/<name>/token) over HTTPS: the JWT and its claims, the
// signature checked with the fake's public key by plain OpenSSL, the node authorizer
// and NodeRestriction for node identities, upstream's validation and errors, the
// extended expiration of kube-api-access tokens and the test-only expiration clamp.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>
#include <regex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kTokenPath[] = "/api/v1/namespaces/default/serviceaccounts/app/token";
constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t parseRfc3339(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  EXPECT_TRUE(end != nullptr && *end == '\0') << s;
  return static_cast<int64_t>(timegm(&tm));
}

struct Jwt {
  json header, claims;
  std::string signingInput, signature;
};

Jwt decodeJwt(const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  EXPECT_EQ(parts.size(), 3u) << token;
  Jwt j;
  if (parts.size() != 3) return j;
  std::string h, c;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[0], &h));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[1], &c));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[2], &j.signature));
  // base64url without padding, as JWS compact serialization requires.
  for (const auto& p : parts) EXPECT_EQ(p.find_first_of("+/="), std::string::npos) << p;
  j.header = json::parse(h, nullptr, false);
  j.claims = json::parse(c, nullptr, false);
  j.signingInput = parts[0] + "." + parts[1];
  return j;
}

// RS256 verification with the public key PEM, independent of the fake's own code.
bool verifiesWith(const Jwt& j, const std::string& publicKeyPem) {
  BIO* bio = BIO_new_mem_buf(publicKeyPem.data(), static_cast<int>(publicKeyPem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(j.signature.data()),
                             j.signature.size(),
                             reinterpret_cast<const unsigned char*>(j.signingInput.data()),
                             j.signingInput.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

json tokenRequest(const json& boundRef, std::optional<int64_t> expiration = std::nullopt,
                  std::vector<std::string> audiences = {}) {
  json spec = {{"audiences", audiences}};
  if (!boundRef.is_null()) spec["boundObjectRef"] = boundRef;
  if (expiration) spec["expirationSeconds"] = *expiration;
  return {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}};
}

json podRef(const std::string& name, const std::string& uid) {
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", name}, {"uid", uid}};
}

// Nodes n1 and n2; ServiceAccount "app"; pod "web" on n1, "other" on n2 and
// "pending" (unbound), all running as "app"; pod "ghost" on n1 running as a
// ServiceAccount that does not exist.
class TokenRequestTest : public FakeApiTest {
 protected:
  void SetUp() override {
    FakeApiTest::SetUp();
    populate();
  }

  void populate() {
    for (const char* n : {"n1", "n2"}) {
      auto node = server_->create("/api/v1/nodes", json{{"metadata", {{"name", n}}}});
      ASSERT_TRUE(node.ok()) << node.status();
      nodeUid_[n] = node->at("metadata").at("uid").get<std::string>();
    }
    auto sa = server_->create("/api/v1/namespaces/default/serviceaccounts",
                              json{{"metadata", {{"name", "app"}}}});
    ASSERT_TRUE(sa.ok()) << sa.status();
    saUid_ = (*sa)["metadata"]["uid"];
    for (auto [name, node, account] : {std::tuple{"web", "n1", "app"},
                                       {"other", "n2", "app"},
                                       {"pending", "", "app"},
                                       {"ghost", "n1", "ghost"}}) {
      json p = pod(name, node);
      p["spec"]["serviceAccountName"] = account;
      auto created = server_->create(kPods, p);
      ASSERT_TRUE(created.ok()) << created.status();
      podUid_[name] = (*created)["metadata"]["uid"];
    }
  }

  std::map<std::string, std::string> nodeUid_, podUid_;
  std::string saUid_;
};

TEST_F(TokenRequestTest, NodeGetsASignedPodBoundTokenForItsPod) {
  auto n1 = nodeClient("n1");
  const int64_t rvBefore = server_->currentResourceVersion();
  const int64_t before = unixNow();
  auto r = n1->post(kTokenPath, tokenRequest(podRef("web", podUid_["web"])));
  const int64_t after = unixNow();
  ASSERT_EQ(r.code, 201) << r.body;
  json tr = r.json();
  EXPECT_EQ(tr["kind"], "TokenRequest");
  EXPECT_EQ(tr["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(tr["spec"]["expirationSeconds"], 3600);  // the default
  EXPECT_EQ(tr["spec"]["audiences"], json::array({kIssuer}));
  EXPECT_EQ(tr["spec"]["boundObjectRef"], podRef("web", podUid_["web"]));
  const std::string ts = tr["status"]["expirationTimestamp"];
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << ts;
  EXPECT_GE(parseRfc3339(ts), before + 3600);
  EXPECT_LE(parseRfc3339(ts), after + 3600);

  Jwt jwt = decodeJwt(tr["status"]["token"]);
  EXPECT_EQ(jwt.header["alg"], "RS256");
  EXPECT_FALSE(jwt.header.value("kid", "").empty());
  const json& c = jwt.claims;
  EXPECT_EQ(c["iss"], kIssuer);
  EXPECT_EQ(c["sub"], "system:serviceaccount:default:app");
  EXPECT_EQ(c["aud"], json::array({kIssuer}));
  const int64_t iat = c["iat"];
  EXPECT_GE(iat, before);
  EXPECT_LE(iat, after);
  EXPECT_EQ(c["nbf"], iat);
  EXPECT_EQ(c["exp"].get<int64_t>() - iat, 3600);
  EXPECT_EQ(parseRfc3339(ts), c["exp"].get<int64_t>());
  EXPECT_TRUE(std::regex_match(c["jti"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")))
      << c["jti"];
  const json want = {{"namespace", "default"},
                     {"serviceaccount", {{"name", "app"}, {"uid", saUid_}}},
                     {"pod", {{"name", "web"}, {"uid", podUid_["web"]}}},
                     {"node", {{"name", "n1"}, {"uid", nodeUid_["n1"]}}}};
  EXPECT_EQ(c["kubernetes.io"], want);  // no warnafter: not an extended token

  auto pub = server_->serviceAccountPublicKeyPem();
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_THAT(*pub, HasSubstr("BEGIN PUBLIC KEY"));
  EXPECT_TRUE(verifiesWith(jwt, *pub));
  Jwt tampered = jwt;
  tampered.signingInput[tampered.signingInput.size() - 2] ^= 1;
  EXPECT_FALSE(verifiesWith(tampered, *pub));
  EXPECT_TRUE(server_->reviewToken(tr["status"]["token"]).ok());
  std::string forged = tr["status"]["token"];
  forged[forged.find('.') + 3] ^= 1;
  EXPECT_FALSE(server_->reviewToken(forged).ok());

  // Tokens are not stored: no write, so no watch event.
  EXPECT_EQ(server_->currentResourceVersion(), rvBefore);
  auto recs = server_->tokenRequests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].ns, "default");
  EXPECT_EQ(recs[0].serviceAccount, "app");
  EXPECT_EQ(recs[0].user, "system:node:n1");
  EXPECT_EQ(recs[0].boundKind, "Pod");
  EXPECT_EQ(recs[0].boundName, "web");
  EXPECT_EQ(recs[0].boundUid, podUid_["web"]);
  EXPECT_EQ(recs[0].nodeName, "n1");
  EXPECT_EQ(recs[0].audiences, std::vector<std::string>{kIssuer});
  EXPECT_EQ(recs[0].requestedExpirationSeconds, 3600);
  EXPECT_EQ(recs[0].expirationSeconds, 3600);
  EXPECT_EQ(recs[0].token, tr["status"]["token"]);
}

TEST_F(TokenRequestTest, KubeApiAccessTokensAreExtendedButReportTheirRequestedExpiry) {
  auto n1 = nodeClient("n1");
  // 3607 s with the API audiences, pod-bound: the JWT lives a year, warnafter marks 3607.
  auto r = n1->post(kTokenPath, tokenRequest(podRef("web", podUid_["web"]), 3607));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(r.json()["spec"]["expirationSeconds"], 3607);
  Jwt jwt = decodeJwt(r.json()["status"]["token"]);
  const int64_t iat = jwt.claims["iat"];
  EXPECT_EQ(jwt.claims["exp"].get<int64_t>() - iat, 365 * 24 * 3600);
  EXPECT_EQ(jwt.claims["kubernetes.io"]["warnafter"], iat + 3607);
  EXPECT_EQ(parseRfc3339(r.json()["status"]["expirationTimestamp"]), iat + 3607);

  // Another audience, or another expiry: not extended.
  for (const auto& [exp, aud] : {std::pair<int64_t, std::string>{3607, "vault"}, {3608, ""}}) {
    std::vector<std::string> auds;
    if (!aud.empty()) auds.push_back(aud);
    auto plain = n1->post(kTokenPath, tokenRequest(podRef("web", podUid_["web"]), exp, auds));
    ASSERT_EQ(plain.code, 201) << plain.body;
    Jwt p = decodeJwt(plain.json()["status"]["token"]);
    EXPECT_EQ(p.claims["exp"].get<int64_t>() - p.claims["iat"].get<int64_t>(), exp);
    EXPECT_FALSE(p.claims["kubernetes.io"].contains("warnafter"));
    if (!aud.empty()) {
      EXPECT_EQ(p.claims["aud"], json::array({aud}));
    }
  }
  EXPECT_EQ(server_->tokenRequests().size(), 3u);
}

TEST_F(TokenRequestTest, ErrorsAsUpstreamAnswersThem) {
  auto n1 = nodeClient("n1");
  auto n2 = nodeClient("n2");
  struct Case {
    std::string name;
    HttpsClient* who;
    std::string path;
    json body;
    long code;
    std::string reason, message;
  };
  const std::string ghostPath = "/api/v1/namespaces/default/serviceaccounts/ghost/token";
  const std::string defaultPath = "/api/v1/namespaces/default/serviceaccounts/default/token";
  const std::vector<Case> cases = {
      {"node: wrong pod uid", n1.get(), kTokenPath, tokenRequest(podRef("web", "stale")), 403,
       "Forbidden",
       "serviceaccounts \"app\" is forbidden: the UID in the bound object reference (stale) does "
       "not match the UID in record. The object might have been deleted and then recreated"},
      {"admin: wrong pod uid", admin_.get(), kTokenPath, tokenRequest(podRef("web", "stale")), 409,
       "Conflict",
       "Operation cannot be fulfilled on Pod \"web\": the UID in the bound object reference "
       "(stale) does not match the UID in record. The object might have been deleted and then "
       "recreated"},
      {"node: missing service account", n1.get(), ghostPath,
       tokenRequest(podRef("ghost", podUid_["ghost"])), 404, "NotFound",
       "serviceaccounts \"ghost\" not found"},
      {"node: pod not on this node", n1.get(), kTokenPath,
       tokenRequest(podRef("pending", podUid_["pending"])), 403, "Forbidden",
       "serviceaccounts \"app\" is forbidden: node requested token bound to a pod scheduled on a "
       "different node"},
      {"node: not bound", n1.get(), kTokenPath, tokenRequest(nullptr), 403, "Forbidden",
       "serviceaccounts \"app\" is forbidden: node requested token not bound to a pod"},
      {"node: bound to a secret", n1.get(), kTokenPath,
       tokenRequest({{"apiVersion", "v1"}, {"kind", "Secret"}, {"name", "s"}, {"uid", "u"}}), 403,
       "Forbidden", "node requested token not bound to a pod"},
      {"node: no uid", n1.get(), kTokenPath, tokenRequest(podRef("web", "")), 403, "Forbidden",
       "node requested token with a pod binding without a uid"},
      {"node: missing pod", n1.get(), kTokenPath, tokenRequest(podRef("gone", "u")), 404,
       "NotFound", "pods \"gone\" not found"},
      {"node without a pod of that account", n2.get(),
       "/api/v1/namespaces/default/serviceaccounts/ghost/token",
       tokenRequest(podRef("ghost", podUid_["ghost"])), 403, "Forbidden",
       "serviceaccounts \"ghost\" is forbidden: User \"system:node:n2\" cannot create resource "
       "\"serviceaccounts/token\" in API group \"\" in the namespace \"default\": no relationship "
       "found between node 'n2' and this object"},
      {"expiration below 10 minutes", n1.get(), kTokenPath,
       tokenRequest(podRef("web", podUid_["web"]), 599), 422, "Invalid",
       "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid "
       "value: 599: may not specify a duration less than 10 minutes"},
      {"expiration above 2^32", admin_.get(), kTokenPath, tokenRequest(nullptr, (1LL << 32) + 1),
       422, "Invalid",
       "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger "
       "than 2^32 seconds"},
      {"admin: pod of another account", admin_.get(), defaultPath,
       tokenRequest(podRef("web", podUid_["web"])), 400, "BadRequest",
       "cannot bind token for serviceaccount \"default\" to pod running with different "
       "serviceaccount name."},
      {"admin: unsupported kind", admin_.get(), kTokenPath,
       tokenRequest({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "c"}}), 400,
       "BadRequest", "cannot bind token to object of type /v1, Kind=ConfigMap"},
      {"admin: missing pod", admin_.get(), kTokenPath, tokenRequest(podRef("gone", "")), 404,
       "NotFound", "pods \"gone\" not found"},
      {"admin: name mismatch", admin_.get(), kTokenPath,
       json{{"metadata", {{"name", "other"}}}, {"spec", json::object()}}, 422, "Invalid",
       "TokenRequest.authentication.k8s.io \"app\" is invalid: metadata.name: Invalid value: "
       "\"other\": must match the service account name if specified"},
  };
  // ServiceAccount "default" exists only for the mismatched-account case.
  ASSERT_TRUE(server_
                  ->create("/api/v1/namespaces/default/serviceaccounts",
                           json{{"metadata", {{"name", "default"}}}})
                  .ok());
  for (const auto& c : cases) {
    auto r = c.who->post(c.path, c.body);
    EXPECT_EQ(r.code, c.code) << c.name << ": " << r.body;
    EXPECT_EQ(r.json()["reason"], c.reason) << c.name;
    EXPECT_THAT(r.json()["message"].get<std::string>(), HasSubstr(c.message)) << c.name;
  }
  EXPECT_TRUE(server_->tokenRequests().empty());
  // NodeRestriction's refusals are recorded as denied.
  bool denied = false;
  for (const auto& rec : server_->requests()) denied |= rec.denied && rec.code == 403;
  EXPECT_TRUE(denied);
  // The subresource takes nothing but create.
  EXPECT_EQ(admin_->get(kTokenPath).code, 405);
  EXPECT_EQ(admin_->put(kTokenPath, tokenRequest(nullptr)).code, 405);
}

TEST_F(TokenRequestTest, SecretAndNodeBindingsAndUnboundTokens) {
  auto secret =
      server_->create("/api/v1/namespaces/default/secrets", json{{"metadata", {{"name", "s1"}}}});
  ASSERT_TRUE(secret.ok());
  auto r = admin_->post(kTokenPath, tokenRequest({{"apiVersion", "v1"},
                                                  {"kind", "Secret"},
                                                  {"name", "s1"},
                                                  {"uid", (*secret)["metadata"]["uid"]}},
                                                 3607));
  ASSERT_EQ(r.code, 201) << r.body;
  Jwt s = decodeJwt(r.json()["status"]["token"]);
  EXPECT_EQ(s.claims["kubernetes.io"]["secret"],
            json({{"name", "s1"}, {"uid", (*secret)["metadata"]["uid"]}}));
  EXPECT_FALSE(s.claims["kubernetes.io"].contains("pod"));
  // Only pod-bound tokens are extended.
  EXPECT_EQ(s.claims["exp"].get<int64_t>() - s.claims["iat"].get<int64_t>(), 3607);

  r = admin_->post(kTokenPath,
                   tokenRequest({{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n2"}}));
  ASSERT_EQ(r.code, 201) << r.body;
  EXPECT_EQ(decodeJwt(r.json()["status"]["token"]).claims["kubernetes.io"]["node"],
            json({{"name", "n2"}, {"uid", nodeUid_["n2"]}}));

  auto direct = server_->requestToken("default", "app", tokenRequest(nullptr, 7200, {"api"}));
  ASSERT_TRUE(direct.ok()) << direct.status();
  Jwt d = decodeJwt((*direct)["status"]["token"]);
  EXPECT_EQ(d.claims["aud"], json::array({"api"}));
  EXPECT_EQ(
      d.claims["kubernetes.io"],
      json({{"namespace", "default"}, {"serviceaccount", {{"name", "app"}, {"uid", saUid_}}}}));
  auto claims = server_->reviewToken((*direct)["status"]["token"]);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ((*claims)["sub"], "system:serviceaccount:default:app");
}

TEST_F(TokenRequestTest, MaxTokenExpirationClampsRequestedExpirations) {
  FakeApiServerOptions opts;
  opts.maxTokenExpirationSeconds = 5;
  startServer(opts);
  populate();
  auto n1 = nodeClient("n1");
  for (int i = 0; i < 2; ++i) {
    const int64_t before = unixNow();
    auto r = n1->post(kTokenPath, tokenRequest(podRef("web", podUid_["web"]), 3607));
    ASSERT_EQ(r.code, 201) << r.body;
    EXPECT_EQ(r.json()["spec"]["expirationSeconds"], 5);
    const int64_t expires = parseRfc3339(r.json()["status"]["expirationTimestamp"]);
    EXPECT_GE(expires, before + 5);
    EXPECT_LE(expires, unixNow() + 5);
    Jwt jwt = decodeJwt(r.json()["status"]["token"]);
    EXPECT_EQ(jwt.claims["exp"].get<int64_t>() - jwt.claims["iat"].get<int64_t>(), 5);
    EXPECT_FALSE(jwt.claims["kubernetes.io"].contains("warnafter"));
  }
  // Validation still applies to what was asked.
  EXPECT_EQ(n1->post(kTokenPath, tokenRequest(podRef("web", podUid_["web"]), 599)).code, 422);
  auto recs = server_->tokenRequests();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].requestedExpirationSeconds, 3607);
  EXPECT_EQ(recs[1].expirationSeconds, 5);
  EXPECT_EQ(recs[1].jwtLifetimeSeconds, 5);
  EXPECT_GE(recs[1].issuedAt, recs[0].issuedAt);
  server_->clearTokenRequests();
  EXPECT_TRUE(server_->tokenRequests().empty());
}

TEST_F(TokenRequestTest, DiscoveryListsTheTokenSubresource) {
  auto r = admin_->get("/api/v1");
  ASSERT_EQ(r.code, 200);
  const json list = r.json();
  json token;
  for (const auto& res : list["resources"]) {
    if (res["name"] == "serviceaccounts/token") token = res;
  }
  ASSERT_TRUE(token.is_object()) << r.body;
  EXPECT_EQ(token["kind"], "TokenRequest");
  EXPECT_EQ(token["group"], "authentication.k8s.io");
  EXPECT_EQ(token["verbs"], json::array({"create"}));
}

}  // namespace
}  // namespace cubelet::fakeapi::testing

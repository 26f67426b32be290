#include "tests/fakeapi/token_request.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/kubeapi/openssl_util.h"
#include "core/status.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/resource_store.h"
#include "tests/fakeapi/resources.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;
using namespace agent::kubeapi::ossl;  // NOLINT: OpenSSL vocabulary

constexpr char kGroup[] = "authentication.k8s.io";
constexpr char kKind[] = "TokenRequest";
constexpr int64_t kDefaultExpirationSeconds = 60 * 60;  // SetDefaults_TokenRequestSpec
constexpr int64_t kMinExpirationSeconds = 10 * 60;      // validation.MinTokenAgeSec
constexpr int64_t kMaxExpirationSeconds = int64_t{1} << 32;
// pkg/serviceaccount/claims.go: the expiration the ServiceAccount admission plugin puts
// in kube-api-access volumes, and how long such tokens really live when extended.
constexpr int64_t kWarnOnlyBoundTokenExpirationSeconds = 60 * 60 + 7;
constexpr int64_t kExpirationExtensionSeconds = 24 * 365 * 60 * 60;

const json* at(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string str(const json& obj, const char* key) {
  const json* v = at(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

std::string uidOf(const json& obj) { return str(obj.value("metadata", json::object()), "uid"); }

absl::Status invalidRequest(const std::string& name, const std::string& field,
                            const std::string& value, const std::string& detail) {
  return apiError(422, "Invalid",
                  absl::StrCat(kKind, ".", kGroup, " \"", name, "\" is invalid: ", field,
                               ": Invalid value: ", value, ": ", detail),
                  name, kGroup, kKind);
}

absl::Status unmarshalError(const std::string& field, const std::string& want) {
  return badRequest(absl::StrCat("json: cannot unmarshal into Go struct field TokenRequest.", field,
                                 " of type ", want));
}

// The request as the API server decodes and defaults it (authentication/v1 defaults).
absl::StatusOr<json> decode(const json& body) {
  json tr = body;
  const std::string kind = str(tr, "kind");
  const std::string apiVersion = str(tr, "apiVersion");
  if ((!kind.empty() && kind != kKind) ||
      (!apiVersion.empty() && apiVersion != absl::StrCat(kGroup, "/v1"))) {
    return badRequest(absl::StrCat("the object provided is of kind ", kind, " (", apiVersion,
                                   "), not TokenRequest (", kGroup, "/v1)"));
  }
  tr["kind"] = kKind;
  tr["apiVersion"] = absl::StrCat(kGroup, "/v1");
  if (!tr.contains("metadata") || !tr["metadata"].is_object()) tr["metadata"] = json::object();
  if (!tr.contains("spec") || tr["spec"].is_null()) tr["spec"] = json::object();
  json& spec = tr["spec"];
  if (!spec.is_object()) return unmarshalError("spec", "v1.TokenRequestSpec");
  if (!spec.contains("expirationSeconds") || spec["expirationSeconds"].is_null()) {
    spec["expirationSeconds"] = kDefaultExpirationSeconds;
  } else if (!spec["expirationSeconds"].is_number_integer()) {
    return unmarshalError("spec.expirationSeconds", "int64");
  }
  if (!spec.contains("audiences") || spec["audiences"].is_null()) {
    spec["audiences"] = json::array();
  } else if (!spec["audiences"].is_array() ||
             !std::all_of(spec["audiences"].begin(), spec["audiences"].end(),
                          [](const json& a) { return a.is_string(); })) {
    return unmarshalError("spec.audiences", "[]string");
  }
  if (spec.contains("boundObjectRef") && !spec["boundObjectRef"].is_null() &&
      !spec["boundObjectRef"].is_object()) {
    return unmarshalError("spec.boundObjectRef", "v1.BoundObjectReference");
  }
  tr.erase("status");
  return tr;
}

// schema.ParseGroupVersion as FromAPIVersionAndKind uses it: "v1" is the core group.
std::pair<std::string, std::string> groupVersion(const std::string& apiVersion) {
  std::vector<std::string> parts = absl::StrSplit(apiVersion, '/');
  if (parts.size() == 1) return {"", parts[0]};
  if (parts.size() == 2) return {parts[0], parts[1]};
  return {"", ""};
}

json ref(const std::string& name, const std::string& uid) {
  json r = json::object();
  if (!name.empty()) r["name"] = name;
  if (!uid.empty()) r["uid"] = uid;
  return r;
}

}  // namespace

TokenIssuer::TokenIssuer(TokenIssuerOptions opts)
    : opts_(std::move(opts)), rng_(std::random_device{}()) {}

TokenIssuer::~TokenIssuer() { EVP_PKEY_free(key_); }

absl::StatusOr<EVP_PKEY*> TokenIssuer::keyLocked() {
  if (key_ != nullptr) return key_;
  KeyPtr key(EVP_RSA_gen(2048));
  if (!key) return absl::InternalError("generate service account signing key: " + sslErrors());
  // The key ID is the SHA-256 of the DER public key, unpadded base64url
  // (pkg/serviceaccount/jwt.go keyIDFromPublicKey).
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key.get(), &der);
  if (n <= 0) return absl::InternalError("encode service account public key: " + sslErrors());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(n), digest);
  OPENSSL_free(der);
  keyId_ = absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  key_ = key.release();
  return key_;
}

absl::StatusOr<std::string> TokenIssuer::publicKeyPem() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(EVP_PKEY * key, keyLocked());
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return absl::InternalError("encode service account public key PEM: " + sslErrors());
  }
  return bioString(bio.get());
}

absl::StatusOr<std::string> TokenIssuer::signLocked(const json& claims) {
  ASSIGN_OR_RETURN(EVP_PKEY * key, keyLocked());
  const json header = {{"alg", "RS256"}, {"kid", keyId_}};
  const std::string input = absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                                         absl::WebSafeBase64Escape(claims.dump()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return absl::InternalError("sign service account token: " + sslErrors());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return absl::InternalError("sign service account token: " + sslErrors());
  }
  sig.resize(len);
  return absl::StrCat(input, ".", absl::WebSafeBase64Escape(sig));
}

std::string TokenIssuer::newUuidLocked() {
  uint64_t a = rng_(), b = rng_();
  a = (a & ~0xF000ULL) | 0x4000ULL;
  b = (b & ~(0xC000ULL << 48)) | (0x8000ULL << 48);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                         b >> 48, b & 0xFFFFFFFFFFFFULL);
}

absl::StatusOr<json> TokenIssuer::create(const ResourceStore& store, const std::string& ns,
                                         const std::string& name, const json& body,
                                         const Admit& admit, const std::string& user) {
  const ResourceInfo& pods = *findResource("", "v1", "pods");
  ASSIGN_OR_RETURN(json req, decode(body));
  json& spec = req["spec"];
  const json* boundRef = at(spec, "boundObjectRef");

  // Mutating admission (NodeRestriction) sees the decoded request before the REST
  // storage looks anything up.
  if (admit) {
    json pod;
    if (boundRef != nullptr && str(*boundRef, "kind") == "Pod" && !str(*boundRef, "name").empty()) {
      auto p = store.get(pods, ns, str(*boundRef, "name"));
      if (p.ok()) pod = *std::move(p);
    }
    RETURN_IF_ERROR(admit(pod.is_null() ? nullptr : &pod, &req));
  }

  json& meta = req["metadata"];
  if (!str(meta, "name").empty() && str(meta, "name") != name) {
    return invalidRequest(name, "metadata.name", json(str(meta, "name")).dump(),
                          "must match the service account name if specified");
  }
  if (!str(meta, "namespace").empty() && str(meta, "namespace") != ns) {
    return invalidRequest(name, "metadata.namespace", json(str(meta, "namespace")).dump(),
                          "must match the service account namespace if specified");
  }
  ASSIGN_OR_RETURN(json sa, store.get(*findResource("", "v1", "serviceaccounts"), ns, name));
  const std::string saUid = uidOf(sa);

  std::vector<std::string> audiences = spec["audiences"].get<std::vector<std::string>>();
  const std::vector<std::string> apiAudiences =
      opts_.apiAudiences.empty() ? std::vector<std::string>{opts_.issuer} : opts_.apiAudiences;
  if (audiences.empty()) audiences = apiAudiences;
  spec["audiences"] = audiences;
  meta["name"] = name;
  meta["namespace"] = ns;
  if (str(meta, "uid").empty()) meta["uid"] = saUid;
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  meta["creationTimestamp"] = rfc3339(now);

  const int64_t requested = spec["expirationSeconds"].get<int64_t>();
  if (requested < kMinExpirationSeconds) {
    return invalidRequest("", "spec.expirationSeconds", std::to_string(requested),
                          "may not specify a duration less than 10 minutes");
  }
  if (requested > kMaxExpirationSeconds) {
    return invalidRequest("", "spec.expirationSeconds", std::to_string(requested),
                          "may not specify a duration larger than 2^32 seconds");
  }

  json podObj, nodeObj, secretObj;
  if (boundRef != nullptr) {
    const std::string kind = str(*boundRef, "kind");
    const std::string refName = str(*boundRef, "name");
    auto [group, version] = groupVersion(str(*boundRef, "apiVersion"));
    std::string uid;
    if (group.empty() && kind == "Pod") {
      ASSIGN_OR_RETURN(podObj, store.get(pods, ns, refName));
      const json podSpec = podObj.value("spec", json::object());
      // The fake's pods may lack serviceAccountName when ServiceAccount admission is
      // off; they run as "default", as the Node authorizer's graph assumes too.
      std::string podSa = str(podSpec, "serviceAccountName");
      if (podSa.empty()) podSa = "default";
      if (podSa != name) {
        return badRequest(absl::StrCat("cannot bind token for serviceaccount \"", name,
                                       "\" to pod running with different serviceaccount name."));
      }
      uid = uidOf(podObj);
      if (const std::string nodeName = str(podSpec, "nodeName"); !nodeName.empty()) {
        auto n = store.get(*findResource("", "v1", "nodes"), "", nodeName);
        nodeObj = n.ok() ? *n : json{{"metadata", {{"name", nodeName}}}};
      }
    } else if (group.empty() && kind == "Node") {
      ASSIGN_OR_RETURN(nodeObj, store.get(*findResource("", "v1", "nodes"), "", refName));
      uid = uidOf(nodeObj);
    } else if (group.empty() && kind == "Secret") {
      ASSIGN_OR_RETURN(secretObj, store.get(*findResource("", "v1", "secrets"), ns, refName));
      uid = uidOf(secretObj);
    } else {
      return badRequest(absl::StrCat("cannot bind token to object of type ", group, "/", version,
                                     ", Kind=", kind));
    }
    const std::string refUid = str(*boundRef, "uid");
    if (!refUid.empty() && refUid != uid) {
      return apiError(409, "Conflict",
                      absl::StrCat("Operation cannot be fulfilled on ", kind, " \"", refName,
                                   "\": the UID in the bound object reference (", refUid,
                                   ") does not match the UID in record. The object might have "
                                   "been deleted and then recreated"),
                      refName, group, kind);
    }
  }

  int64_t expiration = requested;
  if (opts_.maxExpirationSeconds > 0 && expiration > opts_.maxExpirationSeconds) {
    expiration = opts_.maxExpirationSeconds;
  }
  spec["expirationSeconds"] = expiration;
  // The safe transition of kube-api-access volumes: only pod-bound, only 3607 s, only
  // for the API server's own audiences.
  const std::set<std::string> apiAudienceSet(apiAudiences.begin(), apiAudiences.end());
  const bool kubeAudiences = std::all_of(audiences.begin(), audiences.end(), [&](const auto& a) {
    return apiAudienceSet.count(a) > 0;
  });
  int64_t lifetime = expiration, warnAfter = 0;
  if (opts_.extendExpiration && !podObj.is_null() &&
      expiration == kWarnOnlyBoundTokenExpirationSeconds && kubeAudiences) {
    warnAfter = expiration;
    lifetime = kExpirationExtensionSeconds;
  }

  const int64_t iat = now.time_since_epoch().count();
  json k8s = {{"namespace", ns}, {"serviceaccount", ref(name, saUid)}};
  auto metaOf = [](const json& o) { return o.value("metadata", json::object()); };
  if (!podObj.is_null()) {
    k8s["pod"] = ref(str(metaOf(podObj), "name"), uidOf(podObj));
    if (!nodeObj.is_null()) k8s["node"] = ref(str(metaOf(nodeObj), "name"), uidOf(nodeObj));
  } else if (!secretObj.is_null()) {
    k8s["secret"] = ref(str(metaOf(secretObj), "name"), uidOf(secretObj));
  } else if (!nodeObj.is_null()) {
    k8s["node"] = ref(str(metaOf(nodeObj), "name"), uidOf(nodeObj));
  }
  if (warnAfter != 0) k8s["warnafter"] = iat + warnAfter;

  TokenRequestRecord rec;
  rec.ns = ns;
  rec.serviceAccount = name;
  rec.user = user;
  if (boundRef != nullptr) {
    rec.boundKind = str(*boundRef, "kind");
    rec.boundName = str(*boundRef, "name");
    rec.boundUid = str(*boundRef, "uid");
  }
  if (!nodeObj.is_null()) rec.nodeName = str(metaOf(nodeObj), "name");
  rec.audiences = audiences;
  rec.requestedExpirationSeconds = requested;
  rec.expirationSeconds = expiration;
  rec.jwtLifetimeSeconds = lifetime;
  rec.issuedAt = now;

  std::lock_guard lock(mu_);
  json claims = {{"iss", opts_.issuer},
                 {"sub", absl::StrCat("system:serviceaccount:", ns, ":", name)},
                 {"aud", audiences},
                 {"iat", iat},
                 {"nbf", iat},
                 {"exp", iat + lifetime},
                 {"jti", newUuidLocked()},
                 {"kubernetes.io", k8s}};
  ASSIGN_OR_RETURN(std::string token, signLocked(claims));
  req["status"] = {{"token", token},
                   {"expirationTimestamp", rfc3339(now + std::chrono::seconds(expiration))}};
  rec.token = token;
  records_.push_back(std::move(rec));
  return req;
}

absl::StatusOr<json> TokenIssuer::review(const std::string& jwt) {
  std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3)
    return absl::InvalidArgumentError("token: not a JWS compact serialization");
  std::string headerRaw, payloadRaw, sig;
  if (!absl::WebSafeBase64Unescape(parts[0], &headerRaw) ||
      !absl::WebSafeBase64Unescape(parts[1], &payloadRaw) ||
      !absl::WebSafeBase64Unescape(parts[2], &sig)) {
    return absl::InvalidArgumentError("token: a part is not base64url");
  }
  json header = json::parse(headerRaw, nullptr, false);
  json claims = json::parse(payloadRaw, nullptr, false);
  if (!header.is_object() || !claims.is_object()) {
    return absl::InvalidArgumentError("token: header or payload is not a JSON object");
  }
  if (str(header, "alg") != "RS256") {
    return absl::InvalidArgumentError("token: alg " + str(header, "alg") + " is not RS256");
  }
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(EVP_PKEY * key, keyLocked());
    const std::string input = parts[0] + "." + parts[1];
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      (void)sslErrors();
      return absl::UnauthenticatedError("token: signature does not verify");
    }
  }
  if (str(claims, "iss") != opts_.issuer) {
    return absl::UnauthenticatedError("token: issuer " + str(claims, "iss") + " is not " +
                                      opts_.issuer);
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (!claims.value("exp", json()).is_number_integer() || claims["exp"].get<int64_t>() <= now) {
    return absl::UnauthenticatedError("token: Token has expired.");
  }
  if (claims.value("nbf", json()).is_number_integer() && claims["nbf"].get<int64_t>() > now) {
    return absl::UnauthenticatedError("token: not valid yet");
  }
  return claims;
}

std::vector<TokenRequestRecord> TokenIssuer::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

void TokenIssuer::clearRecords() {
  std::lock_guard lock(mu_);
  records_.clear();
}

}  // namespace cubelet::fakeapi

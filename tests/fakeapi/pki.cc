#include "tests/fakeapi/pki.h"

#include <openssl/ssl.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/kubeapi/openssl_util.h"
#include "core/atomic_file.h"
#include "core/status.h"

namespace cubelet::fakeapi {
namespace {

using namespace agent::kubeapi::ossl;  // NOLINT: OpenSSL vocabulary

absl::Status sslError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", sslErrors()));
}

absl::StatusOr<KeyPtr> newKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return sslError("generate EC P-256 key");
  return key;
}

absl::StatusOr<std::string> certPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return sslError("encode certificate PEM");
  return bioString(bio.get());
}

absl::StatusOr<std::string> keyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return sslError("encode private key PEM");
  }
  return bioString(bio.get());
}

absl::StatusOr<NamePtr> makeName(const std::string& cn, const std::vector<std::string>& orgs) {
  NamePtr name(X509_NAME_new());
  if (!name) return sslError("X509_NAME_new");
  for (const auto& o : orgs) {
    if (X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.data()),
                                   static_cast<int>(o.size()), -1, 0) != 1) {
      return sslError(absl::StrCat("subject O=", o));
    }
  }
  if (X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return sslError(absl::StrCat("subject CN=", cn));
  }
  return name;
}

absl::Status addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return sslError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return sslError(absl::StrCat("add extension ", OBJ_nid2sn(nid)));
  return absl::OkStatus();
}

struct CertSpec {
  const X509_NAME* subject = nullptr;
  EVP_PKEY* publicKey = nullptr;
  long notBeforeOffset = 0;  // seconds from now
  long notAfterOffset = 0;
  long serial = 1;
  std::vector<std::pair<int, std::string>> extensions;
};

// Builds a certificate and signs it with `signKey`; `issuer` null means self-signed.
absl::StatusOr<CertPtr> buildCert(const CertSpec& spec, X509* issuer, EVP_PKEY* signKey) {
  CertPtr cert(X509_new());
  if (!cert) return sslError("X509_new");
  if (X509_set_version(cert.get(), 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial) != 1 ||
      X509_set_subject_name(cert.get(), spec.subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : spec.subject) !=
          1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.notBeforeOffset) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.notAfterOffset) == nullptr ||
      X509_set_pubkey(cert.get(), spec.publicKey) != 1) {
    return sslError("fill certificate");
  }
  X509* iss = issuer ? issuer : cert.get();
  for (const auto& [nid, value] : spec.extensions) {
    RETURN_IF_ERROR(addExt(cert.get(), iss, nid, value));
  }
  if (X509_sign(cert.get(), signKey, EVP_sha256()) == 0) return sslError("sign certificate");
  return cert;
}

constexpr long kBackdateSeconds = 5 * 60;

}  // namespace

Pki::Pki(std::string dir, EVP_PKEY* key, X509* cert, std::string certPem)
    : dir_(std::move(dir)), caKey_(key), caCert_(cert), caCertPem_(std::move(certPem)) {}

Pki::~Pki() {
  EVP_PKEY_free(caKey_);
  X509_free(caCert_);
}

absl::StatusOr<std::unique_ptr<Pki>> Pki::create(const std::string& dir) {
  RETURN_IF_ERROR(core::mkdirAll(dir, 0700));
  ASSIGN_OR_RETURN(KeyPtr key, newKey());
  ASSIGN_OR_RETURN(NamePtr name, makeName("fakeapi-ca", {}));
  CertSpec spec;
  spec.subject = name.get();
  spec.publicKey = key.get();
  spec.notBeforeOffset = -kBackdateSeconds;
  spec.notAfterOffset = 10L * 365 * 24 * 3600;
  spec.serial = 1;
  spec.extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                     {NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign"},
                     {NID_subject_key_identifier, "hash"}};
  ASSIGN_OR_RETURN(CertPtr cert, buildCert(spec, nullptr, key.get()));
  ASSIGN_OR_RETURN(std::string cPem, certPem(cert.get()));
  ASSIGN_OR_RETURN(std::string kPem, keyPem(key.get()));
  RETURN_IF_ERROR(core::writeFileAtomic(dir + "/ca.crt", cPem, 0644));
  RETURN_IF_ERROR(core::writeFileAtomic(dir + "/ca.key", kPem, 0600));
  return std::unique_ptr<Pki>(new Pki(dir, key.release(), cert.release(), std::move(cPem)));
}

absl::StatusOr<CertKeyPem> Pki::issueServerCert(const std::vector<std::string>& ipSans,
                                                const std::vector<std::string>& dnsSans) {
  ASSIGN_OR_RETURN(KeyPtr key, newKey());
  std::string cn = !dnsSans.empty() ? dnsSans[0] : (!ipSans.empty() ? ipSans[0] : "fakeapi");
  ASSIGN_OR_RETURN(NamePtr name, makeName(cn, {}));
  std::vector<std::string> sans;
  for (const auto& ip : ipSans) sans.push_back("IP:" + ip);
  for (const auto& dns : dnsSans) sans.push_back("DNS:" + dns);
  CertSpec spec;
  spec.subject = name.get();
  spec.publicKey = key.get();
  spec.notBeforeOffset = -kBackdateSeconds;
  spec.notAfterOffset = 365L * 24 * 3600;
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_authority_key_identifier, "keyid:always"}};
  if (!sans.empty()) spec.extensions.push_back({NID_subject_alt_name, absl::StrJoin(sans, ",")});
  CertKeyPem out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    spec.serial = nextSerial_++;
    ASSIGN_OR_RETURN(CertPtr cert, buildCert(spec, caCert_, caKey_));
    ASSIGN_OR_RETURN(out.certPem, certPem(cert.get()));
  }
  ASSIGN_OR_RETURN(out.keyPem, keyPem(key.get()));
  RETURN_IF_ERROR(core::writeFileAtomic(dir_ + "/server.crt", out.certPem, 0644));
  RETURN_IF_ERROR(core::writeFileAtomic(dir_ + "/server.key", out.keyPem, 0600));
  return out;
}

absl::StatusOr<CertKeyPem> Pki::issueClientCert(const std::string& cn,
                                                const std::vector<std::string>& orgs,
                                                std::chrono::seconds validity) {
  ASSIGN_OR_RETURN(KeyPtr key, newKey());
  ASSIGN_OR_RETURN(NamePtr name, makeName(cn, orgs));
  CertSpec spec;
  spec.subject = name.get();
  spec.publicKey = key.get();
  spec.notBeforeOffset = -kBackdateSeconds;
  spec.notAfterOffset = static_cast<long>(validity.count());
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "clientAuth"},
                     {NID_authority_key_identifier, "keyid:always"}};
  CertKeyPem out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    spec.serial = nextSerial_++;
    ASSIGN_OR_RETURN(CertPtr cert, buildCert(spec, caCert_, caKey_));
    ASSIGN_OR_RETURN(out.certPem, certPem(cert.get()));
  }
  ASSIGN_OR_RETURN(out.keyPem, keyPem(key.get()));
  return out;
}

absl::StatusOr<std::string> Pki::signCsr(const std::string& csrPem, std::chrono::seconds validity) {
  if (csrPem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string::npos) {
    return absl::InvalidArgumentError("CSR: no PEM block of type CERTIFICATE REQUEST");
  }
  BioPtr bio(BIO_new_mem_buf(csrPem.data(), static_cast<int>(csrPem.size())));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR: cannot parse CERTIFICATE REQUEST: ", sslErrors()));
  }
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: no public key: ", sslErrors()));
  }
  if (X509_REQ_verify(req.get(), pub) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR: signature does not verify: ", sslErrors()));
  }
  if (validity.count() <= 0) return absl::InvalidArgumentError("CSR: validity must be positive");
  std::string usage = EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA
                          ? "critical,digitalSignature,keyEncipherment"
                          : "critical,digitalSignature";
  CertSpec spec;
  spec.subject = X509_REQ_get_subject_name(req.get());
  spec.publicKey = pub;
  spec.notBeforeOffset = -kBackdateSeconds;
  spec.notAfterOffset = static_cast<long>(validity.count());
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, usage},
                     {NID_ext_key_usage, "clientAuth"},
                     {NID_authority_key_identifier, "keyid:always"}};
  std::lock_guard<std::mutex> lock(mu_);
  spec.serial = nextSerial_++;
  ASSIGN_OR_RETURN(CertPtr cert, buildCert(spec, caCert_, caKey_));
  return certPem(cert.get());
}

bool useCertKey(SSL_CTX* ctx, const CertKeyPem& cert) {
  BIO* bio = BIO_new_mem_buf(cert.certPem.data(), static_cast<int>(cert.certPem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bio = BIO_new_mem_buf(cert.keyPem.data(), static_cast<int>(cert.keyPem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bool ok = x && key && SSL_CTX_use_certificate(ctx, x) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

// An SSL_CTX serving `cert`, asking for (not requiring) client certificates and
// recording whether they chain to `caPem`; the handler decides (401 for bad ones,
// as kube-apiserver's x509 authenticator does).
absl::StatusOr<SSL_CTX*> makeServerContext(const CertKeyPem& cert, const std::string& caPem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  auto fail = [&](const std::string& what) {
    SSL_CTX_free(ctx);
    return absl::InternalError("fake API server TLS setup: " + what);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!useCertKey(ctx, cert)) return fail("server certificate/key");
  BIO* bio = BIO_new_mem_buf(caPem.data(), static_cast<int>(caPem.size()));
  X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (ca == nullptr) return fail("CA certificate");
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  SSL_CTX_add_client_CA(ctx, ca);
  X509_free(ca);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  static const unsigned char kSessionContext[] = "cubelet-fakeapi";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

}  // namespace cubelet::fakeapi

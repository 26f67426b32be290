#include "agent/server/http_tls.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace agent::server {
namespace internal {
namespace {

// A TLS 1.0-1.2 suite's parts in GnuTLS priority names (kx empty: a TLS 1.3
// suite, which Go does not let the list restrict).
struct SuiteParts {
  const char* kx;
  const char* cipher;
  const char* mac;
};

// The names the kubelet's --tls-cipher-suites takes (Go's tls.CipherSuites() and
// tls.InsecureCipherSuites(), plus the two legacy CHACHA20 aliases).
const std::map<std::string, SuiteParts>& suiteTable() {
  static const auto* table = new std::map<std::string, SuiteParts>{
      {"TLS_AES_128_GCM_SHA256", {"", "AES-128-GCM", "AEAD"}},
      {"TLS_AES_256_GCM_SHA384", {"", "AES-256-GCM", "AEAD"}},
      {"TLS_CHACHA20_POLY1305_SHA256", {"", "CHACHA20-POLY1305", "AEAD"}},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", {"ECDHE-ECDSA", "AES-128-CBC", "SHA1"}},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", {"ECDHE-ECDSA", "AES-256-CBC", "SHA1"}},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", {"ECDHE-RSA", "AES-128-CBC", "SHA1"}},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", {"ECDHE-RSA", "AES-256-CBC", "SHA1"}},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", {"ECDHE-ECDSA", "AES-128-GCM", "AEAD"}},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", {"ECDHE-ECDSA", "AES-256-GCM", "AEAD"}},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", {"ECDHE-RSA", "AES-128-GCM", "AEAD"}},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", {"ECDHE-RSA", "AES-256-GCM", "AEAD"}},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", {"ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"}},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
       {"ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"}},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", {"ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"}},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", {"ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"}},
      // Insecure ones, still accepted by the kubelet.
      {"TLS_RSA_WITH_RC4_128_SHA", {"RSA", "ARCFOUR-128", "SHA1"}},
      {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", {"RSA", "3DES-CBC", "SHA1"}},
      {"TLS_RSA_WITH_AES_128_CBC_SHA", {"RSA", "AES-128-CBC", "SHA1"}},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", {"RSA", "AES-256-CBC", "SHA1"}},
      {"TLS_RSA_WITH_AES_128_CBC_SHA256", {"RSA", "AES-128-CBC", "SHA256"}},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", {"RSA", "AES-128-GCM", "AEAD"}},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", {"RSA", "AES-256-GCM", "AEAD"}},
      {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", {"ECDHE-ECDSA", "ARCFOUR-128", "SHA1"}},
      {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", {"ECDHE-RSA", "ARCFOUR-128", "SHA1"}},
      {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", {"ECDHE-RSA", "3DES-CBC", "SHA1"}},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", {"ECDHE-ECDSA", "AES-128-CBC", "SHA256"}},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", {"ECDHE-RSA", "AES-128-CBC", "SHA256"}},
  };
  return *table;
}

void addUnique(std::vector<std::string>& v, const std::string& s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

absl::Status gnutlsError(const std::string& what, int rc) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", gnutls_strerror(rc)));
}

}  // namespace

absl::StatusOr<std::string> tlsPriorities(const std::string& minVersion,
                                          const std::vector<std::string>& cipherSuites) {
  static const std::vector<std::pair<std::string, std::string>> kVersions = {
      {"VersionTLS10", "VERS-TLS1.0"},
      {"VersionTLS11", "VERS-TLS1.1"},
      {"VersionTLS12", "VERS-TLS1.2"},
      {"VersionTLS13", "VERS-TLS1.3"}};
  std::string min = minVersion.empty() ? "VersionTLS12" : minVersion;
  auto it = std::find_if(kVersions.begin(), kVersions.end(),
                         [&](const auto& v) { return v.first == min; });
  if (it == kVersions.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tlsMinVersion: unknown TLS version \"", minVersion,
                     "\" (want VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13)"));
  }
  std::string prio = "NORMAL:-VERS-ALL";
  for (auto v = kVersions.rbegin(); v != kVersions.rend(); ++v) {
    absl::StrAppend(&prio, ":+", v->second);
    if (v->first == min) break;
  }
  if (!cipherSuites.empty()) {
    std::vector<std::string> kx, ciphers, macs;
    for (const auto& name : cipherSuites) {
      auto s = suiteTable().find(name);
      if (s == suiteTable().end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("tlsCipherSuites: unknown cipher suite \"", name, "\""));
      }
      addUnique(kx, s->second.kx);
      addUnique(ciphers, s->second.cipher);
      addUnique(macs, s->second.mac);
    }
    absl::StrAppend(&prio, ":-CIPHER-ALL:-MAC-ALL");
    for (const auto& c : ciphers) absl::StrAppend(&prio, ":+", c);
    for (const auto& m : macs) absl::StrAppend(&prio, ":+", m);
    // Only TLS 1.3 suites named: TLS 1.2 keeps the defaults' key exchanges.
    if (!kx.empty()) {
      absl::StrAppend(&prio, ":-KX-ALL");
      for (const auto& k : kx) absl::StrAppend(&prio, ":+", k);
    }
  }
  gnutls_priority_t p = nullptr;
  const char* errPos = nullptr;
  int rc = gnutls_priority_init(&p, prio.c_str(), &errPos);
  if (rc != GNUTLS_E_SUCCESS) {
    // Names GnuTLS no longer implements (RC4): the kubelet knows them, we cannot.
    return absl::InvalidArgumentError(
        absl::StrCat("tlsCipherSuites: not supported by this build's TLS library (GnuTLS ",
                     gnutls_check_version(nullptr), " rejects \"", errPos ? errPos : prio,
                     "\"): ", gnutls_strerror(rc)));
  }
  gnutls_priority_deinit(p);
  return prio;
}

absl::Status checkTlsMaterial(const TlsOptions& tls) {
  auto datum = [](const std::string& s) {
    return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
                          static_cast<unsigned int>(s.size())};
  };
  if (tls.certPem.empty()) return absl::InvalidArgumentError("tls certificate: empty");
  if (tls.keyPem.empty()) return absl::InvalidArgumentError("tls private key: empty");
  gnutls_datum_t cert = datum(tls.certPem);
  gnutls_x509_crt_t* list = nullptr;
  unsigned int n = 0;
  int rc = gnutls_x509_crt_list_import2(&list, &n, &cert, GNUTLS_X509_FMT_PEM, 0);
  if (rc < 0) return gnutlsError("tls certificate: not a PEM certificate", rc);
  for (unsigned int i = 0; i < n; ++i) gnutls_x509_crt_deinit(list[i]);
  gnutls_free(list);

  gnutls_datum_t key = datum(tls.keyPem);
  gnutls_x509_privkey_t pk = nullptr;
  gnutls_x509_privkey_init(&pk);
  rc = gnutls_x509_privkey_import2(pk, &key, GNUTLS_X509_FMT_PEM, nullptr, 0);
  gnutls_x509_privkey_deinit(pk);
  if (rc < 0) return gnutlsError("tls private key: not a PEM private key", rc);

  gnutls_certificate_credentials_t cred = nullptr;
  gnutls_certificate_allocate_credentials(&cred);
  rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
  gnutls_certificate_free_credentials(cred);
  if (rc < 0) return gnutlsError("tls certificate and private key do not match", rc);

  if (!tls.clientCaPem.empty()) {
    gnutls_datum_t ca = datum(tls.clientCaPem);
    list = nullptr;
    n = 0;
    rc = gnutls_x509_crt_list_import2(&list, &n, &ca, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) return gnutlsError("tls client CA: not a PEM certificate", rc);
    for (unsigned int i = 0; i < n; ++i) gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
  }
  return absl::OkStatus();
}

std::optional<PeerCertificate> peerCertificate(void* sessionPtr) {
  auto session = static_cast<gnutls_session_t>(sessionPtr);
  if (session == nullptr) return std::nullopt;
  unsigned int n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &n);
  if (certs == nullptr || n == 0) return std::nullopt;
  PeerCertificate peer;
  unsigned int status = 0;
  peer.verified =
      gnutls_certificate_verify_peers2(session, &status) == GNUTLS_E_SUCCESS && status == 0;
  gnutls_x509_crt_t crt = nullptr;
  gnutls_x509_crt_init(&crt);
  if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS) {
    auto field = [&](const char* oid, unsigned int index, std::string* out) {
      size_t size = 0;
      int rc = gnutls_x509_crt_get_dn_by_oid(crt, oid, index, 0, nullptr, &size);
      if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER) return false;
      std::string buf(size, '\0');
      if (gnutls_x509_crt_get_dn_by_oid(crt, oid, index, 0, buf.data(), &size) < 0) return false;
      buf.resize(size);  // without the terminating NUL
      *out = std::move(buf);
      return true;
    };
    field(GNUTLS_OID_X520_COMMON_NAME, 0, &peer.commonName);
    std::string org;
    for (unsigned int i = 0; field(GNUTLS_OID_X520_ORGANIZATION_NAME, i, &org); ++i) {
      peer.organizations.push_back(org);
    }
  } else {
    peer.verified = false;
  }
  gnutls_x509_crt_deinit(crt);
  return peer;
}

}  // namespace internal

absl::Status validateTlsSettings(const std::string& minVersion,
                                 const std::vector<std::string>& cipherSuites) {
  return internal::tlsPriorities(minVersion, cipherSuites).status();
}

}  // namespace agent::server

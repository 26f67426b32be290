// The fake API server's certificate authority: one self-signed CA kept in memory
// that issues the server's TLS certificate, client certificates for test identities,
// and signs approved CertificateSigningRequests the way kube-controller-manager's
// csrsigning controller does. The CA and server PEMs are also written under a
// directory so kubeconfigs and curl can point at them.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct ssl_ctx_st SSL_CTX;

namespace cubelet::fakeapi {

struct CertKeyPem {
  std::string certPem;
  std::string keyPem;  // PKCS#8 "PRIVATE KEY"
};

class Pki {
 public:
  // Makes a fresh EC P-256 CA (CN "fakeapi-ca", CA:TRUE, valid 10 years) and writes
  // <dir>/ca.crt and <dir>/ca.key (0600). `dir` is created if missing.
  static absl::StatusOr<std::unique_ptr<Pki>> create(const std::string& dir);
  ~Pki();
  Pki(const Pki&) = delete;
  Pki& operator=(const Pki&) = delete;

  const std::string& caCertPem() const { return caCertPem_; }
  std::string caFile() const { return dir_ + "/ca.crt"; }
  const std::string& dir() const { return dir_; }

  // A serving certificate (serverAuth, valid 1 year) with these SANs; also written
  // to <dir>/server.crt and <dir>/server.key.
  absl::StatusOr<CertKeyPem> issueServerCert(const std::vector<std::string>& ipSans,
                                             const std::vector<std::string>& dnsSans);
  // A client certificate (clientAuth) for subject CN=`cn`, O=each of `orgs`, valid
  // from 5 minutes ago (the signer's backdating) for `validity`.
  absl::StatusOr<CertKeyPem> issueClientCert(const std::string& cn,
                                             const std::vector<std::string>& orgs,
                                             std::chrono::seconds validity);
  // Signs a PEM "CERTIFICATE REQUEST" as the API server's signer does for an approved
  // CSR: the CSR's signature must verify; the certificate gets the CSR's subject and
  // public key, key usage digitalSignature (plus keyEncipherment for RSA keys),
  // extended key usage clientAuth, CA:FALSE, notBefore now - 5 min, notAfter now +
  // `validity`. A malformed or badly signed CSR is InvalidArgument.
  absl::StatusOr<std::string> signCsr(const std::string& csrPem, std::chrono::seconds validity);

 private:
  Pki(std::string dir, EVP_PKEY* key, X509* cert, std::string certPem);

  std::string dir_;
  EVP_PKEY* caKey_;
  X509* caCert_;
  std::string caCertPem_;
  std::mutex mu_;  // serializes signing with the CA key and the serial counter
  long nextSerial_ = 2;
};

// Loads `cert` into `ctx`; false unless both parse and the key matches.
bool useCertKey(SSL_CTX* ctx, const CertKeyPem& cert);
// An SSL_CTX serving `cert`, asking for (not requiring) client certificates and
// recording whether they chain to `caPem`; the handler decides (401 for bad ones,
// as kube-apiserver's x509 authenticator does).
absl::StatusOr<SSL_CTX*> makeServerContext(const CertKeyPem& cert, const std::string& caPem);

}  // namespace cubelet::fakeapi

// Certificate plumbing for the kubelet's client-certificate bootstrap and rotation:
// EC P-256 keys in the "EC PRIVATE KEY" PEM form the kubelet writes, node CSRs
// (O=system:nodes, CN=system:node:<node>), the bootstrap CSR's digested name, and
// reading certificates and the combined cert+key files under --cert-dir.
// OpenSSL stays inside certificate.cc.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/event_loop.h"

namespace agent::kubeapi {

// A fresh EC P-256 private key, PEM "EC PRIVATE KEY" (SEC 1), as keyutil writes it.
absl::StatusOr<std::string> generateEcPrivateKeyPem();

// Parses a PEM private key ("EC PRIVATE KEY", "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY"); an error says why it is not usable.
absl::Status validatePrivateKeyPem(const std::string& keyPem);

// A PEM "CERTIFICATE REQUEST" for subject O=`orgs`, CN=`cn`, signed with the key.
// Non-empty `dnsNames` / `ipAddresses` (IPv4 or IPv6 literals) are requested as a
// subjectAltName extension, as x509.CreateCertificateRequest does for a template's
// DNSNames / IPAddresses (the serving-certificate CSR); an unparsable IP is an error.
absl::StatusOr<std::string> makeCsrPem(const std::string& keyPem, const std::string& cn,
                                       const std::vector<std::string>& orgs,
                                       const std::vector<std::string>& dnsNames = {},
                                       const std::vector<std::string>& ipAddresses = {});

struct CsrInfo {
  std::string commonName;
  std::vector<std::string> organizations;
  std::string publicKeyDer;  // SubjectPublicKeyInfo
  // The requested subjectAltNames, in order (IPs in text form).
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;
};
// Decodes a PEM CSR and checks its self-signature.
absl::StatusOr<CsrInfo> parseCsrPem(const std::string& csrPem);

// The DER SubjectPublicKeyInfo of a private key's public half.
absl::StatusOr<std::string> publicKeyDer(const std::string& keyPem);

// The name the kubelet gives its bootstrap CSR: "node-csr-" + base64url(SHA-512/256
// over the public key, CN, each O and each usage, each base64url-encoded and
// '|'-terminated). Stable for a key, so a restart finds its earlier CSR.
absl::StatusOr<std::string> nodeCsrName(const std::string& keyPem, const std::string& cn,
                                        const std::vector<std::string>& orgs,
                                        const std::vector<std::string>& usages);

struct CertificateInfo {
  std::string commonName;
  std::vector<std::string> organizations;
  core::WallTime notBefore;
  core::WallTime notAfter;
  // subjectAltName DNS names and IP addresses (text form), in order.
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;
};
// Every CERTIFICATE block in `pem` (leaf first); an error when there is none.
absl::StatusOr<std::vector<CertificateInfo>> parseCertificatesPem(const std::string& pem);
// The first CERTIFICATE block.
absl::StatusOr<CertificateInfo> parseCertificatePem(const std::string& pem);

// OK when the private key is the one the (first) certificate was issued for.
absl::Status checkKeyMatchesCertificate(const std::string& certPem, const std::string& keyPem);

// A combined file as kubelet-client-current.pem: CERTIFICATE blocks, then the key.
struct CertKeyPair {
  std::string certPem;  // the CERTIFICATE blocks, in order
  std::string keyPem;   // the private key block
  CertificateInfo leaf;
};
// Splits and checks a combined PEM: at least one certificate, one private key,
// and the key matching the leaf.
absl::StatusOr<CertKeyPair> parseCertKeyPem(const std::string& combined);

}  // namespace agent::kubeapi

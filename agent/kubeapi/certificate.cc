#include "agent/kubeapi/certificate.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/kubeapi/openssl_util.h"
#include "core/status.h"

namespace agent::kubeapi {
namespace {

using namespace ossl;  // NOLINT: the helpers read as OpenSSL vocabulary here

absl::StatusOr<KeyPtr> loadKey(const std::string& keyPem) {
  if (keyPem.find("PRIVATE KEY-----") == std::string::npos) {
    return absl::InvalidArgumentError("no PEM private key block");
  }
  BioPtr bio = memBio(keyPem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError(absl::StrCat("invalid private key: ", sslErrors()));
  return key;
}

absl::StatusOr<CertPtr> loadCert(const std::string& pem) {
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError("no PEM block of type CERTIFICATE");
  }
  BioPtr bio = memBio(pem);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError(absl::StrCat("invalid certificate: ", sslErrors()));
  return cert;
}

std::string entryText(const X509_NAME_ENTRY* e) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
  if (n < 0) return "";
  std::string s(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return s;
}

void readName(const X509_NAME* name, std::string& cn, std::vector<std::string>& orgs) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid == NID_commonName) cn = entryText(e);
    if (nid == NID_organizationName) orgs.push_back(entryText(e));
  }
}

// An IP SAN's octets as text ("10.0.0.1", "fd00::1"); "" when malformed.
std::string ipText(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  int len = ASN1_STRING_length(ip);
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof(buf)) != nullptr) return buf;
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof(buf)) != nullptr) return buf;
  return "";
}

void readSans(const GENERAL_NAMES* names, std::vector<std::string>& dns,
              std::vector<std::string>& ips) {
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      ips.push_back(ipText(n->d.iPAddress));
    }
  }
}

absl::StatusOr<core::WallTime> toWallTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InvalidArgumentError("invalid certificate time");
  time_t secs = timegm(&tm);
  return core::WallTime(std::chrono::seconds(secs));
}

absl::StatusOr<std::string> spkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return absl::InternalError(absl::StrCat("encode public key: ", sslErrors()));
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<CertificateInfo> certInfo(X509* cert) {
  CertificateInfo info;
  readName(X509_get_subject_name(cert), info.commonName, info.organizations);
  ASSIGN_OR_RETURN(info.notBefore, toWallTime(X509_get0_notBefore(cert)));
  ASSIGN_OR_RETURN(info.notAfter, toWallTime(X509_get0_notAfter(cert)));
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    readSans(sans, info.dnsNames, info.ipAddresses);
    GENERAL_NAMES_free(sans);
  }
  return info;
}

// The PEM blocks of `pem` in order: {type, whole block text}.
std::vector<std::pair<std::string, std::string>> pemBlocks(const std::string& pem) {
  std::vector<std::pair<std::string, std::string>> out;
  constexpr std::string_view kBegin = "-----BEGIN ";
  size_t pos = 0;
  while ((pos = pem.find(kBegin, pos)) != std::string::npos) {
    size_t typeEnd = pem.find("-----", pos + kBegin.size());
    if (typeEnd == std::string::npos) break;
    std::string type = pem.substr(pos + kBegin.size(), typeEnd - pos - kBegin.size());
    std::string endMarker = "-----END " + type + "-----";
    size_t end = pem.find(endMarker, typeEnd);
    if (end == std::string::npos) break;
    end += endMarker.size();
    out.emplace_back(type, pem.substr(pos, end - pos) + "\n");
    pos = end;
  }
  return out;
}

// Adds a subjectAltName extension request (DNS names, then IPs) to `req`.
absl::Status addSubjectAltNames(X509_REQ* req, const std::vector<std::string>& dnsNames,
                                const std::vector<std::string>& ipAddresses) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  if (names == nullptr) return absl::InternalError("out of memory");
  auto fail = [&](absl::Status s) {
    GENERAL_NAMES_free(names);
    return s;
  };
  for (const auto& d : dnsNames) {
    GENERAL_NAME* n = GENERAL_NAME_new();
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (n == nullptr || s == nullptr ||
        ASN1_STRING_set(s, d.data(), static_cast<int>(d.size())) != 1) {
      GENERAL_NAME_free(n);
      ASN1_IA5STRING_free(s);
      return fail(absl::InternalError(absl::StrCat("CSR DNS name ", d, ": ", sslErrors())));
    }
    GENERAL_NAME_set0_value(n, GEN_DNS, s);
    sk_GENERAL_NAME_push(names, n);
  }
  for (const auto& ip : ipAddresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      ERR_clear_error();
      return fail(absl::InvalidArgumentError(
          absl::StrCat("CSR IP address \"", ip, "\": not an IP address")));
    }
    GENERAL_NAME* n = GENERAL_NAME_new();
    if (n == nullptr) {
      ASN1_OCTET_STRING_free(octets);
      return fail(absl::InternalError("out of memory"));
    }
    GENERAL_NAME_set0_value(n, GEN_IPADD, octets);
    sk_GENERAL_NAME_push(names, n);
  }
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
  GENERAL_NAMES_free(names);
  bool ok = exts != nullptr && ext != nullptr && sk_X509_EXTENSION_push(exts, ext) > 0;
  if (ok) ext = nullptr;  // owned by exts now
  ok = ok && X509_REQ_add_extensions(req, exts) == 1;
  X509_EXTENSION_free(ext);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ok) return absl::InternalError(absl::StrCat("CSR subjectAltName: ", sslErrors()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> generateEcPrivateKeyPem() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError(absl::StrCat("generate EC P-256 key: ", sslErrors()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  // The "traditional" writer gives SEC 1 "EC PRIVATE KEY", like x509.MarshalECPrivateKey.
  if (!bio || PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("encode EC private key: ", sslErrors()));
  }
  return bioString(bio.get());
}

absl::Status validatePrivateKeyPem(const std::string& keyPem) { return loadKey(keyPem).status(); }

absl::StatusOr<std::string> makeCsrPem(const std::string& keyPem, const std::string& cn,
                                       const std::vector<std::string>& orgs,
                                       const std::vector<std::string>& dnsNames,
                                       const std::vector<std::string>& ipAddresses) {
  ASSIGN_OR_RETURN(KeyPtr key, loadKey(keyPem));
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) {
    return absl::InternalError(absl::StrCat("X509_REQ_new: ", sslErrors()));
  }
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& o : orgs) {
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.data()),
                                   static_cast<int>(o.size()), -1, 0) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("CSR subject O=", o, ": ", sslErrors()));
    }
  }
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("CSR subject CN=", cn, ": ", sslErrors()));
  }
  if (!dnsNames.empty() || !ipAddresses.empty()) {
    RETURN_IF_ERROR(addSubjectAltNames(req.get(), dnsNames, ipAddresses));
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("sign CSR: ", sslErrors()));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return absl::InternalError(absl::StrCat("encode CSR: ", sslErrors()));
  }
  return bioString(bio.get());
}

absl::StatusOr<CsrInfo> parseCsrPem(const std::string& csrPem) {
  if (csrPem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string::npos) {
    return absl::InvalidArgumentError("no PEM block of type CERTIFICATE REQUEST");
  }
  BioPtr bio = memBio(csrPem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return absl::InvalidArgumentError(absl::StrCat("invalid CSR: ", sslErrors()));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || X509_REQ_verify(req.get(), pub) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("CSR signature does not verify: ", sslErrors()));
  }
  CsrInfo info;
  readName(X509_REQ_get_subject_name(req.get()), info.commonName, info.organizations);
  ASSIGN_OR_RETURN(info.publicKeyDer, spkiDer(pub));
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  if (exts != nullptr) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      auto* sans = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
      if (sans != nullptr) {
        readSans(sans, info.dnsNames, info.ipAddresses);
        GENERAL_NAMES_free(sans);
      }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  ERR_clear_error();
  return info;
}

absl::StatusOr<std::string> publicKeyDer(const std::string& keyPem) {
  ASSIGN_OR_RETURN(KeyPtr key, loadKey(keyPem));
  return spkiDer(key.get());
}

absl::StatusOr<std::string> nodeCsrName(const std::string& keyPem, const std::string& cn,
                                        const std::vector<std::string>& orgs,
                                        const std::vector<std::string>& usages) {
  ASSIGN_OR_RETURN(std::string pub, publicKeyDer(keyPem));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512_256(), nullptr) != 1) {
    return absl::InternalError(absl::StrCat("SHA-512/256: ", sslErrors()));
  }
  auto write = [&](const std::string& data) {
    std::string enc = absl::WebSafeBase64Escape(data);
    EVP_DigestUpdate(ctx.get(), enc.data(), enc.size());
    EVP_DigestUpdate(ctx.get(), "|", 1);
  };
  write(pub);
  write(cn);
  for (const auto& o : orgs) write(o);
  for (const auto& u : usages) write(u);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &n) != 1) {
    return absl::InternalError(absl::StrCat("SHA-512/256: ", sslErrors()));
  }
  return absl::StrCat("node-csr-",
                      absl::WebSafeBase64Escape(std::string(reinterpret_cast<char*>(digest), n)));
}

absl::StatusOr<std::vector<CertificateInfo>> parseCertificatesPem(const std::string& pem) {
  std::vector<CertificateInfo> out;
  for (const auto& [type, block] : pemBlocks(pem)) {
    if (type != "CERTIFICATE") continue;
    ASSIGN_OR_RETURN(CertPtr cert, loadCert(block));
    ASSIGN_OR_RETURN(CertificateInfo info, certInfo(cert.get()));
    out.push_back(std::move(info));
  }
  if (out.empty()) return absl::InvalidArgumentError("no PEM block of type CERTIFICATE");
  return out;
}

absl::StatusOr<CertificateInfo> parseCertificatePem(const std::string& pem) {
  ASSIGN_OR_RETURN(CertPtr cert, loadCert(pem));
  return certInfo(cert.get());
}

absl::Status checkKeyMatchesCertificate(const std::string& certPem, const std::string& keyPem) {
  ASSIGN_OR_RETURN(CertPtr cert, loadCert(certPem));
  ASSIGN_OR_RETURN(KeyPtr key, loadKey(keyPem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key does not match public key");
  }
  return absl::OkStatus();
}

absl::StatusOr<CertKeyPair> parseCertKeyPem(const std::string& combined) {
  CertKeyPair pair;
  for (const auto& [type, block] : pemBlocks(combined)) {
    if (type == "CERTIFICATE") {
      pair.certPem += block;
    } else if (type.size() >= 11 && type.compare(type.size() - 11, 11, "PRIVATE KEY") == 0) {
      if (!pair.keyPem.empty()) return absl::InvalidArgumentError("more than one private key");
      pair.keyPem = block;
    }
  }
  if (pair.certPem.empty()) return absl::InvalidArgumentError("no PEM block of type CERTIFICATE");
  if (pair.keyPem.empty()) return absl::InvalidArgumentError("no PEM private key block");
  RETURN_IF_ERROR(checkKeyMatchesCertificate(pair.certPem, pair.keyPem));
  ASSIGN_OR_RETURN(pair.leaf, parseCertificatePem(pair.certPem));
  return pair;
}

}  // namespace agent::kubeapi

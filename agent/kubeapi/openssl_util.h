// Small OpenSSL helpers shared by the certificate code and the test PKI: owning
// pointers, the error queue as text, and memory BIOs.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace agent::kubeapi::ossl {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using ReqPtr = std::unique_ptr<X509_REQ, Free>;
using NamePtr = std::unique_ptr<X509_NAME, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free>;

// The OpenSSL error queue as text (and emptied), for error messages.
std::string sslErrors();
// A read-only BIO over `data`, which must outlive it.
BioPtr memBio(const std::string& data);
// What a memory BIO holds.
std::string bioString(BIO* bio);

}  // namespace agent::kubeapi::ossl

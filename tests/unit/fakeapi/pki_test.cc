#include "tests/fakeapi/pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakeapi/authn.h"

namespace cubelet::fakeapi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using Cert = std::unique_ptr<X509, CertDeleter>;

Cert parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return Cert(c);
}

// Verifies `leaf` against the CA PEM for `purpose` (X509_PURPOSE_SSL_SERVER/CLIENT).
bool verifies(const std::string& caPem, X509* leaf, int purpose) {
  Cert ca = parse(caPem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int ok = X509_verify_cert(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok == 1;
}

std::vector<std::string> sans(X509* c) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(c, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.push_back(
          "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName))));
    } else if (n->type == GEN_IPADD) {
      const unsigned char* p = ASN1_STRING_get0_data(n->d.iPAddress);
      if (ASN1_STRING_length(n->d.iPAddress) == 4) {
        out.push_back("IP:" + std::to_string(p[0]) + "." + std::to_string(p[1]) + "." +
                      std::to_string(p[2]) + "." + std::to_string(p[3]));
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

// A CSR for CN/O signed by a fresh EC key, as a client would send it.
std::string makeCsr(const std::string& cn, const std::string& o) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME* name = X509_REQ_get_subject_name(req);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req, key);
  X509_REQ_sign(req, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return pem;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pki_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pki = Pki::create(dir_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
  }
  void TearDown() override { (void)core::removeAll(dir_); }

  std::string dir_;
  std::unique_ptr<Pki> pki_;
};

TEST_F(PkiTest, CaIsSelfSignedCaWrittenToDir) {
  EXPECT_EQ(pki_->caFile(), dir_ + "/pki/ca.crt");
  auto onDisk = core::readFile(pki_->caFile());
  ASSERT_TRUE(onDisk.ok());
  EXPECT_EQ(*onDisk, pki_->caCertPem());
  Cert ca = parse(pki_->caCertPem());
  ASSERT_TRUE(ca);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(verifies(pki_->caCertPem(), ca.get(), X509_PURPOSE_ANY));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/pki/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(PkiTest, ServerCertHasSansAndVerifiesForServing) {
  auto kp = pki_->issueServerCert({"127.0.0.1"}, {"localhost"});
  ASSERT_TRUE(kp.ok()) << kp.status();
  Cert c = parse(kp->certPem);
  ASSERT_TRUE(c);
  EXPECT_THAT(sans(c.get()), UnorderedElementsAre("IP:127.0.0.1", "DNS:localhost"));
  EXPECT_TRUE(verifies(pki_->caCertPem(), c.get(), X509_PURPOSE_SSL_SERVER));
  EXPECT_FALSE(verifies(pki_->caCertPem(), c.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_EQ(X509_check_ip_asc(c.get(), "127.0.0.1", 0), 1);
  EXPECT_TRUE(core::readFile(dir_ + "/pki/server.crt").ok());
  EXPECT_THAT(kp->keyPem, HasSubstr("PRIVATE KEY"));
}

TEST_F(PkiTest, ClientCertCarriesIdentity) {
  auto kp = pki_->issueClientCert("system:node:n1", {"system:nodes"}, std::chrono::hours(1));
  ASSERT_TRUE(kp.ok()) << kp.status();
  Cert c = parse(kp->certPem);
  ASSERT_TRUE(c);
  EXPECT_TRUE(verifies(pki_->caCertPem(), c.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_FALSE(verifies(pki_->caCertPem(), c.get(), X509_PURPOSE_SSL_SERVER));
  auto u = userFromPeerCertificate(c.get());
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->name, "system:node:n1");
  EXPECT_THAT(u->groups, ElementsAre("system:nodes", "system:authenticated"));
  // Validity: from 5 minutes ago (backdating) to one hour from now.
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c.get()), X509_get0_notAfter(c.get()));
  EXPECT_EQ(days * 86400 + secs, 3600 + 300);
}

TEST_F(PkiTest, SignCsrCopiesSubjectAndIsClientAuth) {
  auto pem = pki_->signCsr(makeCsr("system:node:n2", "system:nodes"), std::chrono::hours(24));
  ASSERT_TRUE(pem.ok()) << pem.status();
  Cert c = parse(*pem);
  ASSERT_TRUE(c);
  EXPECT_TRUE(verifies(pki_->caCertPem(), c.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_EQ(X509_get_extended_key_usage(c.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_key_usage(c.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_check_ca(c.get()), 0);
  auto u = userFromPeerCertificate(c.get());
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->name, "system:node:n2");
  EXPECT_THAT(u->groups, ElementsAre("system:nodes", "system:authenticated"));
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c.get()), X509_get0_notAfter(c.get()));
  EXPECT_EQ(days * 86400 + secs, 86400 + 300);
}

TEST_F(PkiTest, SignCsrRejectsMalformedInput) {
  std::string good = makeCsr("system:node:n3", "system:nodes");
  // Flip a character in the middle of the base64 body: the signature (or the DER)
  // no longer holds.
  std::string tampered = good;
  size_t mid = tampered.find('\n') + 40;
  tampered[mid] = tampered[mid] == 'A' ? 'B' : 'A';
  struct Case {
    std::string name, pem, want;
  } cases[] = {
      {"empty", "", "no PEM block of type CERTIFICATE REQUEST"},
      {"certificate instead", pki_->caCertPem(), "no PEM block of type CERTIFICATE REQUEST"},
      {"garbage body",
       "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
       "cannot parse CERTIFICATE REQUEST"},
      {"tampered", tampered, "CSR: "},
  };
  for (const auto& c : cases) {
    auto r = pki_->signCsr(c.pem, std::chrono::hours(1));
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.want)) << c.name;
  }
}

TEST(UserFromPeerCertificate, NoCertificateNoUser) {
  EXPECT_FALSE(userFromPeerCertificate(nullptr).has_value());
}

TEST(TokenAuthenticator, KnownTokensOnly) {
  TokenAuthenticator t;
  t.add("secret-admin", UserInfo{"admin", {"system:masters"}});
  auto u = t.authenticate("secret-admin");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->name, "admin");
  EXPECT_THAT(u->groups, ElementsAre("system:masters", "system:authenticated"));
  EXPECT_FALSE(t.authenticate("other").has_value());
  EXPECT_FALSE(t.authenticate("").has_value());
}

}  // namespace
}  // namespace cubelet::fakeapi

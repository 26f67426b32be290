#include "agent/kubeapi/certificate.h"

#include <stdlib.h>

#include <chrono>
#include <string>

#include "core/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakeapi/pki.h"

namespace agent::kubeapi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fixed P-256 key; its expected CSR name was computed independently (Python:
// hashlib sha512_256 over urlsafe-b64 parts, each followed by '|').
constexpr char kFixedKey[] = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIrorHxdYr8vIO7yLtU263rOV/ZHb8F/Dz78epou9U+5oAoGCCqGSM49
AwEHoUQDQgAE1g7KrTR4H5r8HsZM0JRLWn5OQ6qEGEsoiKi24ckvdjA5K6t+kYCU
IziV4wuZVFaFlBzUb4x4Pp/y5yxy0aAhzw==
-----END EC PRIVATE KEY-----
)";

class CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/certificate_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pki = cubelet::fakeapi::Pki::create(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
  }
  void TearDown() override { (void)core::removeAll(dir_); }

  std::string dir_;
  std::unique_ptr<cubelet::fakeapi::Pki> pki_;
};

TEST_F(CertificateTest, GeneratedKeyIsSec1EcKey) {
  auto key = generateEcPrivateKeyPem();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, StartsWith("-----BEGIN EC PRIVATE KEY-----\n"));
  EXPECT_TRUE(validatePrivateKeyPem(*key).ok());
  auto other = generateEcPrivateKeyPem();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*key, *other);
}

TEST_F(CertificateTest, InvalidKeysAreRejected) {
  EXPECT_FALSE(validatePrivateKeyPem("").ok());
  EXPECT_FALSE(validatePrivateKeyPem(pki_->caCertPem()).ok());
  EXPECT_FALSE(
      validatePrivateKeyPem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")
          .ok());
}

TEST_F(CertificateTest, CsrCarriesSubjectAndKey) {
  auto csr = makeCsrPem(kFixedKey, "system:node:n1", {"system:nodes"});
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_THAT(*csr, StartsWith("-----BEGIN CERTIFICATE REQUEST-----"));
  auto info = parseCsrPem(*csr);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->commonName, "system:node:n1");
  EXPECT_THAT(info->organizations, ElementsAre("system:nodes"));
  EXPECT_EQ(info->publicKeyDer, *publicKeyDer(kFixedKey));
}

TEST_F(CertificateTest, NodeCsrNameMatchesKubeletDigest) {
  auto name = nodeCsrName(kFixedKey, "system:node:n1", {"system:nodes"},
                          {"digital signature", "client auth"});
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "node-csr-V17IDeNx26kchGlkpU0HJPijFv16Td_MFkXtrfzcgck");
  // Any other input gives another name.
  EXPECT_NE(*nodeCsrName(kFixedKey, "system:node:n2", {"system:nodes"},
                         {"digital signature", "client auth"}),
            *name);
  EXPECT_NE(*nodeCsrName(kFixedKey, "system:node:n1", {"system:nodes"}, {"client auth"}), *name);
}

TEST_F(CertificateTest, SignedCsrParsesWithValidity) {
  auto csr = makeCsrPem(kFixedKey, "system:node:n1", {"system:nodes"});
  ASSERT_TRUE(csr.ok());
  auto cert = pki_->signCsr(*csr, std::chrono::hours(24));
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto info = parseCertificatePem(*cert);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->commonName, "system:node:n1");
  EXPECT_THAT(info->organizations, ElementsAre("system:nodes"));
  EXPECT_EQ(info->notAfter - info->notBefore, std::chrono::hours(24) + std::chrono::minutes(5));
  auto now = std::chrono::system_clock::now();
  EXPECT_LT(info->notBefore, now);
  EXPECT_GT(info->notAfter, now + std::chrono::hours(23));
  EXPECT_TRUE(checkKeyMatchesCertificate(*cert, kFixedKey).ok());
  auto otherKey = generateEcPrivateKeyPem();
  ASSERT_TRUE(otherKey.ok());
  auto mismatch = checkKeyMatchesCertificate(*cert, *otherKey);
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("does not match"));
}

TEST_F(CertificateTest, CombinedPem) {
  auto csr = makeCsrPem(kFixedKey, "system:node:n1", {"system:nodes"});
  auto cert = pki_->signCsr(*csr, std::chrono::hours(1));
  ASSERT_TRUE(cert.ok());
  auto pair = parseCertKeyPem(*cert + kFixedKey);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->certPem, *cert);
  EXPECT_EQ(pair->keyPem, kFixedKey);
  EXPECT_EQ(pair->leaf.commonName, "system:node:n1");
  // Certificate chain: every certificate is listed, the leaf parsed.
  auto chain = parseCertificatesPem(*cert + pki_->caCertPem());
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1].commonName, "fakeapi-ca");

  auto otherKey = generateEcPrivateKeyPem();
  struct Case {
    std::string name, pem, want;
  } cases[] = {
      {"no key", *cert, "no PEM private key block"},
      {"no cert", kFixedKey, "no PEM block of type CERTIFICATE"},
      {"wrong key", *cert + *otherKey, "does not match"},
      {"two keys", *cert + kFixedKey + *otherKey, "more than one private key"},
  };
  for (const auto& c : cases) {
    auto r = parseCertKeyPem(c.pem);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.want)) << c.name;
  }
}

}  // namespace
}  // namespace agent::kubeapi

#include "tests/fakeapi/authn.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <algorithm>

namespace cubelet::fakeapi {
namespace {

void addAuthenticated(UserInfo& u) {
  if (std::find(u.groups.begin(), u.groups.end(), kAuthenticatedGroup) == u.groups.end()) {
    u.groups.push_back(kAuthenticatedGroup);
  }
}

std::string entryText(const X509_NAME_ENTRY* e) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
  if (n < 0) return "";
  std::string s(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return s;
}

}  // namespace

std::optional<UserInfo> userFromPeerCertificate(X509* peer) {
  if (peer == nullptr) return std::nullopt;
  const X509_NAME* subject = X509_get_subject_name(peer);
  UserInfo u;
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid == NID_commonName) {
      u.name = entryText(e);  // the last CN wins, as Go's pkix.Name parsing
    } else if (nid == NID_organizationName) {
      u.groups.push_back(entryText(e));
    }
  }
  if (u.name.empty()) return std::nullopt;
  addAuthenticated(u);
  return u;
}

void TokenAuthenticator::add(const std::string& token, UserInfo u) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token] = std::move(u);
}

std::optional<UserInfo> TokenAuthenticator::authenticate(const std::string& bearerToken) const {
  if (bearerToken.empty()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(bearerToken);
  if (it == tokens_.end()) return std::nullopt;
  UserInfo u = it->second;
  addAuthenticated(u);
  return u;
}

}  // namespace cubelet::fakeapi

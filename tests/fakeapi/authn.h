// Authentication for the fake API server, as kube-apiserver does it: a verified
// client certificate names the user (CN) and groups (each O); a bearer token is
// looked up in a static table. Every authenticated user is also in
// "system:authenticated".
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

typedef struct x509_st X509;

namespace cubelet::fakeapi {

inline constexpr char kAuthenticatedGroup[] = "system:authenticated";

struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
};

// The user of an already verified peer certificate: CN -> name, each O -> a group,
// plus "system:authenticated". No user when `peer` is null or has no CN (as the
// API server's x509 authenticator).
std::optional<UserInfo> userFromPeerCertificate(X509* peer);

// Static bearer tokens. Thread-safe: the server's threads authenticate while a
// test adds tokens.
class TokenAuthenticator {
 public:
  void add(const std::string& token, UserInfo u);
  // The user, with "system:authenticated" added; nothing for an unknown or empty token.
  std::optional<UserInfo> authenticate(const std::string& bearerToken) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, UserInfo> tokens_;
};

}  // namespace cubelet::fakeapi

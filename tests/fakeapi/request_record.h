// One HTTP request as the fake API server saw it, for tests to assert on.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace cubelet::fakeapi {

struct RequestRecord {
  std::string method, path, query, user;  // query: raw (escaped); user: "" if unauthenticated
  std::vector<std::string> groups;
  int code = 0;         // HTTP status (200 for a watch that started streaming)
  bool denied = false;  // refused by the authorizer or by NodeRestriction admission
  std::chrono::steady_clock::time_point at;
};

struct HttpRequest;
struct UserInfo;
// The record of `req`, answered `code` for `user` (null: unauthenticated), now.
RequestRecord recordOf(const HttpRequest& req, const UserInfo* user, int code, bool denied);

}  // namespace cubelet::fakeapi

#include "tests/fakeapi/request_record.h"

#include "tests/fakeapi/authn.h"
#include "tests/fakeapi/tls_http_server.h"

namespace cubelet::fakeapi {

RequestRecord recordOf(const HttpRequest& req, const UserInfo* user, int code, bool denied) {
  return RequestRecord{req.method,
                       req.path,
                       req.query,
                       user ? user->name : "",
                       user ? user->groups : std::vector<std::string>{},
                       code,
                       denied,
                       std::chrono::steady_clock::now()};
}

}  // namespace cubelet::fakeapi

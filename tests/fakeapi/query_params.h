// Query strings of requests to the fake API server: form decoding as Go's
// url.QueryUnescape ('+' is a space, bad %-escapes kept as they are) and the
// key=value pairs in order.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cubelet::fakeapi {

std::string queryUnescape(std::string_view s);
// Every key=value of `query` (still escaped), decoded, in order; "k" alone has "".
std::vector<std::pair<std::string, std::string>> queryParams(std::string_view query);

}  // namespace cubelet::fakeapi

// Discovery and health answers of the fake API server: /version, /healthz, /readyz,
// /livez, /api, /apis, /api/v1 and /apis/<group>/<version> resource lists.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace cubelet::fakeapi {

struct DiscoveryAnswer {
  std::string contentType;
  std::string body;
};

// The answer for a GET of `path`, or nothing when `path` is not a discovery/health path.
// `address` is the server's host:port for serverAddressByClientCIDRs.
std::optional<DiscoveryAnswer> discoveryAnswer(const std::string& path, const std::string& address);

}  // namespace cubelet::fakeapi

// The HTTP check's request side: the probe's URL as the kubelet formats it,
// Location resolution for redirects, and the request the kubelet's Go client
// sends (its default headers, the spec's headers canonicalized as Go does). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace probes {

struct HttpUrl {
  std::string scheme;      // "http" or "https" (lower case)
  std::string authority;   // as written in the URL: "127.0.0.1:8080", "[::1]:80", "example.com"
  std::string hostname;    // without brackets or port: what redirects compare
  int32_t port = 0;        // the default for the scheme when the URL gives none
  std::string requestUri;  // path and query, always starting with "/"
  std::string str() const { return scheme + "://" + authority + requestUri; }
};

// The probe's own URL (the kubelet's formatURL: scheme, host:port, path as given).
HttpUrl probeUrl(const std::string& scheme, const std::string& host, int32_t port,
                 const std::string& path);

// Resolves a Location header against the URL it came from (RFC 3986 reference
// resolution). On error returns nullopt and sets `error`, Go-like.
std::optional<HttpUrl> resolveLocation(const HttpUrl& base, std::string_view location,
                                       std::string& error);

// The GET request for `url`. `host` overrides the Host header when not empty
// (the spec's Host header, which is otherwise skipped); `referer` is sent when
// not empty (redirects).
std::string buildProbeRequest(const HttpUrl& url,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& host, const std::string& referer);

}  // namespace probes

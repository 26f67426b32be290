#include "probes/http_check_request.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "probes/checks.h"
#include "probes/dial_check.h"
#include "probes/http_check_parser.h"

namespace probes {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

// Go's http.Header.Add canonicalizes names ("x-custom" → "X-Custom"); names with
// characters outside a token are left alone, as Go leaves them.
std::string canonicalHeaderName(std::string name) {
  for (char c : name) {
    if (c <= ' ' || c >= 0x7f || std::strchr("\"(),/:;<=>?@[\\]{}", c) != nullptr) return name;
  }
  bool upper = true;
  for (char& c : name) {
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return name;
}

}  // namespace

std::string buildProbeRequest(const HttpUrl& url,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& host, const std::string& referer) {
  std::string r = "GET " + url.requestUri + " HTTP/1.1\r\n";
  r += "Host: " + (host.empty() ? url.authority : host) + "\r\n";
  bool userAgent = false, accept = false, connectionClose = false;
  std::string rest;
  for (const auto& [rawName, value] : headers) {
    std::string name = canonicalHeaderName(rawName);
    if (name == "Host") continue;
    if (name == "User-Agent") {
      // Go sends the first one only, and none when it is empty.
      if (!userAgent && !value.empty()) r += "User-Agent: " + value + "\r\n";
      userAgent = true;
      continue;
    }
    if (name == "Accept") {
      accept = true;
      if (value.empty()) continue;  // the kubelet drops an Accept given empty
    }
    if (name == "Connection" && iequals(value, "close")) connectionClose = true;
    rest += name + ": " + value + "\r\n";
  }
  if (!userAgent) r += std::string("User-Agent: ") + kProbeUserAgent + "\r\n";
  r += rest;
  if (!accept) r += "Accept: */*\r\n";
  if (!referer.empty()) r += "Referer: " + referer + "\r\n";
  if (!connectionClose) r += "Connection: close\r\n";
  return r + "\r\n";
}

HttpUrl probeUrl(const std::string& scheme, const std::string& host, int32_t port,
                 const std::string& path) {
  HttpUrl u;
  u.scheme = scheme.empty() ? "http" : lower(scheme);
  u.hostname = host;
  u.port = port;
  u.authority = joinHostPort(host, port);
  std::string p = path.substr(0, path.find('#'));
  u.requestUri = p.empty() || p[0] != '/' ? "/" + p : p;
  return u;
}

namespace {

// Splits "host[:port]" or "[v6][:port]" as Go's url package does.
bool parseAuthority(std::string_view auth, const std::string& scheme, HttpUrl& u,
                    std::string& error) {
  std::string_view host = auth, port;
  if (!auth.empty() && auth[0] == '[') {
    size_t close = auth.find(']');
    if (close == std::string_view::npos) {
      error = "missing ']' in host";
      return false;
    }
    host = auth.substr(1, close - 1);
    std::string_view rest = auth.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        error = "invalid port " + goQuote(rest) + " after host";
        return false;
      }
      port = rest.substr(1);
    }
  } else if (size_t colon = auth.rfind(':'); colon != std::string_view::npos) {
    host = auth.substr(0, colon);
    port = auth.substr(colon + 1);
  }
  if (!port.empty() &&
      (!allDigits(port) || port.size() > 5 || std::stoi(std::string(port)) > 65535)) {
    error = "invalid port " + goQuote(":" + std::string(port)) + " after host";
    return false;
  }
  if (host.empty()) {
    error = "http: no Host in request URL";
    return false;
  }
  u.authority = std::string(auth);
  u.hostname = std::string(host);
  u.port = !port.empty() ? std::stoi(std::string(port)) : (scheme == "https" ? 443 : 80);
  return true;
}

// RFC 3986 section 5.2.4.
std::string removeDotSegments(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 1;  // path starts with '/'
  bool trailingSlash = false;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string seg = path.substr(pos, next - pos);
    trailingSlash = seg == "." || seg == "..";
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (seg != ".") {
      out.push_back(seg);
    }
    pos = next + 1;
  }
  std::string result;
  for (const std::string& s : out) result += "/" + s;
  if (trailingSlash || result.empty()) result += "/";
  return result;
}

}  // namespace

std::optional<HttpUrl> resolveLocation(const HttpUrl& base, std::string_view location,
                                       std::string& error) {
  std::string loc(location.substr(0, location.find('#')));
  HttpUrl u = base;
  std::string ref = loc;
  size_t colon = loc.find(':');
  size_t firstDelim = loc.find_first_of("/?");
  bool hasScheme = colon != std::string::npos && colon > 0 &&
                   (firstDelim == std::string::npos || colon < firstDelim) &&
                   std::isalpha(static_cast<unsigned char>(loc[0]));
  if (hasScheme) {
    // Another scheme is refused when the request is made, after the redirect
    // checks, as Go's client does.
    u.scheme = lower(loc.substr(0, colon));
    ref = loc.substr(colon + 1);
    if (ref.compare(0, 2, "//") != 0) {
      error = "http: no Host in request URL";
      return std::nullopt;
    }
  }
  std::string pathAndQuery;
  if (ref.compare(0, 2, "//") == 0) {
    size_t end = ref.find_first_of("/?", 2);
    std::string auth = ref.substr(2, end == std::string::npos ? std::string::npos : end - 2);
    if (!parseAuthority(auth, u.scheme, u, error)) return std::nullopt;
    pathAndQuery = end == std::string::npos ? "" : ref.substr(end);
  } else if (!ref.empty() && ref[0] == '/') {
    pathAndQuery = ref;
  } else {
    std::string basePath = base.requestUri.substr(0, base.requestUri.find('?'));
    if (ref.empty()) {
      pathAndQuery = base.requestUri;
    } else if (ref[0] == '?') {
      pathAndQuery = basePath + ref;
    } else {
      pathAndQuery = basePath.substr(0, basePath.rfind('/') + 1) + ref;
    }
  }
  size_t q = pathAndQuery.find('?');
  std::string path = pathAndQuery.substr(0, q);
  std::string query = q == std::string::npos ? "" : pathAndQuery.substr(q);
  u.requestUri = removeDotSegments(path.empty() ? "/" : path) + query;
  return u;
}

}  // namespace probes

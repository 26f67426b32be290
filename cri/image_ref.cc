// Image reference parsing after the distribution/reference grammar:
//   reference := name [":" tag] ["@" digest]
//   name      := [domain "/"] path-component ("/" path-component)*
// with docker's normalization of the domain (docker.io, library/ for one-part
// names). Hand-written rather than std::regex: the grammar is small and this
// runs for every container of every pod.
#include "cri/image_ref.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cri {
namespace {

// Debian's Abseil keeps its own string_view, which StrCat wants.
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Splits on `sep`, keeping empty parts.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";
constexpr std::string_view kDefaultTag = "latest";
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isWordChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }
bool hasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return absl::ascii_isupper(c); });
}
template <typename Pred>
bool allOf(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), [&pred](char c) { return pred(c); });
}
bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// alnum+ (sep alnum+)*, where sep is ".", "_", "__" or any run of "-".
bool validPathComponent(std::string_view c) {
  if (c.empty() || !isLowerAlnum(c.front()) || !isLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (isLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !isLowerAlnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = allOf(sep, [](char ch) { return ch == '-'; });
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// A DNS-ish label: alnum, with inner hyphens.
bool validDomainComponent(std::string_view c) {
  if (c.empty() || !absl::ascii_isalnum(c.front()) || !absl::ascii_isalnum(c.back())) return false;
  return allOf(c, [](char ch) { return absl::ascii_isalnum(ch) || ch == '-'; });
}

// host[:port], host being dotted labels or a bracketed IPv6 address.
bool validDomain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  bool hasPort = false;
  if (d.starts_with("[")) {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view addr = d.substr(1, close - 1);
    if (!allOf(addr, [](char ch) { return absl::ascii_isxdigit(ch) || ch == ':'; })) return false;
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      hasPort = true;
      port = rest.substr(1);
    }
  } else {
    size_t colon = d.find(':');
    if (colon != std::string_view::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      hasPort = true;
    }
    for (std::string_view label : split(host, '.')) {
      if (!validDomainComponent(label)) return false;
    }
  }
  if (hasPort && (port.empty() || !allOf(port, [](char c) { return absl::ascii_isdigit(c); })))
    return false;
  return true;
}

bool validTag(std::string_view t) {
  return !t.empty() && t.size() <= kMaxTagLength && isWordChar(t.front()) &&
         allOf(t, [](char c) { return isWordChar(c) || c == '.' || c == '-'; });
}

// "" when valid, else what is wrong. Only the algorithms containerd can verify
// are accepted, each with its exact hex length.
std::string digestProblem(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos) return "digest must be <algorithm>:<hex>";
  std::string_view alg = d.substr(0, colon);
  std::string_view hex = d.substr(colon + 1);
  size_t want = alg == "sha256" ? 64 : alg == "sha384" ? 96 : alg == "sha512" ? 128 : 0;
  if (want == 0) return absl::StrCat("unsupported digest algorithm \"", av(alg), "\"");
  if (hex.size() != want || !allOf(hex, isLowerHex)) {
    return absl::StrCat(av(alg), " digest must be ", want, " lowercase hex characters");
  }
  return "";
}

absl::Status invalid(std::string_view image, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid image reference \"", av(image), "\": ", av(why)));
}

}  // namespace

std::string ImageRef::normalized() const {
  std::string out = absl::StrCat(domain, "/", path);
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

absl::StatusOr<ImageRef> parseImageRef(std::string_view image) {
  if (image.empty()) return invalid(image, "empty");
  if (image.size() == 64 && allOf(image, isLowerHex)) {
    return invalid(image, "a 64-character hex image id is not a repository name");
  }

  // Domain: the first part when it looks like a host (has "." or ":", is
  // "localhost", or has uppercase, which a repository path may not); else docker.io.
  ImageRef ref;
  std::string rest;
  size_t slash = image.find('/');
  std::string_view first = slash == std::string_view::npos ? "" : image.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first == "localhost" || first.find_first_of(".:") != std::string_view::npos ||
       hasUpper(first))) {
    ref.domain = first == kLegacyDefaultDomain ? std::string(kDefaultDomain) : std::string(first);
    rest = std::string(image.substr(slash + 1));
  } else {
    ref.domain = std::string(kDefaultDomain);
    rest = std::string(image);
  }
  size_t at = rest.find('@');
  std::string_view nameAndTag = std::string_view(rest).substr(0, at);
  if (at != std::string::npos) ref.digest = rest.substr(at + 1);
  size_t colon = nameAndTag.find(':');
  bool hasTag = colon != std::string_view::npos;
  ref.path = std::string(nameAndTag.substr(0, colon));
  if (hasTag) ref.tag = std::string(nameAndTag.substr(colon + 1));
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) {
    ref.path = absl::StrCat(av(kOfficialRepoPrefix), ref.path);
  }

  if (hasUpper(ref.path)) {
    return invalid(image, absl::StrCat("repository name \"", ref.path, "\" must be lowercase"));
  }
  if (!validDomain(ref.domain)) {
    return invalid(image, absl::StrCat("invalid registry host \"", ref.domain, "\""));
  }
  for (std::string_view part : split(ref.path, '/')) {
    if (part.empty()) return invalid(image, "empty path component");
    if (!validPathComponent(part)) {
      return invalid(image, absl::StrCat("invalid repository path component \"", av(part),
                                         "\" (lowercase letters, digits and . _ - separators)"));
    }
  }
  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength) {
    return invalid(image, "repository name longer than 255 characters");
  }
  if (hasTag && !validTag(ref.tag)) {
    return invalid(image, absl::StrCat("invalid tag \"", ref.tag,
                                       "\" (up to 128 of letters, digits, _ . -; not starting "
                                       "with . or -)"));
  }
  if (at != std::string::npos) {
    std::string problem = digestProblem(ref.digest);
    if (!problem.empty()) return invalid(image, problem);
  }
  if (!hasTag && ref.digest.empty()) ref.tag = std::string(kDefaultTag);
  return ref;
}

bool hasLatestOrNoTag(std::string_view image) {
  auto ref = parseImageRef(image);
  return ref.ok() && ref->tag == kDefaultTag;
}

}  // namespace cri

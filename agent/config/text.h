// Small string helpers over std::string_view for agent/config. Debian's Abseil has its
// own absl::string_view type (not an alias of std::string_view), so absl::StrCat and
// absl::StrSplit do not take std::string_view directly.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace agent::config::text {

inline void append(std::string& out, std::string_view s) { out.append(s); }
inline void append(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void append(std::string& out, const char* s) { out.append(s); }
inline void append(std::string& out, const std::string& s) { out.append(s); }
// Integers, but not char and bool, which would print as numbers.
template <typename T>
concept Integer = std::integral<T> && !std::same_as<T, char> && !std::same_as<T, bool>;

template <Integer T>
void append(std::string& out, T v) {
  out.append(std::to_string(v));
}

// Concatenates strings and integers.
template <typename... Args>
std::string cat(const Args&... args) {
  std::string out;
  (append(out, args), ...);
  return out;
}

// Splits on `sep`, keeping empty pieces.
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t at = s.find(sep); at != std::string_view::npos; at = s.find(sep, start)) {
    parts.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(s.substr(start));
  return parts;
}

inline std::string_view trim(std::string_view s) {
  const std::string_view space = " \t\r\n\f\v";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

}  // namespace agent::config::text

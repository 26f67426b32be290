// Status helpers shared by every layer: absl::Status across module boundaries,
// with macros that keep error propagation short and context-preserving.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace core {

// Returns `s` with `context` prefixed to its message ("context: message"), keeping
// the code. An OK status stays OK.
absl::Status annotate(const absl::Status& s, std::string_view context);

// errno as a Status: "what: strerror(errno)" with a code that fits the errno.
absl::Status errnoStatus(int err, std::string_view what);

}  // namespace core

#define CORE_CONCAT_INNER(a, b) a##b
#define CORE_CONCAT(a, b) CORE_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)    \
  do {                           \
    ::absl::Status _st = (expr); \
    if (!_st.ok()) return _st;   \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(CORE_CONCAT(_sor_, __LINE__), lhs, expr)

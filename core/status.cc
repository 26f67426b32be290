#include "core/status.h"

#include <cerrno>
#include <cstring>

namespace core {

absl::Status annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  return absl::Status(
      s.code(), absl::StrCat(absl::string_view(context.data(), context.size()), ": ", s.message()));
}

absl::Status errnoStatus(int err, std::string_view what) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (err) {
    case ENOENT:
      code = absl::StatusCode::kNotFound;
      break;
    case EEXIST:
      code = absl::StatusCode::kAlreadyExists;
      break;
    case EACCES:
    case EPERM:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case EINVAL:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case EAGAIN:
    case EBUSY:
      code = absl::StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  return absl::Status(
      code, absl::StrCat(absl::string_view(what.data(), what.size()), ": ", std::strerror(err)));
}

}  // namespace core

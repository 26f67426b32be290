#include "volumes/dir_entries.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace volumes {

absl::StatusOr<std::vector<std::string>> listNames(int dirfd, const std::string& where) {
  int dupfd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return core::errnoStatus(errno, absl::StrCat("dup ", where));
  DIR* d = ::fdopendir(dupfd);
  if (d == nullptr) {
    int err = errno;
    ::close(dupfd);
    return core::errnoStatus(err, absl::StrCat("read directory ", where));
  }
  // The duplicate shares the file offset with `dirfd`: start from the beginning.
  ::rewinddir(d);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return core::errnoStatus(err, absl::StrCat("read directory ", where));
  return names;
}

}  // namespace volumes

#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

namespace core {

namespace {

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Status writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus(errno, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, absl::StrCat("open directory ", dir));
  FdCloser closer{fd};
  if (::fsync(fd) < 0) return errnoStatus(errno, absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

// Decodes the octal escapes (\040 for space, ...) that /proc/self/mountinfo uses.
std::string unescapeMountPath(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t j) { return s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

absl::Status mountError(const std::string& path, const std::string& mountPoint) {
  return absl::FailedPreconditionError(
      absl::StrCat("remove ", path, ": ", mountPoint,
                   " is a mount point; refusing to delete into a mounted filesystem"));
}

// Fails naming the first mount point at or below `path` (already canonical).
absl::Status checkNoMountsUnder(const std::string& path, const std::string& canonical) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in)
    return absl::InternalError(absl::StrCat("remove ", path, ": cannot read /proc/self/mountinfo"));
  const std::string prefix = canonical == "/" ? canonical : canonical + "/";
  std::string line;
  while (std::getline(in, line)) {
    // Fields: mount ID, parent ID, major:minor, root, mount point, ...
    std::istringstream fields(line);
    std::string id, parent, devno, root, escaped;
    if (!(fields >> id >> parent >> devno >> root >> escaped)) continue;
    std::string mp = unescapeMountPath(escaped);
    if (mp == canonical || mp.rfind(prefix, 0) == 0) {
      return mountError(path, mp);
    }
  }
  return absl::OkStatus();
}

bool isMountRoot(int fd) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
    return false;
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// Empties the directory open as `fd` (taking ownership of it). `dev` is the device
// of the tree's root: a directory on another device, or the root of a bind mount,
// is a mount point and stops the removal.
absl::Status removeContents(int fd, const std::string& display, dev_t dev) {
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return errnoStatus(err, absl::StrCat("remove ", display, ": opendir"));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  // Names first, removal after: deleting while readdir() walks is unspecified.
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return errnoStatus(errno, absl::StrCat("remove ", display, ": readdir"));
  for (const std::string& name : names) {
    std::string child = absl::StrCat(display, "/", name);
    struct stat st {};
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;
      return errnoStatus(errno, absl::StrCat("remove ", child));
    }
    if (!S_ISDIR(st.st_mode)) {
      if (::unlinkat(fd, name.c_str(), 0) < 0 && errno != ENOENT) {
        return errnoStatus(errno, absl::StrCat("remove ", child));
      }
      continue;
    }
    if (st.st_dev != dev) return mountError(display, child);
    int cfd = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0) return errnoStatus(errno, absl::StrCat("remove ", child));
    if (isMountRoot(cfd)) {
      ::close(cfd);
      return mountError(display, child);
    }
    RETURN_IF_ERROR(removeContents(cfd, child, dev));
    if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT) {
      return errnoStatus(errno, absl::StrCat("remove ", child));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty())
    return absl::InvalidArgumentError(absl::StrCat("write ", path, ": not a file name"));
  // Hidden, so directory scanners that skip dot-files (the manifest source) ignore it.
  std::string tmp = absl::StrCat(dir, "/.", base, ".tmp-XXXXXX");
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, absl::StrCat("write ", path, ": create temporary file"));
  auto fail = [&](absl::Status s) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return annotate(s, absl::StrCat("write ", path));
  };
  if (::fchmod(fd, mode) < 0) return fail(errnoStatus(errno, "fchmod"));
  if (absl::Status s = writeAll(fd, data); !s.ok()) return fail(s);
  if (::fsync(fd) < 0) return fail(errnoStatus(errno, "fsync"));
  int rc = ::close(fd);
  fd = -1;
  if (rc < 0) return fail(errnoStatus(errno, "close"));
  if (::rename(tmp.c_str(), path.c_str()) < 0) return fail(errnoStatus(errno, "rename"));
  return annotate(fsyncDir(dir), absl::StrCat("write ", path));
}

absl::StatusOr<std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, absl::StrCat("read ", path));
  FdCloser closer{fd};
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

absl::Status mkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("mkdir: empty path");
  for (size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
    std::string prefix = path.substr(0, pos);
    if (!prefix.empty() && prefix.back() != '/') {
      if (::mkdir(prefix.c_str(), mode) < 0) {
        int err = errno;
        struct stat st {};
        if (err != EEXIST) return errnoStatus(err, absl::StrCat("mkdir ", prefix));
        if (::stat(prefix.c_str(), &st) < 0)
          return errnoStatus(errno, absl::StrCat("mkdir ", prefix));
        if (!S_ISDIR(st.st_mode)) return errnoStatus(ENOTDIR, absl::StrCat("mkdir ", prefix));
      }
    }
    if (pos == std::string::npos) return absl::OkStatus();
  }
}

absl::Status removeAll(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("remove: empty path");
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return errnoStatus(errno, absl::StrCat("remove ", path));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
      return errnoStatus(errno, absl::StrCat("remove ", path));
    return absl::OkStatus();
  }
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return errnoStatus(errno, absl::StrCat("remove ", path));
  std::string canonical = resolved;
  std::free(resolved);
  RETURN_IF_ERROR(checkNoMountsUnder(path, canonical));

  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, absl::StrCat("remove ", path));
  if (isMountRoot(fd)) {
    ::close(fd);
    return mountError(path, path);
  }
  RETURN_IF_ERROR(removeContents(fd, path, st.st_dev));
  if (::rmdir(path.c_str()) < 0 && errno != ENOENT)
    return errnoStatus(errno, absl::StrCat("remove ", path));
  return absl::OkStatus();
}

}  // namespace core

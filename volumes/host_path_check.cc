#include "volumes/host_path_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "core/status.h"

namespace volumes {
namespace {

// stat(2) result with the file type bits, or 0 when the path cannot be stat'ed
// (upstream's checker treats every stat error as "does not exist").
mode_t fileType(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & S_IFMT;
}

absl::Status typeError(const std::string& path, const char* what) {
  return absl::FailedPreconditionError(
      absl::StrCat("hostPath type check failed: ", path, " is not ", what));
}

// mkdir -p; the directory it creates is 0755 whatever the agent's umask (the
// documented mode of DirectoryOrCreate).
absl::Status makeDir(const std::string& path) {
  RETURN_IF_ERROR(core::mkdirAll(path, 0755));
  if (::chmod(path.c_str(), 0755) != 0) {
    return core::errnoStatus(errno, absl::StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

// An empty 0644 file; the parent must already exist. O_EXCL: a file that appears
// meanwhile is left as it is (upstream's O_CREATE without O_TRUNC does the same).
absl::Status makeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return core::errnoStatus(errno, absl::StrCat("open ", path));
  }
  int rc = ::fchmod(fd, 0644);
  int err = errno;
  ::close(fd);
  if (rc != 0) return core::errnoStatus(err, absl::StrCat("chmod ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status checkHostPathType(const std::string& path, const std::string& type) {
  if (type.empty()) return absl::OkStatus();
  mode_t t = fileType(path);
  if (type == "DirectoryOrCreate" || type == "Directory") {
    if (t == 0 && type == "DirectoryOrCreate") return makeDir(path);
    if (t != S_IFDIR) return typeError(path, "a directory");
    return absl::OkStatus();
  }
  if (type == "FileOrCreate" || type == "File") {
    if (t == 0 && type == "FileOrCreate") return makeFile(path);
    // Upstream's IsFile is "exists and is not a directory": sockets, devices and
    // fifos pass.
    if (t == 0 || t == S_IFDIR) return typeError(path, "a file");
    return absl::OkStatus();
  }
  if (type == "Socket") {
    return t == S_IFSOCK ? absl::OkStatus() : typeError(path, "a socket file");
  }
  if (type == "CharDevice") {
    return t == S_IFCHR ? absl::OkStatus() : typeError(path, "a character device");
  }
  if (type == "BlockDevice") {
    return t == S_IFBLK ? absl::OkStatus() : typeError(path, "a block device");
  }
  return absl::InvalidArgumentError(absl::StrCat(type, " is an invalid volume type"));
}

}  // namespace volumes

#include "volumes/ownership.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status.h"
#include "volumes/dir_entries.h"

namespace volumes {

namespace {

// pkg/volume/volume_linux.go: rwMask, roMask, execMask.
constexpr mode_t kRwMask = 0660;
constexpr mode_t kRoMask = 0440;
constexpr mode_t kExecMask = 0110;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

struct Walk {
  gid_t gid;
  mode_t mask;  // for files; directories add setgid and kExecMask
  dev_t dev;    // the volume's filesystem: mounts below it are not ours to change
};

// changeFilePermission on an open fd (O_PATH for files, so nothing is opened that
// could block or have side effects): the entry cannot be swapped for a symlink
// between the check and the change. Failures are logged, as upstream.
void changePermission(int fd, const struct stat& st, const std::string& path, const Walk& w) {
  if (::fchownat(fd, "", static_cast<uid_t>(-1), w.gid, AT_EMPTY_PATH) < 0)
    LOG_WARNING << "chown " << path << " to group " << w.gid << ": " << std::strerror(errno);
  mode_t mask = w.mask;
  if (S_ISDIR(st.st_mode)) mask |= S_ISGID | kExecMask;
  // The mode read before chown: chown clears setuid/setgid, which this restores as
  // upstream's chmod(info.Mode()|mask) does.
  mode_t mode = (st.st_mode & 07777) | mask;
  // fchmod does not take O_PATH fds; the /proc link reaches the very inode.
  std::string procPath = absl::StrCat("/proc/self/fd/", fd);
  if (::chmod(procPath.c_str(), mode) < 0)
    LOG_WARNING << "chmod " << path << ": " << std::strerror(errno);
}

// walkDeep: children first, then the directory itself.
absl::Status walkDir(int dirFd, const struct stat& dirSt, const std::string& path, const Walk& w) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, listNames(dirFd, path));
  for (const std::string& name : names) {
    std::string child = absl::StrCat(path, "/", name);
    Fd fd(::openat(dirFd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;  // removed while walking
      return core::errnoStatus(errno, absl::StrCat("open ", child));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return core::errnoStatus(errno, absl::StrCat("stat ", child));
    if (S_ISLNK(st.st_mode)) continue;  // chmod would change the target
    if (st.st_dev != w.dev) {
      VLOG(4) << "fsGroup ownership: not crossing into the filesystem mounted at " << child;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      changePermission(fd.get(), st, child, w);
      continue;
    }
    Fd sub(::openat(fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!sub.valid()) return core::errnoStatus(errno, absl::StrCat("open directory ", child));
    RETURN_IF_ERROR(walkDir(sub.get(), st, child, w));
  }
  changePermission(dirFd, dirSt, path, w);
  return absl::OkStatus();
}

// requiresPermissionChange for fsGroupChangePolicy OnRootMismatch: the root must be a
// directory with the group, the group/owner bits and setgid.
bool rootMatches(const struct stat& st, gid_t gid, bool readOnly) {
  if (st.st_gid != gid || !S_ISDIR(st.st_mode)) return false;
  mode_t want = (readOnly ? kRoMask : kRwMask) | kExecMask;
  return (st.st_mode & want) == want && (st.st_mode & S_ISGID) != 0;
}

}  // namespace

absl::Status setVolumeOwnership(const std::string& dir, int64_t fsGroup, bool readOnly,
                                FsGroupPolicy policy) {
  const std::string where = absl::StrCat("set fsGroup ", fsGroup, " on volume ", dir);
  if (fsGroup < 0 || fsGroup >= std::numeric_limits<gid_t>::max())
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a valid group id"));
  Walk w{static_cast<gid_t>(fsGroup), readOnly ? kRoMask : kRwMask, 0};

  // The volume directory itself is given by the caller: follow it if it is a link.
  Fd root(::open(dir.c_str(), O_PATH | O_CLOEXEC));
  if (!root.valid()) return core::annotate(core::errnoStatus(errno, "open"), where);
  struct stat st {};
  if (::fstat(root.get(), &st) < 0) return core::annotate(core::errnoStatus(errno, "stat"), where);
  w.dev = st.st_dev;

  if (policy == FsGroupPolicy::kOnRootMismatch && rootMatches(st, w.gid, readOnly)) {
    VLOG(3) << "skipping permission and ownership change for volume " << dir;
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    changePermission(root.get(), st, dir, w);
    return absl::OkStatus();
  }
  Fd rootDir(::openat(root.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootDir.valid()) return core::annotate(core::errnoStatus(errno, "open directory"), where);
  return core::annotate(walkDir(rootDir.get(), st, dir, w), where);
}

}  // namespace volumes

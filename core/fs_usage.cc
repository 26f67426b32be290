#include "core/fs_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

namespace core {
namespace {

constexpr unsigned kStatxMask = STATX_TYPE | STATX_INO | STATX_NLINK | STATX_BLOCKS;

uint64_t devOf(const struct statx& s) {
  return (static_cast<uint64_t>(s.stx_dev_major) << 32) | s.stx_dev_minor;
}

bool isMountRootAttr(const struct statx& s) {
  return (s.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (s.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

std::string joinPath(const std::string& dir, const char* name) {
  return dir.size() > 1 && dir.back() == '/' ? dir + name : absl::StrCat(dir, "/", name);
}

// Reads one directory: counts its non-directory entries into `out` and appends its
// subdirectories on the same filesystem to `pending`. A directory that vanished or
// was swapped for something else since it was listed is skipped.
absl::Status scanDirectory(const std::string& dir, uint64_t rootDev, DirUsage& out,
                           std::set<std::pair<uint64_t, uint64_t>>& linked,
                           std::vector<std::string>& pending, bool isRoot) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (!isRoot && (err == ENOENT || err == ENOTDIR || err == ELOOP)) return absl::OkStatus();
    return errnoStatus(err, absl::StrCat("open ", dir));
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return errnoStatus(err, absl::StrCat("opendir ", dir));
  }
  absl::Status result;
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) result = errnoStatus(errno, absl::StrCat("readdir ", dir));
      break;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct statx stx {};
    if (::statx(fd, e->d_name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, kStatxMask, &stx) != 0) {
      if (errno == ENOENT) continue;
      result = errnoStatus(errno, absl::StrCat("stat ", joinPath(dir, e->d_name)));
      break;
    }
    if (S_ISDIR(stx.stx_mode)) {
      if (devOf(stx) != rootDev || isMountRootAttr(stx)) continue;  // another mount
      out.bytes += stx.stx_blocks * 512;
      out.inodes += 1;
      pending.push_back(joinPath(dir, e->d_name));
      continue;
    }
    if (stx.stx_nlink > 1 && !linked.emplace(devOf(stx), stx.stx_ino).second) continue;
    out.bytes += stx.stx_blocks * 512;
    out.inodes += 1;
  }
  ::closedir(d);
  return result;
}

}  // namespace

absl::StatusOr<FsStats> filesystemStats(const std::string& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return errnoStatus(errno, absl::StrCat("statvfs ", path));
  FsStats out;
  uint64_t frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
  out.capacityBytes = static_cast<uint64_t>(sv.f_blocks) * frsize;
  out.availableBytes = static_cast<uint64_t>(sv.f_bavail) * frsize;
  out.usedBytes = static_cast<uint64_t>(sv.f_blocks - sv.f_bfree) * frsize;
  out.inodes = sv.f_files;
  out.inodesFree = sv.f_ffree;
  out.inodesUsed = sv.f_files >= sv.f_ffree ? sv.f_files - sv.f_ffree : 0;
  return out;
}

absl::StatusOr<DirUsage> directoryUsage(const std::string& path) {
  struct statx root {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, kStatxMask, &root) !=
      0) {
    return errnoStatus(errno, absl::StrCat("stat ", path));
  }
  DirUsage out{root.stx_blocks * 512, 1};
  if (!S_ISDIR(root.stx_mode)) return out;
  std::set<std::pair<uint64_t, uint64_t>> linked;
  std::vector<std::string> pending;
  RETURN_IF_ERROR(scanDirectory(path, devOf(root), out, linked, pending, /*isRoot=*/true));
  while (!pending.empty()) {
    std::string dir = std::move(pending.back());
    pending.pop_back();
    RETURN_IF_ERROR(scanDirectory(dir, devOf(root), out, linked, pending, /*isRoot=*/false));
  }
  return out;
}

absl::StatusOr<bool> isMountRoot(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) !=
      0) {
    return errnoStatus(errno, absl::StrCat("stat ", path));
  }
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  // Kernels before 5.8: a different device than the parent's (misses same-fs binds).
  struct statx parent {};
  std::string up = path + "/..";
  if (::statx(AT_FDCWD, up.c_str(), AT_NO_AUTOMOUNT, STATX_TYPE, &parent) != 0) {
    return errnoStatus(errno, absl::StrCat("stat ", up));
  }
  return devOf(stx) != devOf(parent);
}

absl::StatusOr<VolumeUsage> volumeUsage(const std::string& path) {
  VolumeUsage out;
  ASSIGN_OR_RETURN(out.mounted, isMountRoot(path));
  if (out.mounted) {
    ASSIGN_OR_RETURN(out.fs, filesystemStats(path));
    out.usage = DirUsage{out.fs.usedBytes, out.fs.inodesUsed};
    return out;
  }
  ASSIGN_OR_RETURN(out.usage, directoryUsage(path));
  return out;
}

}  // namespace core

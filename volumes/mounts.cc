#include "volumes/mounts.h"

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace volumes {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string decodeOctal(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '3' &&
        in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

absl::StatusOr<std::string> realPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return core::errnoStatus(errno, absl::StrCat("resolve symlinks in ", path));
  }
  return std::string(buf);
}

bool atOrBelow(const std::string& path, const std::string& dir) {
  if (path == dir) return true;
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// Unmounts the topmost mount at `target`; true when something was unmounted.
absl::StatusOr<bool> unmountOnce(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
  int err = errno;
  if (err == EINVAL || err == ENOENT) return false;  // not (or no longer) a mount point
  if (err == EBUSY) {
    LOG_WARNING << "unmount " << target << ": busy, detaching lazily";
    if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return true;
    err = errno;
  }
  return core::errnoStatus(err, absl::StrCat("unmount ", target));
}

}  // namespace

absl::StatusOr<std::vector<MountEntry>> readMountInfo(const std::string& file) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat("read ", file, ": cannot open"));
  std::vector<MountEntry> entries;
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty()) continue;
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(std::move(w));
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") ++sep;
    if (f.size() < 6 || sep + 2 >= f.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parse ", file, " line ", lineNo, ": malformed mountinfo entry: ", line));
    }
    entries.push_back(MountEntry{decodeOctal(f[4]), decodeOctal(f[sep + 1]),
                                 decodeOctal(f[sep + 2]), decodeOctal(f[5])});
  }
  return entries;
}

absl::StatusOr<bool> isMountPoint(const std::string& path) {
  ASSIGN_OR_RETURN(std::string resolved, realPath(path));
  ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, readMountInfo());
  for (const MountEntry& m : mounts) {
    if (m.mountPoint == resolved) return true;
  }
  return false;
}

absl::Status mountTmpfs(const std::string& target, std::optional<uint64_t> sizeBytes, mode_t mode) {
  RETURN_IF_ERROR(core::mkdirAll(target, 0755));
  char modeOpt[32];
  std::snprintf(modeOpt, sizeof modeOpt, "mode=0%o", static_cast<unsigned>(mode & 07777));
  std::string options = modeOpt;
  if (sizeBytes.has_value()) absl::StrAppend(&options, ",size=", *sizeBytes);
  if (::mount("tmpfs", target.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return core::errnoStatus(errno, absl::StrCat("mount tmpfs (", options, ") at ", target));
  }
  VLOG(3) << "mounted tmpfs (" << options << ") at " << target;
  return absl::OkStatus();
}

absl::Status bindMount(const std::string& source, const std::string& target, bool readOnly) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return core::errnoStatus(errno, absl::StrCat("bind mount ", source, " at ", target));
  }
  if (!readOnly) return absl::OkStatus();
  // A read-only bind needs a second, remount call. It must repeat the flags the
  // mount already has (nosuid, nodev, ...): the kernel refuses to clear locked ones.
  struct statvfs sv {};
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
  if (::statvfs(target.c_str(), &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  if (::mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0) {
    absl::Status st =
        core::errnoStatus(errno, absl::StrCat("remount bind mount at ", target, " read-only"));
    // Leave nothing writable behind.
    if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      LOG_ERROR << "unmount " << target
                << " after failed read-only remount: " << std::strerror(errno);
    }
    return st;
  }
  return absl::OkStatus();
}

absl::Status unmount(const std::string& target) { return unmountOnce(target).status(); }

absl::StatusOr<int> unmountAllUnder(const std::string& dir) {
  auto resolved = realPath(dir);
  if (!resolved.ok()) {
    if (absl::IsNotFound(resolved.status())) return 0;
    return resolved.status();
  }
  if (*resolved == "/") {
    return absl::InvalidArgumentError(
        absl::StrCat("unmount everything under ", dir, ": refusing to unmount the root"));
  }
  int count = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, readMountInfo());
    std::vector<std::string> under;
    for (const MountEntry& m : mounts) {
      if (atOrBelow(m.mountPoint, *resolved)) under.push_back(m.mountPoint);
    }
    if (under.empty()) return count;
    // mountinfo lists a mount after the one it sits on, so the reverse order takes
    // children before parents and the top of a stack first. A mount hidden under
    // a later one reports "not mounted" now and is taken in the next round.
    bool progress = false;
    for (auto it = under.rbegin(); it != under.rend(); ++it) {
      ASSIGN_OR_RETURN(bool unmounted, unmountOnce(*it));
      if (unmounted) {
        ++count;
        progress = true;
        VLOG(3) << "unmounted " << *it;
      }
    }
    if (!progress) {
      return absl::FailedPreconditionError(absl::StrCat(
          "unmount everything under ", dir, ": still mounted: ", absl::StrJoin(under, ", ")));
    }
  }
}

}  // namespace volumes

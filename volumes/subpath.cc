#include "volumes/subpath.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "volumes/mounts.h"

namespace volumes {
namespace {

constexpr char kSubpathDirName[] = "volume-subpaths";

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string errText(int err) { return std::strerror(err); }

// Lexical clean of an absolute path (Go's filepath.Clean): no "", "." or "..".
std::string cleanPath(const std::string& p) {
  std::vector<std::string> out;
  for (absl::string_view seg : absl::StrSplit(p, '/', absl::SkipEmpty())) {
    if (seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.emplace_back(seg);
  }
  return "/" + absl::StrJoin(out, "/");
}

std::string joinPath(const std::string& a, const std::string& b) {
  return cleanPath(absl::StrCat(a, "/", b));
}

std::string dirName(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

// mount-utils' PathWithinBase for cleaned absolute paths.
bool pathWithinBase(const std::string& full, const std::string& base) {
  if (base == "/" || full == base) return true;
  return full.size() > base.size() && full.compare(0, base.size(), base) == 0 &&
         full[base.size()] == '/';
}

// Components of `path` below `base` (both cleaned, path within base); "." for base.
std::vector<std::string> segmentsBelow(const std::string& base, const std::string& path) {
  std::string rel = path == base ? "." : path.substr(base == "/" ? 1 : base.size() + 1);
  return absl::StrSplit(rel, '/');
}

absl::StatusOr<std::string> evalSymlinks(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return core::errnoStatus(errno, absl::StrCat("error resolving symlinks in \"", path, "\""));
  }
  return std::string(buf);
}

// Opens `pathname` (symlinks already resolved) below `base` one component at a time
// with O_NOFOLLOW, so that no component can be swapped for a symlink meanwhile.
// Returns an O_PATH descriptor.
absl::StatusOr<Fd> doSafeOpen(const std::string& pathname, const std::string& base) {
  std::string path = cleanPath(pathname);
  std::string b = cleanPath(base);
  if (!pathWithinBase(path, b)) {
    return absl::PermissionDeniedError(
        absl::StrCat("path ", path, " is outside of allowed base ", b));
  }
  Fd parent(::open(b.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (parent.get() < 0) {
    return core::errnoStatus(errno, absl::StrCat("cannot open directory ", b));
  }
  std::string current = b;
  for (const std::string& seg : segmentsBelow(b, path)) {
    current = joinPath(current, seg);
    if (!pathWithinBase(current, b)) {
      return absl::PermissionDeniedError(
          absl::StrCat("path ", current, " is outside of allowed base ", b));
    }
    Fd child(::openat(parent.get(), seg.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (child.get() < 0) return core::errnoStatus(errno, absl::StrCat("cannot open ", current));
    struct stat st {};
    if (::fstat(child.get(), &st) != 0) {
      return core::errnoStatus(errno, absl::StrCat("error running fstat on ", current));
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::PermissionDeniedError(absl::StrCat("unexpected symlink found ", current));
    }
    parent = std::move(child);
  }
  return parent;
}

// The longest existing prefix of `pathname` below `base` (symlinks followed), and
// the components still to create.
absl::StatusOr<std::pair<std::string, std::vector<std::string>>> findExistingPrefix(
    const std::string& base, const std::string& pathname) {
  std::vector<std::string> dirs = segmentsBelow(base, pathname);
  std::string current = base;
  Fd fd(::open(base.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return core::errnoStatus(errno, absl::StrCat("error opening ", base));
  for (size_t i = 0; i < dirs.size(); ++i) {
    // O_PATH: a directory replaced by a fifo cannot block us.
    Fd child(::openat(fd.get(), dirs[i].c_str(), O_PATH | O_CLOEXEC));
    if (child.get() < 0) {
      if (errno == ENOENT) {
        return std::make_pair(current, std::vector<std::string>(dirs.begin() + i, dirs.end()));
      }
      return core::errnoStatus(errno, absl::StrCat("error opening ", joinPath(current, dirs[i])));
    }
    fd = std::move(child);
    current = joinPath(current, dirs[i]);
  }
  return std::make_pair(pathname, std::vector<std::string>{});
}

// The kubelet's doSafeMakeDir: mkdir -p of `pathname` inside `base` (both with
// symlinks resolved), creating each directory with mkdirat() under a descriptor
// opened without following symlinks, and giving each exactly `perm`.
absl::Status doSafeMakeDir(const std::string& pathname, const std::string& base, mode_t perm) {
  if (!pathWithinBase(pathname, base)) {
    return absl::PermissionDeniedError(
        absl::StrCat("path ", pathname, " is outside of allowed base ", base));
  }
  struct stat st {};
  if (::stat(pathname.c_str(), &st) == 0) {
    // Already there. It could be outside of the base, but there is no race-proof
    // check; opening it safely before the bind mount is what keeps us in.
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return core::errnoStatus(ENOTDIR, absl::StrCat("mkdir ", pathname));
  }
  auto prefix = findExistingPrefix(base, pathname);
  if (!prefix.ok()) {
    return core::annotate(prefix.status(), absl::StrCat("error opening directory ", pathname));
  }
  auto& [existing, toCreate] = *prefix;
  auto fullExisting = evalSymlinks(existing);
  if (!fullExisting.ok()) {
    return core::annotate(fullExisting.status(),
                          absl::StrCat("error opening directory ", existing));
  }
  if (!pathWithinBase(*fullExisting, base)) {
    return absl::PermissionDeniedError(
        absl::StrCat("path ", *fullExisting, " is outside of allowed base ", base));
  }
  auto parent = doSafeOpen(*fullExisting, base);
  if (!parent.ok()) {
    return core::annotate(parent.status(), absl::StrCat("cannot open directory ", existing));
  }
  Fd parentFd = std::move(*parent);
  std::string current = *fullExisting;
  for (const std::string& dir : toCreate) {
    current = joinPath(current, dir);
    if (::mkdirat(parentFd.get(), dir.c_str(), perm) != 0) {
      return core::errnoStatus(errno, absl::StrCat("cannot create directory ", current));
    }
    // Whatever replaces the new directory now cannot be a symlink (O_NOFOLLOW).
    Fd child(
        ::openat(parentFd.get(), dir.c_str(), O_RDONLY | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    if (child.get() < 0) return core::errnoStatus(errno, absl::StrCat("cannot open ", current));
    parentFd = std::move(child);
    // mkdirat's mode went through the umask; the container needs exactly perm.
    if (::fchmod(parentFd.get(), perm) != 0) {
      return core::errnoStatus(errno, absl::StrCat("chmod \"", current, "\" failed"));
    }
  }
  return absl::OkStatus();
}

std::string containerDirOf(const SubpathRequest& req) {
  return joinPath(req.podDir,
                  absl::StrCat(kSubpathDirName, "/", req.volumeName, "/", req.containerName));
}

// Unmounts and removes one subpath target, then its parents up to podDir while empty.
void cleanSubpathTarget(const SubpathRequest& req, const std::string& target) {
  if (auto n = unmountAllUnder(target); !n.ok()) LOG_WARNING << n.status();
  if (::remove(target.c_str()) != 0 && errno != ENOENT) {
    LOG_WARNING << "remove " << target << ": " << errText(errno);
  }
  std::string base = cleanPath(req.podDir);
  for (std::string cur = containerDirOf(req); cur != base && pathWithinBase(cur, base);
       cur = dirName(cur)) {
    if (::rmdir(cur.c_str()) != 0 && errno != ENOENT) break;  // not empty: in use
  }
}

// Makes the bind-mount target; true when the right thing is already mounted there.
absl::StatusOr<bool> prepareTarget(const std::string& source, const std::string& target) {
  auto mounted = isMountPoint(target);
  if (!mounted.ok() && !absl::IsNotFound(mounted.status())) {
    return core::annotate(mounted.status(),
                          absl::StrCat("error checking path ", target, " for mount"));
  }
  struct stat src {};
  if (::lstat(source.c_str(), &src) != 0) {
    return core::errnoStatus(errno, absl::StrCat("lstat ", source, " failed"));
  }
  if (mounted.ok() && *mounted) {
    struct stat dst {};
    if (::lstat(target.c_str(), &dst) != 0) {
      return core::errnoStatus(errno, absl::StrCat("lstat ", target, " failed"));
    }
    if (src.st_dev == dst.st_dev && src.st_ino == dst.st_ino) return true;
    RETURN_IF_ERROR(unmountAllUnder(target).status());  // mounted, but something else
  }
  RETURN_IF_ERROR(core::mkdirAll(dirName(target), 0750));
  if (S_ISDIR(src.st_mode)) {
    if (::mkdir(target.c_str(), 0750) != 0 && errno != EEXIST) {
      return core::errnoStatus(errno, absl::StrCat("error creating directory ", target));
    }
  } else {
    // An empty file is a mount point for any non-directory (file, socket, device).
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) return core::errnoStatus(errno, absl::StrCat("error creating file ", target));
    ::close(fd);
  }
  return false;
}

absl::StatusOr<std::string> doBindSubpath(const SubpathRequest& req, const std::string& hostPath) {
  ASSIGN_OR_RETURN(std::string volumePath, evalSymlinks(req.volumePath));
  ASSIGN_OR_RETURN(std::string path, evalSymlinks(hostPath));
  if (!pathWithinBase(path, volumePath)) {
    return absl::PermissionDeniedError(absl::StrCat("subpath \"", hostPath, "\" (resolved to \"",
                                                    path, "\") not within volume path \"",
                                                    volumePath, "\""));
  }
  auto opened = doSafeOpen(path, volumePath);
  if (!opened.ok()) {
    return core::annotate(opened.status(), absl::StrCat("error opening subpath ", path));
  }
  std::string target = joinPath(containerDirOf(req), std::to_string(req.mountIndex));
  ASSIGN_OR_RETURN(bool alreadyMounted, prepareTarget(path, target));
  if (alreadyMounted) {
    VLOG(5) << "Skipping bind-mounting subpath " << target << ": already mounted";
    return target;
  }
  // The kernel resolves /proc/self/fd/N to the very file we opened; renaming or
  // replacing components of the path now changes nothing.
  std::string source = absl::StrCat("/proc/self/fd/", opened->get());
  absl::Status st = bindMount(source, target, req.readOnly);
  if (!st.ok()) {
    cleanSubpathTarget(req, target);
    return core::annotate(st, absl::StrCat("error mounting ", path));
  }
  VLOG(3) << "Bound SubPath " << path << " into " << target;
  return target;
}

// Removes the entries of `dir` (each an unmounted bind target: an empty directory
// or a file) and then `dir`; `depth` levels of directories are walked.
absl::Status removeSubpathTree(const std::string& dir, int depth) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return core::errnoStatus(errno, absl::StrCat("error reading ", dir));
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") entries.emplace_back(name, e->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [name, isDir] : entries) {
    std::string p = joinPath(dir, name);
    if (isDir && depth > 0) {
      RETURN_IF_ERROR(removeSubpathTree(p, depth - 1));
      continue;
    }
    // rmdir/unlink, never recursive: a mount point left behind fails with EBUSY
    // instead of having the volume's content deleted through it.
    if ((isDir ? ::rmdir(p.c_str()) : ::unlink(p.c_str())) != 0 && errno != ENOENT) {
      return core::errnoStatus(errno, absl::StrCat("error deleting ", p));
    }
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return core::errnoStatus(errno, absl::StrCat("error deleting ", dir));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> prepareSubpath(const SubpathRequest& req) {
  const std::string context =
      absl::StrCat("failed to prepare subPath for volumeMount \"", req.volumeName,
                   "\" of container \"", req.containerName, "\"");
  struct stat vol {};
  if (::lstat(req.volumePath.c_str(), &vol) != 0) {
    return core::errnoStatus(errno, absl::StrCat(context, ": lstat ", req.volumePath));
  }
  std::string hostPath = joinPath(req.volumePath, req.subPath);
  if (!pathWithinBase(hostPath, cleanPath(req.volumePath))) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": subpath \"", req.subPath, "\" is outside of volume path"));
  }
  struct stat st {};
  if (::stat(hostPath.c_str(), &st) != 0 && errno == ENOENT) {
    // Created now, with the volume's permissions, rather than by the runtime later
    // with whatever mode and owner it picks (e.g. without fsGroup's g+rwx).
    absl::Status made = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::string realBase, evalSymlinks(req.volumePath));
      return doSafeMakeDir(joinPath(realBase, req.subPath), realBase, vol.st_mode & 07777);
    }();
    if (!made.ok()) {
      return core::annotate(made,
                            absl::StrCat("failed to create subPath directory for volumeMount \"",
                                         req.volumeName, "\" of container \"", req.containerName,
                                         "\": subPath \"", req.subPath, "\""));
    }
  }
  auto bound = doBindSubpath(req, hostPath);
  if (!bound.ok()) return core::annotate(bound.status(), context);
  return bound;
}

absl::Status cleanSubpaths(const std::string& podDir) {
  std::string dir = joinPath(podDir, kSubpathDirName);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return absl::OkStatus();
  auto unmounted = unmountAllUnder(dir);
  if (!unmounted.ok()) return core::annotate(unmounted.status(), "clean subpaths");
  // volume-subpaths/<volume>/<container>/<index>
  return removeSubpathTree(dir, 2);
}

}  // namespace volumes

#include "volumes/atomic_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "volumes/dir_entries.h"

namespace volumes {

namespace {

constexpr size_t kMaxFileNameLength = 255;
constexpr size_t kMaxPathLength = 4096;
constexpr char kDataDirName[] = "..data";
constexpr char kNewDataDirName[] = "..data_tmp";

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The path's elements as path.Clean leaves them (no "", no "."); ".." was rejected.
std::vector<std::string> elementsOf(std::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view e : absl::StrSplit(absl::string_view(path.data(), path.size()), '/')) {
    if (e.empty() || e == ".") continue;
    out.emplace_back(e);
  }
  return out;
}

std::string joinPath(const std::vector<std::string>& elems, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < elems.size(); ++i) absl::StrAppend(&out, i ? "/" : "", elems[i]);
  return out;
}

// `..2016_02_01_15_04_05.12345678`: the writer's own directories (never `..data*`).
bool isTimestampDirName(std::string_view name) {
  return name.size() > 2 && name.starts_with("..") &&
         std::isdigit(static_cast<unsigned char>(name[2]));
}

struct CleanFile {
  std::vector<std::string> elems;
  const FileProjection* file;
};

// Adds the relative path of every entry under `fd` to `out`, not following symlinks.
absl::Status listTree(int fd, const std::string& prefix, const std::string& where,
                      std::set<std::string>& out) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, listNames(fd, where));
  for (const std::string& n : names) {
    std::string rel = prefix.empty() ? n : absl::StrCat(prefix, "/", n);
    out.insert(rel);
    struct stat st {};
    if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
      return core::errnoStatus(errno, absl::StrCat("stat ", where, "/", n));
    if (!S_ISDIR(st.st_mode)) continue;
    Fd sub(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return core::errnoStatus(errno, absl::StrCat("open ", where, "/", n));
    RETURN_IF_ERROR(listTree(sub.get(), rel, absl::StrCat(where, "/", n), out));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> readAll(int fd, const std::string& what) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::errnoStatus(errno, absl::StrCat("read ", what));
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// shouldWritePayload plus pathsToRemove: whether the timestamped directory `oldFd` holds
// exactly the payload's paths (files and their parent directories) with its content.
absl::StatusOr<bool> payloadDiffers(int oldFd, const std::string& oldPath,
                                    const std::map<std::string, CleanFile>& files) {
  std::set<std::string> want;
  for (const auto& [path, f] : files)
    for (size_t n = 1; n <= f.elems.size(); ++n) want.insert(joinPath(f.elems, n));
  std::set<std::string> have;
  RETURN_IF_ERROR(listTree(oldFd, "", oldPath, have));
  if (have != want) return true;
  for (const auto& [path, f] : files) {
    Fd fd(::openat(oldFd, path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT || errno == ELOOP) return true;
      return core::errnoStatus(errno, absl::StrCat("open ", oldPath, "/", path));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
      return core::errnoStatus(errno, absl::StrCat("stat ", oldPath, "/", path));
    if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != f.file->data.size()) return true;
    ASSIGN_OR_RETURN(std::string content, readAll(fd.get(), absl::StrCat(oldPath, "/", path)));
    if (content != f.file->data) return true;
  }
  return false;
}

// newTimestampDir: `..<UTC time>.<random>`, mode 0755 whatever the umask (group and
// others must traverse it).
absl::StatusOr<std::string> newTimestampDir(int dirfd, const std::string& dir) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char prefix[64];
  std::strftime(prefix, sizeof prefix, "..%Y_%m_%d_%H_%M_%S.", &tm);
  static thread_local std::mt19937 rng{std::random_device{}()};
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = absl::StrCat(prefix, rng());
    if (::mkdirat(dirfd, name.c_str(), 0700) < 0) {
      if (errno == EEXIST) continue;
      return core::errnoStatus(errno, absl::StrCat("create directory ", dir, "/", name));
    }
    if (::fchmodat(dirfd, name.c_str(), 0755, 0) < 0)
      return core::errnoStatus(errno, absl::StrCat("chmod ", dir, "/", name));
    return name;
  }
  return absl::AlreadyExistsError(
      absl::StrCat("create timestamped directory in ", dir, ": every name tried exists"));
}

absl::Status writeAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::errnoStatus(errno, absl::StrCat("write ", what));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status fsyncAt(int dirfd, const std::string& rel, const std::string& what) {
  Fd fd(::openat(dirfd, rel.empty() ? "." : rel.c_str(),
                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return core::errnoStatus(errno, absl::StrCat("open ", what));
  if (::fsync(fd.get()) < 0) return core::errnoStatus(errno, absl::StrCat("fsync ", what));
  return absl::OkStatus();
}

// writePayloadToDir: parent directories 0755, files with exactly their mode (chmod
// after create, so no umask) and owner fsUser; everything fsynced before the swap.
absl::Status writeFiles(int tsFd, const std::string& tsPath,
                        const std::map<std::string, CleanFile>& files) {
  std::set<std::string> dirs;
  for (const auto& [path, f] : files) {
    Fd parent(::fcntl(tsFd, F_DUPFD_CLOEXEC, 0));
    if (!parent.valid()) return core::errnoStatus(errno, absl::StrCat("dup ", tsPath));
    for (size_t i = 0; i + 1 < f.elems.size(); ++i) {
      std::string rel = joinPath(f.elems, i + 1);
      const char* name = f.elems[i].c_str();
      if (::mkdirat(parent.get(), name, 0755) == 0) {
        if (::fchmodat(parent.get(), name, 0755, 0) < 0)
          return core::errnoStatus(errno, absl::StrCat("chmod ", tsPath, "/", rel));
        dirs.insert(rel);
      } else if (errno != EEXIST) {
        return core::errnoStatus(errno, absl::StrCat("create directory ", tsPath, "/", rel));
      }
      Fd next(::openat(parent.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next.valid()) return core::errnoStatus(errno, absl::StrCat("open ", tsPath, "/", rel));
      parent = std::move(next);
    }
    std::string what = absl::StrCat(tsPath, "/", path);
    Fd fd(::openat(parent.get(), f.elems.back().c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return core::errnoStatus(errno, absl::StrCat("create ", what));
    RETURN_IF_ERROR(writeAll(fd.get(), f.file->data, what));
    // chown before chmod: chown clears setuid/setgid bits the mode may ask for.
    if (f.file->fsUser.has_value() &&
        ::fchown(fd.get(), static_cast<uid_t>(*f.file->fsUser), static_cast<gid_t>(-1)) < 0)
      return core::errnoStatus(errno, absl::StrCat("chown ", what, " to ", *f.file->fsUser));
    if (::fchmod(fd.get(), static_cast<mode_t>(f.file->mode) & 07777) < 0)
      return core::errnoStatus(errno, absl::StrCat("chmod ", what));
    if (::fsync(fd.get()) < 0) return core::errnoStatus(errno, absl::StrCat("fsync ", what));
  }
  // Deepest first, so each directory is synced after the entries made in it.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it)
    RETURN_IF_ERROR(fsyncAt(tsFd, *it, absl::StrCat(tsPath, "/", *it)));
  return fsyncAt(tsFd, "", tsPath);
}

void removeQuietly(const std::string& path) {
  absl::Status st = core::removeAll(path);
  if (!st.ok()) LOG_WARNING << "atomic writer: " << st.message();
}

}  // namespace

absl::Status validatePayloadPath(std::string_view stdPath) {
  const absl::string_view path(stdPath.data(), stdPath.size());
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid path: ", why, ": ", path));
  };
  if (path.empty()) return absl::InvalidArgumentError("invalid path: must not be empty: \"\"");
  if (path.front() == '/') return invalid("must be relative path");
  if (path.size() > kMaxPathLength)
    return invalid(absl::StrCat("must be less than or equal to ", kMaxPathLength, " characters"));
  for (absl::string_view item : absl::StrSplit(path, '/')) {
    if (item == "..") return invalid("must not contain '..'");
    if (item.size() > kMaxFileNameLength)
      return invalid(absl::StrCat("filenames must be less than or equal to ", kMaxFileNameLength,
                                  " characters"));
  }
  // Upstream checks the raw first element; checking the cleaned one also refuses
  // "./..data", which would land on the writer's own names.
  std::vector<std::string> elems = elementsOf(stdPath);
  if (elems.empty()) return invalid("must name a file");
  if (elems.front().starts_with("..")) return invalid("must not start with '..'");
  return absl::OkStatus();
}

absl::StatusOr<bool> writePayload(
    const std::string& dir, const Payload& payload,
    const std::function<absl::Status(const std::string& tsDir)>& setPerms) {
  const std::string where = absl::StrCat("write payload to ", dir);
  auto fail = [&](const absl::Status& st) { return core::annotate(st, where); };

  std::map<std::string, CleanFile> files;
  std::set<std::string> topLevel;
  for (const auto& [path, file] : payload) {
    RETURN_IF_ERROR(fail(validatePayloadPath(path)));
    CleanFile f{elementsOf(path), &file};
    std::string clean = joinPath(f.elems, f.elems.size());
    topLevel.insert(f.elems.front());
    if (!files.emplace(clean, std::move(f)).second)
      return fail(absl::InvalidArgumentError(absl::StrCat("duplicate path ", clean)));
  }

  Fd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd.valid()) return fail(core::errnoStatus(errno, absl::StrCat("open ", dir)));
  const int dfd = dirFd.get();

  // A crash between creating ..data_tmp and the rename leaves it behind; symlinkat
  // below would fail on it forever.
  if (::unlinkat(dfd, kNewDataDirName, 0) < 0 && errno != ENOENT)
    return fail(core::errnoStatus(errno, absl::StrCat("remove ", dir, "/", kNewDataDirName)));

  // The current version: ..data's target when it is one of ours and present.
  std::string current;
  bool write = true;
  char target[PATH_MAX];
  ssize_t n = ::readlinkat(dfd, kDataDirName, target, sizeof target - 1);
  if (n < 0 && errno != ENOENT)
    return fail(core::errnoStatus(errno, absl::StrCat("read link ", dir, "/", kDataDirName)));
  if (n >= 0) {
    std::string old(target, static_cast<size_t>(n));
    Fd oldFd;
    if (isTimestampDirName(old) && old.find('/') == std::string::npos)
      oldFd = Fd(::openat(dfd, old.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (oldFd.valid()) {
      absl::StatusOr<bool> differs =
          payloadDiffers(oldFd.get(), absl::StrCat(dir, "/", old), files);
      if (!differs.ok()) return fail(differs.status());
      write = *differs;
      current = old;
    } else {
      LOG_WARNING << where << ": " << kDataDirName << " points to \"" << old
                  << "\", not a timestamped directory of this writer; rewriting";
    }
  }

  bool changed = false;
  if (write) {
    absl::StatusOr<std::string> created = newTimestampDir(dfd, dir);
    if (!created.ok()) return fail(created.status());
    const std::string tsName = *created;
    const std::string tsPath = absl::StrCat(dir, "/", tsName);
    auto abandon = [&](const absl::Status& st) {
      removeQuietly(tsPath);
      return fail(st);
    };
    Fd tsFd(::openat(dfd, tsName.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!tsFd.valid()) return abandon(core::errnoStatus(errno, absl::StrCat("open ", tsPath)));
    if (absl::Status st = writeFiles(tsFd.get(), tsPath, files); !st.ok()) return abandon(st);
    if (setPerms) {
      if (absl::Status st = setPerms(tsPath); !st.ok()) return abandon(st);
    }
    // The swap: readers resolving ..data see the old directory or the new one.
    if (::symlinkat(tsName.c_str(), dfd, kNewDataDirName) < 0)
      return abandon(core::errnoStatus(errno, absl::StrCat("symlink ", dir, "/", kNewDataDirName)));
    if (::renameat(dfd, kNewDataDirName, dfd, kDataDirName) < 0) {
      absl::Status st = core::errnoStatus(
          errno, absl::StrCat("rename ", dir, "/", kNewDataDirName, " to ", kDataDirName));
      ::unlinkat(dfd, kNewDataDirName, 0);
      return abandon(st);
    }
    if (::fsync(dfd) < 0) return fail(core::errnoStatus(errno, absl::StrCat("fsync ", dir)));
    VLOG(4) << where << ": wrote " << tsName;
    current = tsName;
    changed = true;
  }

  // createUserVisibleFiles, after the swap so a new key never dangles. Done on every
  // call: a crash after the swap may have left them missing.
  bool linksChanged = false;
  for (const std::string& name : topLevel) {
    struct stat st {};
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    if (errno != ENOENT)
      return fail(core::errnoStatus(errno, absl::StrCat("stat ", dir, "/", name)));
    std::string linkTarget = absl::StrCat(kDataDirName, "/", name);
    if (::symlinkat(linkTarget.c_str(), dfd, name.c_str()) < 0)
      return fail(core::errnoStatus(errno, absl::StrCat("symlink ", dir, "/", name)));
    linksChanged = true;
  }

  // removeUserVisiblePaths, and the timestamped directories of crashed or old writes.
  // Only our own `name -> ..data/name` links are removed; nothing is followed.
  absl::StatusOr<std::vector<std::string>> names = listNames(dfd, dir);
  if (!names.ok()) return fail(names.status());
  std::vector<std::string> staleDirs;
  for (const std::string& name : *names) {
    if (isTimestampDirName(name)) {
      if (name != current) staleDirs.push_back(name);
      continue;
    }
    if (name.starts_with("..") || topLevel.count(name)) continue;
    char buf[PATH_MAX];
    ssize_t len = ::readlinkat(dfd, name.c_str(), buf, sizeof buf - 1);
    if (len < 0 ||
        std::string_view(buf, static_cast<size_t>(len)) != absl::StrCat(kDataDirName, "/", name))
      continue;
    if (::unlinkat(dfd, name.c_str(), 0) < 0 && errno != ENOENT)
      return fail(core::errnoStatus(errno, absl::StrCat("remove ", dir, "/", name)));
    linksChanged = true;
  }
  if (linksChanged) {
    if (::fsync(dfd) < 0) return fail(core::errnoStatus(errno, absl::StrCat("fsync ", dir)));
    changed = true;
  }
  // The content is in place: failing to delete an old directory is only logged and
  // retried on the next write.
  for (const std::string& name : staleDirs) {
    struct stat st {};
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      removeQuietly(absl::StrCat(dir, "/", name));
  }
  return changed;
}

}  // namespace volumes

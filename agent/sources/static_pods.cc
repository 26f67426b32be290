#include "agent/sources/static_pods.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <map>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/api/pod_decode.h"
#include "core/log.h"
#include "core/status.h"
#include "core/yaml_json.h"

namespace agent::sources {
namespace {

// The kubelet refuses config larger than this (maxConfigLength); so do we.
constexpr size_t kMaxManifestBytes = 10 << 20;

absl::StatusOr<std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return core::errnoStatus(errno, absl::StrCat("open ", path));
  std::string data;
  char buf[16 * 1024];
  absl::Status status;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = core::errnoStatus(errno, absl::StrCat("read ", path));
      break;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxManifestBytes) {
      status = absl::InvalidArgumentError(
          absl::StrCat(path, ": manifest larger than ", kMaxManifestBytes, " bytes"));
      break;
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  return data;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

absl::StatusOr<api::Pod> convert(std::string_view text, const std::string& path,
                                 const std::string& nodeName, std::string* manifestJson) {
  ASSIGN_OR_RETURN(std::vector<nlohmann::json> docs, core::parseYamlDocuments(text, path));
  if (docs.empty()) return absl::InvalidArgumentError("empty manifest: expected one Pod");
  if (docs.size() > 1) {
    return absl::InvalidArgumentError("multiple YAML documents; one Pod per file");
  }
  const nlohmann::json& manifest = docs.front();
  if (!manifest.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a Pod object, got ", core::describeJson(manifest)));
  }
  // The kubelet's decoder needs both to know what the object is.
  for (const char* member : {"apiVersion", "kind"}) {
    if (!manifest.contains(member) || manifest[member].is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(member, ": Required value"));
    }
  }
  ASSIGN_OR_RETURN(api::Pod pod, api::decodePod(manifest));
  if (pod.metadata.name.empty()) {
    return absl::InvalidArgumentError("metadata.name: Required value");
  }
  std::string canonical = manifest.dump();
  if (pod.metadata.uid.empty()) pod.metadata.uid = staticPodUid(canonical, nodeName, path);
  if (manifestJson) *manifestJson = std::move(canonical);
  pod.metadata.name = absl::StrCat(pod.metadata.name, "-", lower(nodeName));
  pod.spec.nodeName = nodeName;
  api::applyPodDefaults(pod);  // Sets namespace "default" when none is given.
  pod.metadata.annotations[std::string(kConfigHashAnnotation)] = pod.metadata.uid;
  pod.metadata.annotations[std::string(kConfigSourceAnnotation)] = std::string(kFileSource);
  RETURN_IF_ERROR(api::validatePod(pod));
  return pod;
}

}  // namespace

std::string staticPodUid(std::string_view canonicalManifest, std::string_view nodeName,
                         std::string_view path) {
  // 128-bit FNV-1a.
  unsigned __int128 hash =
      (static_cast<unsigned __int128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
  const unsigned __int128 prime = (static_cast<unsigned __int128>(1) << 88) | 0x13bULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      hash ^= c;
      hash *= prime;
    }
  };
  feed(canonicalManifest);
  feed("host:");
  feed(nodeName);
  feed("file:");
  feed(path);
  return absl::StrFormat("%016x%016x", static_cast<uint64_t>(hash >> 64),
                         static_cast<uint64_t>(hash));
}

absl::StatusOr<api::Pod> staticPodFromManifest(std::string_view text, const std::string& path,
                                               const std::string& nodeName,
                                               std::string* manifestJson) {
  absl::StatusOr<api::Pod> pod = convert(text, path, nodeName, manifestJson);
  if (pod.ok()) return pod;
  // YAML errors already start with "<path>:<line>:<column>"; the rest get the path.
  if (absl::StartsWith(pod.status().message(), absl::StrCat(path, ":"))) return pod.status();
  return core::annotate(pod.status(), path);
}

absl::StatusOr<api::Pod> loadManifestFile(const std::string& path, const std::string& nodeName,
                                          std::string* manifestJson) {
  VLOG(3) << "Reading manifest file " << path;
  ASSIGN_OR_RETURN(std::string text, readFile(path));
  return staticPodFromManifest(text, path, nodeName, manifestJson);
}

ManifestScan scanManifestDir(const std::string& path, const std::string& nodeName) {
  namespace fs = std::filesystem;
  ManifestScan scan;
  std::error_code ec;
  fs::file_status top = fs::status(path, ec);
  if (top.type() == fs::file_type::not_found) {
    scan.errors.push_back({path, absl::StrCat(path, ": manifest path does not exist")});
    return scan;
  }
  if (ec) {
    scan.errors.push_back({path, absl::StrCat(path, ": ", ec.message())});
    return scan;
  }
  std::vector<std::string> files;
  if (fs::is_regular_file(top)) {
    files.push_back(path);
  } else if (fs::is_directory(top)) {
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      files.push_back(it->path().string());
    }
    if (ec) {
      scan.errors.push_back(
          {path, absl::StrCat(path, ": list manifest directory: ", ec.message())});
      return scan;
    }
    std::sort(files.begin(), files.end());
  } else {
    scan.errors.push_back({path, absl::StrCat(path, ": not a directory or a regular file")});
    return scan;
  }

  std::map<std::string, std::string> fileByPod;  // "namespace/name" -> first file.
  for (const std::string& file : files) {
    fs::file_status st = fs::status(file, ec);  // Follows symlinks, as the kubelet does.
    if (ec) {
      scan.errors.push_back({file, absl::StrCat(file, ": ", ec.message())});
      continue;
    }
    if (fs::is_directory(st)) {
      VLOG(2) << "Not recursing into manifest path " << file;
      continue;
    }
    if (!fs::is_regular_file(st)) {
      scan.errors.push_back({file, absl::StrCat(file, ": not a regular file")});
      continue;
    }
    std::string json;
    absl::StatusOr<api::Pod> pod = loadManifestFile(file, nodeName, &json);
    if (!pod.ok()) {
      scan.errors.push_back({file, std::string(pod.status().message())});
      continue;
    }
    std::string fullName = absl::StrCat(pod->metadata.namespace_, "/", pod->metadata.name);
    auto [it, inserted] = fileByPod.emplace(fullName, file);
    if (!inserted) {
      scan.errors.push_back({file, absl::StrCat(file, ": duplicate pod \"", fullName,
                                                "\": already defined by ", it->second)});
      continue;
    }
    scan.pods.push_back({std::make_shared<const api::Pod>(std::move(*pod)), file,
                         std::make_shared<const std::string>(std::move(json))});
  }
  return scan;
}

void setConfigSeen(api::Pod& pod, std::chrono::system_clock::time_point now) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string text = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac != 0) {
    // RFC3339Nano drops trailing zeros of the fraction.
    std::string digits = absl::StrFormat("%09d", frac);
    digits.erase(digits.find_last_not_of('0') + 1);
    absl::StrAppend(&text, ".", digits);
  }
  text += "Z";
  pod.metadata.annotations[std::string(kConfigSeenAnnotation)] = text;
}

}  // namespace agent::sources
